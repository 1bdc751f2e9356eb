/**
 * The run history, batches, per-patient results and the worklist, in our own tables (migration 003): the job
 * queue deletes finished jobs, and an auditor asks about runs long after. Every write is idempotent, so a
 * batch retried after a crash (or run by a second instance) changes nothing it already wrote.
 */
import { OsteoWatchError } from '../errors.ts';
import { isUrgent, URGENT_RULES, workFamilyOf } from '../screening/worklist.ts';
import type { Db, Queryable } from '../store/db.ts';
import type {
  LoadIssues,
  RunCounts,
  RunError,
  RunStatus,
  RunTrigger,
  SourceMode,
  WorklistChange,
  WorklistEntry,
  WorklistRule,
} from './types.ts';

export type { RunCounts, RunStatus, RunTrigger, SourceMode } from './types.ts';

export interface RunRow {
  runId: string;
  trigger: RunTrigger;
  mode: SourceMode;
  fhirBase: string;
  asOf: string;
  status: RunStatus;
  rulesHash: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  transactionTime: string | null;
  exportStatusUrl: string | null;
  previousRunId: string | null;
  total: number | null;
  batches: number | null;
  done: number;
  counts: Partial<RunCounts>;
  errors: RunError[];
  loadIssues: LoadIssues;
  error: string | null;
}

export interface ResultRow {
  patientId: string;
  decision: string;
  cumulativeMg: number | null;
  lowerBound: boolean;
  /** The patient's last WB-MRI as this run saw it. */
  lastStudy?: string | null;
  error?: string;
}

export interface WorklistRow extends WorklistEntry {
  runId: string;
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());

const RUN_COLUMNS = `r.run_id, r.trigger, r.mode, r.fhir_base, r.as_of, r.status, r.rules_hash, r.created_at, r.started_at,
  r.finished_at, r.transaction_time, r.export_status_url, r.previous_run_id, r.total, r.batches, r.counts, r.errors, r.load_issues, r.error,
  -- Patients of the completed batches: a batch's results commit with its done mark, so this equals the results
  -- stored, read from a few hundred batch rows rather than by counting every result on each call.
  (select coalesce(sum(cardinality(b.patient_ids)), 0) from surveillance_batches b
    where b.run_id = r.run_id and b.done_at is not null) as done`;

const JSONB = new Set(['counts', 'errors', 'load_issues']);

/** A run not ended: queued or in progress (migration 007 allows one at a time). */
export const ACTIVE_STATUSES: RunStatus[] = ['queued', 'loading', 'evaluating', 'finishing'];

function runOf(r: Record<string, unknown>): RunRow {
  return {
    runId: r.run_id as string,
    trigger: r.trigger as RunTrigger,
    mode: r.mode as SourceMode,
    fhirBase: r.fhir_base as string,
    asOf: r.as_of as string,
    status: r.status as RunStatus,
    rulesHash: r.rules_hash as string,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    transactionTime: iso(r.transaction_time),
    exportStatusUrl: (r.export_status_url as string | null) ?? null,
    previousRunId: (r.previous_run_id as string | null) ?? null,
    total: (r.total as number | null) ?? null,
    batches: (r.batches as number | null) ?? null,
    done: Number(r.done ?? 0),
    counts: (r.counts as Partial<RunCounts>) ?? {},
    errors: (r.errors as RunRow['errors']) ?? [],
    loadIssues: (r.load_issues as LoadIssues | null) ?? { total: 0, items: [] },
    error: (r.error as string | null) ?? null,
  };
}

export function worklistRowOf(r: Record<string, unknown>): WorklistRow {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    runId: r.run_id as string,
    patientId: r.patient_id as string,
    rule: r.rule as WorklistRule,
    change: r.change as WorklistChange,
    dueDate: (r.due_date as string | null) ?? null,
    overdueFrom: (r.overdue_from as string | null) ?? null,
    daysOverdue: num(r.days_overdue),
    cumulativeMg: num(r.cumulative_mg),
    lowerBound: !!r.lower_bound,
    lastStudy: (r.last_study as string | null) ?? null,
    summary: r.summary as string,
    taskRef: (r.task_ref as string | null) ?? null,
    taskError: (r.task_error as string | null) ?? null,
  };
}

export interface WorklistQuery {
  /** A run's id; the latest succeeded run by default. */
  runId?: string;
  rules?: WorklistRule[];
  changes?: WorklistChange[];
  /** Whether to count the matching entries (default: yes; `total` is -1 when not). */
  total?: false;
  /** Patient id prefix, case aside. */
  patient?: string;
  limit: number;
  /** Keyset cursor from the previous page (opaque). */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  next?: string;
}

/**
 * The worklist's order, the clinic team's: urgent work first (an overdue follow-up, osteonecrosis found: their
 * Tasks are `urgent`), then the routine, then what was resolved since the last run; within each, by due date
 * (none last), patient, rule, change. Keyset paging follows the same tuple, read through the index of migration
 * 014, whose expression is this one word for word: a change here needs a migration there (a test checks the plan).
 */
const URGENCY = `(case when change = 'resolved' then 2 when rule in (${URGENT_RULES.map((r) => `'${r}'`).join(', ')}) then 0 else 1 end)`;
const urgencyOf = (r: Pick<WorklistRow, 'rule' | 'change'>) => (r.change === 'resolved' ? 2 : isUrgent(r.rule) ? 0 : 1);

type Cursor = [number, string, string, string, string];
const encodeCursor = (r: WorklistRow) =>
  Buffer.from(JSON.stringify([urgencyOf(r), r.dueDate ?? '9999-12-31', r.patientId, r.rule, r.change])).toString(
    'base64url',
  );
function decodeCursor(c: string): Cursor | undefined {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    // Each value as the query will cast it (an urgency class, a date): a forged cursor is a 400, not a SQL error.
    return Array.isArray(v) &&
      v.length === 5 &&
      [0, 1, 2].includes(v[0]) &&
      v.slice(1).every((x) => typeof x === 'string') &&
      /^\d{4}-\d{2}-\d{2}$/.test(v[1]) &&
      !Number.isNaN(Date.parse(v[1]))
      ? (v as Cursor)
      : undefined;
  } catch {
    return undefined;
  }
}

export class RunStore {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Creates the run unless one with this id exists (idempotent enqueue: true when this call created it) or another
   * run is in progress (one at a time: migration 007's index decides between racing instances).
   */
  async createRun(r: {
    runId: string;
    trigger: RunTrigger;
    mode: SourceMode;
    fhirBase: string;
    asOf: string;
    rulesHash: string;
    now: Date;
  }): Promise<boolean> {
    const rows = await this.db.query(
      `insert into surveillance_runs (run_id, trigger, mode, fhir_base, as_of, status, rules_hash, created_at)
       values ($1, $2, $3, $4, $5, 'queued', $6, $7) on conflict do nothing returning run_id`,
      [r.runId, r.trigger, r.mode, r.fhirBase, r.asOf, r.rulesHash, r.now.toISOString()],
    );
    return rows.length === 1;
  }

  async getRun(runId: string): Promise<RunRow | undefined> {
    const rows = await this.db.query(`select ${RUN_COLUMNS} from surveillance_runs r where r.run_id = $1`, [runId]);
    return rows[0] ? runOf(rows[0]) : undefined;
  }

  /** A run's status alone (read before each Task a batch writes, to stop at a cancellation). */
  async statusOf(runId: string): Promise<RunStatus | undefined> {
    const rows = await this.db.query<{ status: RunStatus }>('select status from surveillance_runs where run_id = $1', [
      runId,
    ]);
    return rows[0]?.status;
  }

  /** The history, newest first; `before`: a run id, for the next page. */
  async listRuns(limit = 20, before?: string): Promise<RunRow[]> {
    const rows = await this.db.query(
      `select ${RUN_COLUMNS} from surveillance_runs r where ($2::text is null or r.seq < (select seq from surveillance_runs where run_id = $2))
       order by r.seq desc limit $1`,
      [limit, before ?? null],
    );
    return rows.map(runOf);
  }

  /**
   * Ends a run in progress as failed, with the reason and the counts of what it did before (batches completed,
   * their entries and Tasks). False when it had already ended.
   */
  async fail(runId: string, error: string, now: Date, from: RunStatus[] = ACTIVE_STATUSES): Promise<boolean> {
    // The status first: from then on no batch stores anything (completeBatch reads it under the run's row lock,
    // and a batch committing meanwhile is waited for), so the counts taken next are the run's last.
    if (!(await this.update(runId, { status: 'failed', finishedAt: now, error }, from))) return false;
    const counts = await this.countsOf(runId).catch(() => undefined);
    if (counts) await this.update(runId, { counts }, ['failed']);
    return true;
  }

  /**
   * Ends a run in progress at an operator's word (its instance gone for good, its settings changed; as the one
   * run in progress it refuses every other), saying who cancelled it. Its jobs find it ended and stop.
   */
  cancel(runId: string, by: string, now: Date): Promise<boolean> {
    // Finishing too (a Task server that hangs, an instance gone with other settings): the finishing step reads
    // the status before each page and writes nothing more once it has changed (insertEntriesWhile).
    return this.fail(runId, `cancelled by ${by}`, now);
  }

  /** The run in progress (at most one: migration 007), if any. */
  async activeRun(): Promise<RunRow | undefined> {
    return (await this.unfinishedRuns())[0];
  }

  /** The as-of day of the latest succeeded run: the worklist's day, which a new run may not go back before. */
  async lastAsOf(): Promise<string | undefined> {
    const rows = await this.db.query<{ as_of: string }>(
      `select as_of from surveillance_runs where status = 'succeeded' order by seq desc limit 1`,
    );
    return rows[0]?.as_of;
  }

  /** Runs not finished (queued or in progress): what a starting instance resumes. */
  async unfinishedRuns(): Promise<RunRow[]> {
    const rows = await this.db.query(
      `select ${RUN_COLUMNS} from surveillance_runs r where r.status = any($1::text[]) order by r.seq`,
      [ACTIVE_STATUSES],
    );
    return rows.map(runOf);
  }

  async update(
    runId: string,
    patch: Partial<{
      status: RunStatus;
      startedAt: Date;
      finishedAt: Date;
      transactionTime: string;
      exportStatusUrl: string | null;
      previousRunId: string | null;
      total: number;
      batches: number;
      counts: Partial<RunCounts>;
      errors: RunRow['errors'];
      loadIssues: LoadIssues;
      error: string | null;
    }>,
    onlyFrom?: RunStatus[],
  ): Promise<boolean> {
    const cols: Record<string, unknown> = {
      status: patch.status,
      started_at: patch.startedAt?.toISOString(),
      finished_at: patch.finishedAt?.toISOString(),
      transaction_time: patch.transactionTime,
      export_status_url: patch.exportStatusUrl,
      previous_run_id: patch.previousRunId,
      total: patch.total,
      batches: patch.batches,
      counts: patch.counts && JSON.stringify(patch.counts),
      errors: patch.errors && JSON.stringify(patch.errors),
      load_issues: patch.loadIssues && JSON.stringify(patch.loadIssues),
      error: patch.error,
    };
    const set: string[] = [];
    const values: unknown[] = [runId];
    for (const [k, v] of Object.entries(cols)) {
      if (v === undefined) continue;
      values.push(v);
      set.push(`${k} = $${values.length}${JSONB.has(k) ? '::jsonb' : ''}`);
    }
    if (!set.length) return true;
    let where = 'run_id = $1';
    if (onlyFrom) {
      values.push(onlyFrom);
      where += ` and status = any($${values.length}::text[])`;
    }
    const rows = await this.db.query(
      `update surveillance_runs set ${set.join(', ')} where ${where} returning run_id`,
      values,
    );
    return rows.length === 1;
  }

  /**
   * The run's batches, numbered by their place in the list; an empty one is not saved (a batch cut by hash can be
   * empty). A retried load writes the same ones again: nothing changes. Returns how many were saved.
   */
  async saveBatches(runId: string, batches: string[][]): Promise<number> {
    const numbered = batches.map((ids, no) => ({ no, ids })).filter((b) => b.ids.length);
    for (let i = 0; i < numbered.length; i += 200) {
      await this.db.query(
        `insert into surveillance_batches (run_id, batch_no, patient_ids)
         select $1, b.no, array(select jsonb_array_elements_text(b.ids)) from jsonb_to_recordset($2::jsonb) as b(no int, ids jsonb)
         on conflict do nothing`,
        [runId, JSON.stringify(numbered.slice(i, i + 200))],
      );
    }
    return numbered.length;
  }

  async batch(runId: string, batchNo: number): Promise<{ patientIds: string[]; done: boolean } | undefined> {
    const rows = await this.db.query<{ patient_ids: string[]; done_at: unknown }>(
      'select patient_ids, done_at from surveillance_batches where run_id = $1 and batch_no = $2',
      [runId, batchNo],
    );
    return rows[0] && { patientIds: rows[0].patient_ids, done: rows[0].done_at !== null };
  }

  async pendingBatches(runId: string): Promise<number[]> {
    const rows = await this.db.query<{ batch_no: number }>(
      'select batch_no from surveillance_batches where run_id = $1 and done_at is null order by batch_no',
      [runId],
    );
    return rows.map((r) => r.batch_no);
  }

  /** Patients of this run already evaluated (a batch resumed after a crash skips them). */
  async evaluated(runId: string, patientIds: string[]): Promise<Set<string>> {
    const rows = await this.db.query<{ patient_id: string }>(
      'select patient_id from surveillance_results where run_id = $1 and patient_id = any($2::text[])',
      [runId, patientIds],
    );
    return new Set(rows.map((r) => r.patient_id));
  }

  /**
   * One batch's results and worklist entries, and the batch marked done, in one transaction: a crash leaves
   * either all of it or none. Rows already there (a second instance got there first) are left as they are.
   */
  async completeBatch(
    runId: string,
    batchNo: number,
    results: ResultRow[],
    entries: WorklistRow[],
    now: Date,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      if ((await statusLocked(tx, runId)) !== 'evaluating') return;
      await insertResults(tx, runId, results, now);
      await insertEntries(tx, entries);
      await tx.query(
        'update surveillance_batches set done_at = $3 where run_id = $1 and batch_no = $2 and done_at is null',
        [runId, batchNo, now.toISOString()],
      );
    });
  }

  /** The worklist keys of the last succeeded run before this one (what "new", "still due", "resolved" compare to). */
  async previousRun(runId: string): Promise<string | undefined> {
    const rows = await this.db.query<{ run_id: string }>(
      `select run_id from surveillance_runs where status = 'succeeded'
       and seq < (select seq from surveillance_runs where run_id = $1)
       order by seq desc limit 1`,
      [runId],
    );
    return rows[0]?.run_id;
  }

  async worklistOf(runId: string, patientIds?: string[]): Promise<WorklistRow[]> {
    const rows = await this.db.query(
      `select * from worklist_entries where run_id = $1 and ($2::text[] is null or patient_id = any($2::text[]))`,
      [runId, patientIds ?? null],
    );
    return rows.map(worklistRowOf);
  }

  async insertEntries(entries: WorklistRow[]): Promise<void> {
    await this.db.transaction((tx) => insertEntries(tx, entries));
  }

  /**
   * Inserts entries only while the run is in `status` (read under its row lock, as completeBatch does): the
   * finishing step of a run cancelled meanwhile adds nothing to the worklist its failure record digested.
   */
  async insertEntriesWhile(runId: string, status: RunStatus, entries: WorklistRow[]): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if ((await statusLocked(tx, runId)) !== status) return false;
      await insertEntries(tx, entries);
      return true;
    });
  }

  /** The run's counts, computed from what was stored (so a resumed run counts each patient once). */
  async countsOf(runId: string): Promise<RunCounts> {
    return (await this.liveCountsOf(runId)).counts;
  }

  /**
   * The counts and the patients evaluated so far, read by one statement (one snapshot): a run in progress shows
   * a progress that agrees with its counts, whatever batch commits meanwhile.
   */
  async liveCountsOf(runId: string): Promise<{ counts: RunCounts; evaluated: number }> {
    const [r] = await this.db.query<Record<string, number>>(
      `select
        (select count(*) from surveillance_results where run_id = $1) as evaluated,
        (select count(*) from surveillance_results where run_id = $1 and error is null and decision <> 'not-in-cohort') as in_cohort,
        (select count(*) from surveillance_results where run_id = $1 and decision = 'exposure-unknown') as unknown_exposure,
        (select count(*) from surveillance_results where run_id = $1 and error is not null) as errors,
        (select count(*) from worklist_entries where run_id = $1 and rule = 'screening-due' and change <> 'resolved') as screening_due,
        (select count(*) from worklist_entries where run_id = $1 and rule = 'follow-up-due' and change <> 'resolved') as follow_up_due,
        (select count(*) from worklist_entries where run_id = $1 and rule = 'follow-up-overdue' and change <> 'resolved') as follow_up_overdue,
        (select count(*) from worklist_entries where run_id = $1 and rule = 'findings' and change <> 'resolved') as findings,
        (select count(*) from worklist_entries where run_id = $1 and rule = 'findings' and change = 'new') as new_findings,
        (select count(*) from worklist_entries e where e.run_id = $1 and e.change = 'resolved'
           -- Not those carried from the last run (resolved then, their Task still open): resolved once, when it was.
           and not exists (select 1 from worklist_entries p
                            where p.run_id = (select previous_run_id from surveillance_runs where run_id = $1)
                              and p.change = 'resolved' and p.patient_id = e.patient_id and p.rule = e.rule
                              and p.due_date is not distinct from e.due_date)) as resolved,
        (select count(*) from worklist_entries where run_id = $1 and change <> 'resolved' and task_ref is not null) as tasks,
        (select count(*) from worklist_entries where run_id = $1 and task_error is not null) as task_errors`,
      [runId],
    );
    const n = (k: string) => Number(r?.[k] ?? 0);
    const counts: RunCounts = {
      inCohort: n('in_cohort'),
      screeningDue: n('screening_due'),
      followUpDue: n('follow_up_due'),
      followUpOverdue: n('follow_up_overdue'),
      findings: n('findings'),
      newFindings: n('new_findings'),
      unknownExposure: n('unknown_exposure'),
      errors: n('errors'),
      resolved: n('resolved'),
      tasks: n('tasks'),
      taskErrors: n('task_errors'),
    };
    return { counts, evaluated: n('evaluated') };
  }

  /**
   * The next patients (after `after`, in id order) with an open entry in a run's worklist, or a resolved one whose
   * Task is still open: for paging over it.
   */
  async patientsWithOpenEntries(runId: string, after: string, limit: number): Promise<string[]> {
    const rows = await this.db.query<{ patient_id: string }>(
      `select distinct patient_id from worklist_entries
        where run_id = $1 and (change <> 'resolved' or task_error is not null) and patient_id > $2
        order by patient_id limit $3`,
      [runId, after, limit],
    );
    return rows.map((r) => r.patient_id);
  }

  /** Records the Tasks a batch is about to publish for new entries (migration 015); a retried batch's, kept once. */
  async recordTasksToPublish(runId: string, entries: WorklistRow[]): Promise<void> {
    await this.db.query(
      `insert into surveillance_published_tasks (run_id, key, entry)
       select $1, x.key, x.entry from jsonb_to_recordset($2::jsonb) as x(key text, entry jsonb)
       on conflict do nothing`,
      [runId, JSON.stringify(entries.map((e) => ({ key: workFamilyOf(e), entry: e })))],
    );
  }

  /**
   * A page (by key) of the Tasks published for new entries by the runs that failed after the last succeeded run
   * before `runId` (all earlier runs when none succeeded) and before it: each key once, as its latest run made it.
   */
  async publishedByFailedRuns(
    runId: string,
    after: string,
    limit: number,
  ): Promise<Array<{ key: string; entry: WorklistRow }>> {
    const rows = await this.db.query<{ key: string; entry: WorklistRow }>(
      `with this_run as (select seq from surveillance_runs where run_id = $1),
            last_succeeded as (
              select coalesce(max(seq), 0) as seq from surveillance_runs
               where status = 'succeeded' and seq < (select seq from this_run))
       select distinct on (p.key) p.key, p.entry from surveillance_published_tasks p
         join surveillance_runs r on r.run_id = p.run_id
        where r.status = 'failed' and r.seq > (select seq from last_succeeded) and r.seq < (select seq from this_run)
          and p.key > $2
        order by p.key, r.seq desc
        limit $3`,
      [runId, after, limit],
    );
    return rows;
  }

  /**
   * Forgets the Tasks recorded by this run and the runs before it, once it has succeeded: no later run looks
   * further back than it (publishedByFailedRuns), so the table holds only what a next run may need.
   */
  async forgetTasksBefore(runId: string): Promise<void> {
    await this.db.query(
      `delete from surveillance_published_tasks where run_id in (
         select run_id from surveillance_runs where seq <= (select seq from surveillance_runs where run_id = $1))`,
      [runId],
    );
  }

  /** The last WB-MRI each of these patients had as the run saw them (patients without one are absent). */
  async lastStudies(runId: string, patientIds: string[]): Promise<Map<string, string>> {
    const rows = await this.db.query<{ patient_id: string; last_study: string }>(
      `select patient_id, last_study::text as last_study from surveillance_results
        where run_id = $1 and patient_id = any($2::text[]) and last_study is not null`,
      [runId, patientIds],
    );
    return new Map(rows.map((r) => [r.patient_id, r.last_study]));
  }

  /** Every patient of the run whose records could not be read or assessed. */
  async erredPatients(runId: string): Promise<Set<string>> {
    const rows = await this.db.query<{ patient_id: string }>(
      'select patient_id from surveillance_results where run_id = $1 and error is not null',
      [runId],
    );
    return new Set(rows.map((r) => r.patient_id));
  }

  /** The first errors of a run: patients that could not be assessed, and entries whose Task was not written. */
  async errorsOf(runId: string, limit = 50): Promise<RunRow['errors']> {
    const rows = await this.db.query<{ patient_id: string; error: string }>(
      `select patient_id, error from (
         select patient_id, error from surveillance_results where run_id = $1 and error is not null
         union all
         select patient_id, case when change = 'resolved' then 'Task not completed (' else 'Task not written (' end
             -- The due date tells apart two entries of a rule (a carried follow-up and the next one).
             || rule || coalesce(', due ' || due_date::text, '') || '): ' || task_error
           from worklist_entries where run_id = $1 and task_error is not null
       ) e order by patient_id, error limit $2`,
      [runId, limit],
    );
    return rows.map((r) => ({ patientId: r.patient_id, message: r.error }));
  }

  /** A page of the worklist in the clinic team's order (URGENCY; keyset: stable under inserts), and the total. */
  async worklist(q: WorklistQuery): Promise<Page<WorklistRow> & { runId: string | null; total: number }> {
    const runId =
      q.runId ??
      (
        await this.db.query<{ run_id: string }>(
          `select run_id from surveillance_runs where status = 'succeeded' order by seq desc limit 1`,
        )
      )[0]?.run_id;
    if (!runId) return { runId: null, items: [], total: 0 };
    const after = q.cursor ? decodeCursor(q.cursor) : undefined;
    // A cursor that cannot be read must not quietly restart from the first page (a client would loop).
    if (q.cursor && !after)
      throw new OsteoWatchError('invalid', 'cursor: is not a cursor from this API', { expression: ['cursor'] });
    const filter = `run_id = $1
         and ($2::text[] is null or rule = any($2::text[]))
         and ($3::text[] is null or change = any($3::text[]))
         and ($4::text is null or lower(patient_id) like lower($4) || '%')`;
    const filters = [
      runId,
      q.rules?.length ? q.rules : null,
      q.changes?.length ? q.changes : null,
      // A prefix, case aside (ids are typed from a letter or a printout), its LIKE wildcards escaped.
      q.patient ? q.patient.replace(/[\\%_]/g, (c) => `\\${c}`) : null,
    ];
    const rows = await this.db.query(
      `select * from worklist_entries
       where ${filter}
         and ($5::int is null or (${URGENCY}, coalesce(due_date, '9999-12-31'::date), patient_id, rule, change) > ($5::int, $6::date, $7::text, $8::text, $9::text))
       order by ${URGENCY}, coalesce(due_date, '9999-12-31'::date), patient_id, rule, change
       limit $10`,
      [...filters, ...(after ?? [null, null, null, null, null]), q.limit + 1],
    );
    // The matching entries in all, for "rows 51–100 of 312" (not for a CSV that reads every page anyway).
    const [count] =
      q.total === false
        ? [undefined]
        : await this.db.query<{ n: string }>(`select count(*) as n from worklist_entries where ${filter}`, filters);
    const total = Number(count?.n ?? -1);
    const items = rows.slice(0, q.limit).map(worklistRowOf);
    return {
      runId,
      items,
      total,
      ...(rows.length > q.limit ? { next: encodeCursor(items[items.length - 1]!) } : {}),
    };
  }

  // ---- Bulk Data staging (migration 005): each batch's NDJSON lines together, in a few large rows (a chunk of
  // lines joined by newlines, see stagedRecords.ts), so that the database stores and returns text and a batch
  // reads its rows by one index range.

  /** Stages chunks of lines, one row each, in one statement. */
  async stageChunks(runId: string, chunks: Array<{ batchNo: number; lines: string }>): Promise<void> {
    if (!chunks.length) return;
    // Rows as parameters (sent as they are: no array escaping of megabytes of JSON).
    const values = chunks.map((_, i) => `($1, $${2 * i + 2}::int, $${2 * i + 3})`).join(', ');
    await this.db.query(`insert into surveillance_staged (run_id, batch_no, lines) values ${values}`, [
      runId,
      ...chunks.flatMap((c) => [c.batchNo, c.lines]),
    ]);
  }

  async stageMedications(runId: string, rows: Array<{ ref: string; text: string }>): Promise<void> {
    if (!rows.length) return;
    await this.db.query(
      `insert into surveillance_staged_medications (run_id, ref, resource)
       select $1, x.ref, x.r from unnest($2::text[], string_to_array($3, E'\\n')) as x(ref, r) on conflict do nothing`,
      [runId, rows.map((r) => r.ref), rows.map((r) => r.text).join('\n')],
    );
  }

  /** Marks the run's staging complete: the row every batch reads with its own (see stagedBatch). */
  async markStaged(runId: string): Promise<void> {
    await this.db.query(`insert into surveillance_staged (run_id, batch_no, lines) values ($1, -1, '')`, [runId]);
  }

  /**
   * A batch's staged chunks, and whether the run's staging is still there: the table is unlogged, and
   * PostgreSQL empties it after a crash of its own; without the marker the chunks cannot be trusted.
   */
  async stagedBatch(runId: string, batchNo: number): Promise<{ complete: boolean; chunks: string[] }> {
    const rows = await this.db.query<{ batch_no: number; lines: string }>(
      'select batch_no, lines from surveillance_staged where run_id = $1 and batch_no = any(array[$2::int, -1])',
      [runId, batchNo],
    );
    return {
      complete: rows.some((r) => r.batch_no === -1),
      chunks: rows.filter((r) => r.batch_no !== -1).map((r) => r.lines),
    };
  }

  /** The staged Medications' lines by reference (Medication/id). */
  async stagedMedications(runId: string, refs: string[]): Promise<Map<string, string>> {
    if (!refs.length) return new Map();
    const rows = await this.db.query<{ ref: string; resource: string }>(
      'select ref, resource from surveillance_staged_medications where run_id = $1 and ref = any($2::text[])',
      [runId, refs],
    );
    return new Map(rows.map((r) => [r.ref, r.resource]));
  }

  async clearStaging(runId: string): Promise<void> {
    await this.db.query('delete from surveillance_staged where run_id = $1', [runId]);
    await this.db.query('delete from surveillance_staged_medications where run_id = $1', [runId]);
  }
}

/**
 * The run's status under a share lock on its row, for the rest of the transaction: a cancel (an UPDATE of the
 * row) waits for the writes that read it, and writes that read it after the cancel see the run ended.
 */
async function statusLocked(tx: Queryable, runId: string): Promise<string | undefined> {
  const [run] = await tx.query<{ status: string }>('select status from surveillance_runs where run_id = $1 for share', [
    runId,
  ]);
  return run?.status;
}

async function insertResults(tx: Queryable, runId: string, results: ResultRow[], now: Date): Promise<void> {
  if (!results.length) return;
  await tx.query(
    `insert into surveillance_results (run_id, patient_id, decision, cumulative_mg, lower_bound, error, last_study, evaluated_at)
     select $1, x.p, x.d, x.mg, x.lb, x.e, x.ls, $3
       from jsonb_to_recordset($2::jsonb) as x(p text, d text, mg numeric, lb boolean, e text, ls date)
     on conflict do nothing`,
    [
      runId,
      JSON.stringify(
        results.map((r) => ({
          p: r.patientId,
          d: r.decision,
          mg: r.cumulativeMg,
          lb: r.lowerBound,
          e: r.error ?? null,
          ls: r.lastStudy ?? null,
        })),
      ),
      now.toISOString(),
    ],
  );
}

async function insertEntries(tx: Queryable, entries: WorklistRow[]): Promise<void> {
  if (!entries.length) return;
  await tx.query(
    `insert into worklist_entries (run_id, patient_id, rule, change, due_date, overdue_from, days_overdue, cumulative_mg,
       lower_bound, last_study, summary, task_ref, task_error)
     select x.run, x.p, x.rule, x.change, x.due, x.od, x.dod, x.mg, x.lb, x.ls, x.s, x.t, x.te
     from jsonb_to_recordset($1::jsonb) as x(run text, p text, rule text, change text, due date, od date, dod int, mg numeric,
       lb boolean, ls date, s text, t text, te text)
     on conflict do nothing`,
    [
      JSON.stringify(
        entries.map((e) => ({
          run: e.runId,
          p: e.patientId,
          rule: e.rule,
          change: e.change,
          due: e.dueDate,
          od: e.overdueFrom,
          dod: e.daysOverdue,
          mg: e.cumulativeMg,
          lb: e.lowerBound,
          ls: e.lastStudy,
          s: e.summary,
          t: e.taskRef,
          te: e.taskError ?? null,
        })),
      ),
    ],
  );
}
