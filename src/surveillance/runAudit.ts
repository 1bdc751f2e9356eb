/**
 * Surveillance runs in the audit trail: the record of each ended run (succeeded or failed: its day, rules,
 * counts, load issues and the digest of the worklist it produced), the check of a run against its record, and
 * the auditor's question "who was due on that day, and when were they scanned", answered from the records (the
 * hash-chained, append-only trail) rather than from the run history, which the service updates.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/auditLog.ts';
import type { Db } from '../store/db.ts';
import { type RunCounts, type RunRow, type RunStore, type WorklistRow, worklistRowOf } from './runStore.ts';
import type { LoadIssues } from './types.ts';

/** The worklist's columns, in the order the digest hashes them (every column but the run's id). */
const DIGEST_COLUMNS = [
  'patient_id',
  'rule',
  'change',
  'due_date',
  'overdue_from',
  'days_overdue',
  'cumulative_mg',
  'lower_bound',
  'last_study',
  'summary',
  'task_ref',
] as const;

/** A worklist entry as audit records before the digest carried it. */
interface LegacyEntry {
  patientId: string;
  rule: string;
  change: string;
  dueDate?: string | null;
  lastStudy?: string | null;
  task?: string;
}

/** A worklist as the audit trail records it (worklistDigest, below). */
export interface WorklistDigest {
  entries: number;
  sha256: string;
}

/** A run against its audit record (verifyRun): its worklist, and what the run history says of it. */
export interface WorklistCheck {
  runId: string;
  ok: boolean;
  audited?: WorklistDigest;
  now: WorklistDigest;
  /** Where the run history no longer says what the record does (its day, rules, status, counts). */
  mismatches: string[];
}

/** What the audit record of a run holds (the `surveillance-run` record's summary). */
export interface AuditedRun {
  /** Absent in records made before failed runs were recorded: those are all of succeeded runs. */
  status?: 'succeeded' | 'failed';
  error?: string | null;
  asOf: string;
  mode: string;
  fhirBase: string;
  rulesHash: string;
  transactionTime: string | null;
  /** Patients in the run's cohort (absent in records made before it was recorded). */
  total?: number | null;
  counts: Partial<RunCounts>;
  loadIssues: LoadIssues;
  worklist: WorklistDigest | LegacyEntry[];
}

/**
 * Records an ended run in the audit trail, once (a finisher retried after a crash finds it recorded). A failed
 * run is recorded too, with its reason and what it did before it stopped: an auditor asking about a day must see
 * that a run was attempted and why it gave no worklist.
 */
export async function recordRun(
  store: RunStore,
  audit: AuditLog,
  run: RunRow,
  end: { status: 'succeeded' | 'failed'; counts: Partial<RunCounts>; finishedAt: Date; error?: string | null },
): Promise<void> {
  const already = await store.db.query('select 1 from surveillance_run where run_id = $1', [run.runId]);
  if (already.length) return;
  // The worklist's digest, not a copy of it: its rows are append-only (migration 008), and 70,000 entries in one
  // record were the run's memory peak at 100,000 patients. verifyRun recomputes it.
  const worklist = await worklistDigest(store.db, run.runId);
  const summary: AuditedRun = {
    status: end.status,
    ...(end.status === 'failed' ? { error: end.error ?? null } : {}),
    asOf: run.asOf,
    mode: run.mode,
    fhirBase: run.fhirBase,
    rulesHash: run.rulesHash,
    transactionTime: run.transactionTime,
    total: run.total,
    counts: end.counts,
    loadIssues: run.loadIssues,
    worklist,
  };
  await audit.recordSurveillanceRun({
    recordedAt: end.finishedAt.toISOString(),
    runId: run.runId,
    startedAt: run.startedAt ?? run.createdAt,
    finishedAt: end.finishedAt.toISOString(),
    summary: summary as unknown as Record<string, unknown>,
  });
}

/** Records an ended run as the run history holds it (its status, counts, end and reason); nothing for one in progress. */
async function recordFromHistory(store: RunStore, audit: AuditLog, run: RunRow | undefined): Promise<void> {
  if (!run || (run.status !== 'succeeded' && run.status !== 'failed')) return;
  await recordRun(store, audit, run, {
    status: run.status,
    counts: run.counts,
    finishedAt: run.finishedAt ? new Date(run.finishedAt) : new Date(),
    error: run.error,
  });
}

/** Records a run that has just failed (RunStore.fail: cancelled, abandoned, its cohort unreadable). */
export async function recordFailedRun(store: RunStore, audit: AuditLog | undefined, runId: string): Promise<void> {
  const run = await store.getRun(runId);
  if (audit && run?.status === 'failed') await recordFromHistory(store, audit, run);
}

/**
 * Records the ended runs that have no record yet: a process that died between ending a run and recording it, a
 * cancel whose record could not be written, runs that failed before failed runs were recorded. Run at start.
 */
export async function recordUnrecordedRuns(store: RunStore, audit: AuditLog): Promise<string[]> {
  const rows = await store.db.query<{ run_id: string }>(
    `select r.run_id from surveillance_runs r
      where r.status in ('succeeded', 'failed') and not exists (select 1 from surveillance_run s where s.run_id = r.run_id)
      order by r.seq`,
  );
  for (const { run_id } of rows) await recordFromHistory(store, audit, await store.getRun(run_id));
  return rows.map((r) => r.run_id);
}

/**
 * Whether a run is still what its audit record says: the worklist's digest recomputed from its rows against the
 * one in the hash-chained record (whose own integrity `audit verify` checks), and the run history's day, rules,
 * status and counts against the record's. `audited` is absent for a run not (yet) recorded: one in progress.
 */
export async function verifyRun(store: RunStore, runId: string): Promise<WorklistCheck> {
  const [row] = await store.db.query<{ payload: { summary?: AuditedRun } }>(
    'select l.payload from surveillance_run s join audit_log l on l.seq = s.seq where s.run_id = $1',
    [runId],
  );
  const summary = row?.payload.summary;
  const recorded = summary?.worklist;
  // Runs audited before the digest carry the worklist itself: compared entry by entry, answered as digests.
  const check = Array.isArray(recorded)
    ? await verifyLegacyWorklist(store.db, runId, recorded)
    : await verifyDigest(store.db, runId, recorded);
  const mismatches = summary ? historyMismatches(summary, await store.getRun(runId)) : [];
  return { ...check, ok: check.ok && mismatches.length === 0, mismatches };
}

/** What the run history says differently from the audit record. */
function historyMismatches(audited: AuditedRun, run: RunRow | undefined): string[] {
  if (!run) return ['the run is no longer in the run history'];
  const out: string[] = [];
  // A field the record does not hold (records of an earlier release) is not compared.
  const field = (name: string, recorded: unknown, now: unknown) => {
    if (recorded !== undefined && JSON.stringify(recorded) !== JSON.stringify(now ?? null))
      out.push(`${name}: recorded ${JSON.stringify(recorded)}, now ${JSON.stringify(now ?? null)}`);
  };
  field('asOf', audited.asOf, run.asOf);
  field('status', audited.status ?? 'succeeded', run.status);
  field('rulesHash', audited.rulesHash, run.rulesHash);
  field('mode', audited.mode, run.mode);
  field('fhirBase', audited.fhirBase, run.fhirBase);
  field('transactionTime', audited.transactionTime, run.transactionTime);
  field('total', audited.total, run.total);
  // A failed run's reason: what an auditor reads as why there was no worklist that day.
  if (audited.status === 'failed') field('error', audited.error, run.error);
  field('loadIssues.total', audited.loadIssues?.total, run.loadIssues.total);
  for (const k of Object.keys(audited.counts ?? {}) as Array<keyof RunCounts>)
    field(`counts.${k}`, audited.counts[k], run.counts[k]);
  return out;
}

async function verifyDigest(db: Db, runId: string, audited: WorklistDigest | undefined) {
  const now = await worklistDigest(db, runId);
  return {
    runId,
    ok: !!audited && audited.entries === now.entries && audited.sha256 === now.sha256,
    ...(audited ? { audited } : {}),
    now,
  };
}

/** A record that holds the worklist itself (before the digest): both sides as digests of the same lines. */
async function verifyLegacyWorklist(db: Db, runId: string, recorded: LegacyEntry[]) {
  const rows = await db.query<{
    patient_id: string;
    rule: string;
    change: string;
    due_date: string | null;
    last_study: string | null;
    task_ref: string | null;
  }>('select patient_id, rule, change, due_date, last_study, task_ref from worklist_entries where run_id = $1', [
    runId,
  ]);
  const lines = (xs: unknown[][]) => xs.map((x) => JSON.stringify(x)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const digest = (l: string[]) => ({
    entries: l.length,
    sha256: createHash('sha256').update(l.join('\n')).digest('hex'),
  });
  const audited = digest(
    lines(recorded.map((e) => [e.patientId, e.rule, e.change, e.dueDate ?? null, e.lastStudy ?? null, e.task ?? null])),
  );
  const now = digest(lines(rows.map((r) => [r.patient_id, r.rule, r.change, r.due_date, r.last_study, r.task_ref])));
  return { runId, ok: audited.sha256 === now.sha256, audited, now };
}

/**
 * The run's worklist as the audit trail records it: the number of entries and the SHA-256 of one line per entry
 * (every column as a JSON array, DIGEST_COLUMNS), ordered by patient, rule, change, read a page at a time. The
 * rows are append-only (migrations 008, 009): recomputed later, the digest is the same unless they were altered.
 */
export async function worklistDigest(db: Db, runId: string, pageSize = 5000): Promise<WorklistDigest> {
  const hash = createHash('sha256');
  let entries = 0;
  let after: [string, string, string, string] = ['', '', '', '-infinity'];
  // Byte order (collate "C"), not the database's locale: a restore under another locale must not change it. The
  // due date last (migration 013: two resolved entries of a rule may differ by it alone), so the runs recorded
  // before it keep their order and their digests.
  for (;;) {
    const rows = await db.query<Record<(typeof DIGEST_COLUMNS)[number] | 'task_error' | 'due_key', unknown>>(
      `select ${DIGEST_COLUMNS.join(', ')}, task_error, coalesce(due_date, 'infinity'::date)::text as due_key
         from worklist_entries
        where run_id = $1
          and (patient_id collate "C", rule collate "C", change collate "C", coalesce(due_date, 'infinity'::date))
            > ($2 collate "C", $3 collate "C", $4 collate "C", $5::date)
        order by patient_id collate "C", rule collate "C", change collate "C", coalesce(due_date, 'infinity'::date)
        limit $6`,
      [runId, ...after, pageSize],
    );
    for (const r of rows) {
      const cells = DIGEST_COLUMNS.map((c) => r[c] ?? null);
      // Why an entry's Task was not written (migration 010) is part of what the run produced; a line gains the
      // cell only when there is one, so the digests of runs recorded before it stay as they were.
      if (r.task_error != null) cells.push(r.task_error);
      hash.update(`${JSON.stringify(cells)}\n`);
    }
    entries += rows.length;
    if (rows.length < pageSize) return { entries, sha256: hash.digest('hex') };
    const last = rows[rows.length - 1]!;
    after = [last.patient_id as string, last.rule as string, last.change as string, last.due_key as string];
  }
}

/** An entry due on the day asked, and the first WB-MRI after it that a later run saw (null: none yet). */
export interface DueEntry extends WorklistRow {
  scannedOn: string | null;
}

/**
 * Where a page of "who was due" starts: the audit trail as the first page read it (its last record: a run, or a
 * scan, recorded meanwhile does not change the answer half-way), and the last entry given, by the answer's order
 * (due date, none last; patient; rule; an entry without a due date after one due on 9999-12-31).
 */
export interface DuePosition {
  upToSeq: number;
  after: [dueKey: string, patientId: string, rule: string, noDueDate: boolean];
}

/** Who was due on a day: the audited runs the answer comes from, and their open entries. */
export interface DueOn {
  /** The audited runs read, oldest first: every run of that day, or the last run before it. */
  runs: RunRow[];
  /** The day those runs are for (the day asked, or the last day before it with a run). */
  runDay: string | null;
  entries: DueEntry[];
  /** The entries in the whole answer (every page); -1 when not asked for. */
  total: number;
  /** Where the next page starts; null on the last. */
  next: DuePosition | null;
}

const SUCCEEDED = `coalesce(summary->>'status', 'succeeded') = 'succeeded'`;
/** The day's open entries, each as the last run that had it open left it (its Task written by a later run, say). */
const OPEN_ENTRIES = `
  select distinct on (w.patient_id, w.rule, coalesce(w.due_date, 'infinity'::date)) w.*,
         coalesce(w.due_date, '9999-12-31'::date)::text as due_key, w.due_date is null as no_due_date
    from worklist_entries w join surveillance_run a on a.run_id = w.run_id
   where a.run_id = any($1::text[]) and w.change <> 'resolved'
   order by w.patient_id, w.rule, coalesce(w.due_date, 'infinity'::date), a.seq desc, w.change collate "C" desc`;
/** The answer's order, a total one: keyset pages neither skip nor repeat an entry. */
const DUE_ORDER = `o.due_key collate "C", o.patient_id collate "C", o.rule collate "C", o.no_due_date`;

/**
 * Who was due on `day`, from the audit records: on a day with runs, every entry open in any of them (a patient
 * due that morning and scanned that afternoon was due that day: a later run the same day does not take them
 * off); on a day without, the last run before it. Each with when they were scanned: the earliest WB-MRI after
 * the entry's last one that a run on or after the day saw. Failed runs produced no worklist and are not read.
 * In pages of `limit` entries (all at once without), ordered by due date (none last), patient and rule, each
 * page read by the database alone: a cohort's 70,000 entries are never held together.
 */
export async function dueOn(
  store: RunStore,
  day: string,
  o: { limit?: number; from?: DuePosition; total?: boolean } = {},
): Promise<DueOn> {
  const db = store.db;
  // The trail as far as the first page read it: everything below is read up to this record.
  const upToSeq =
    o.from?.upToSeq ??
    Number((await db.query<{ seq: string | null }>('select max(seq) as seq from surveillance_run'))[0]?.seq ?? 0);
  const [latest] = await db.query<{ as_of: string | null }>(
    `select max(summary->>'asOf') as as_of from surveillance_run
      where ${SUCCEEDED} and summary->>'asOf' <= $1 and seq <= $2::bigint`,
    [day, upToSeq],
  );
  const runDay = latest?.as_of ?? null;
  if (!runDay) return { runs: [], runDay: null, entries: [], total: 0, next: null };
  const dayRuns = await db.query<{ run_id: string }>(
    `select run_id from surveillance_run
      where ${SUCCEEDED} and summary->>'asOf' = $1 and seq <= $2::bigint order by seq`,
    [runDay, upToSeq],
  );
  const ids = (runDay === day ? dayRuns : dayRuns.slice(-1)).map((r) => r.run_id);
  const after = o.from?.after ?? null;
  const rows = await db.query<Record<string, unknown>>(
    `select * from (${OPEN_ENTRIES}) o
      where $2::text is null
         or (${DUE_ORDER}) > ($2::text collate "C", $3::text collate "C", $4::text collate "C", $5::boolean)
      order by ${DUE_ORDER}
      limit $6`,
    [ids, ...(after ?? [null, null, null, null]), o.limit === undefined ? null : o.limit + 1],
  );
  // Not for a CSV, which reads every page anyway (-1 then).
  const [count] =
    o.total === false
      ? [{ n: '-1' }]
      : await db.query<{ n: string }>(`select count(*) as n from (${OPEN_ENTRIES}) o`, [ids]);
  const page = (o.limit === undefined ? rows : rows.slice(0, o.limit)).map((r) => ({
    entry: worklistRowOf(r),
    dueKey: r.due_key as string,
    noDueDate: r.no_due_date === true,
  }));
  // The scans of this page's patients, seen by any run on or after the day (read by the results' primary key).
  const studies = await db.query<{ patient_id: string; last_study: string }>(
    `select distinct r.patient_id, r.last_study::text as last_study from surveillance_results r
       join surveillance_run a on a.run_id = r.run_id
      where r.patient_id = any($1::text[]) and a.summary->>'asOf' >= $2 and a.seq <= $3::bigint
        and r.last_study is not null`,
    [[...new Set(page.map((p) => p.entry.patientId))], day, upToSeq],
  );
  const byPatient = new Map<string, string[]>();
  for (const s of studies) {
    const list = byPatient.get(s.patient_id);
    if (list) list.push(s.last_study);
    else byPatient.set(s.patient_id, [s.last_study]);
  }
  const runs = (await Promise.all(ids.map((id) => store.getRun(id)))).filter((r): r is RunRow => !!r);
  const last = page.at(-1);
  return {
    runs,
    runDay,
    total: Number(count?.n ?? 0),
    entries: page.map(({ entry: e }) => {
      const later = (byPatient.get(e.patientId) ?? []).filter((d) => d > (e.lastStudy ?? '')).sort();
      return { ...e, scannedOn: later[0] ?? null };
    }),
    next:
      o.limit !== undefined && rows.length > o.limit && last
        ? { upToSeq, after: [last.dueKey, last.entry.patientId, last.entry.rule, last.noDueDate] }
        : null,
  };
}
