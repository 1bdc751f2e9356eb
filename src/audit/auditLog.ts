/**
 * The audit trail's writers and its verification. Every write appends one hash-chained row to audit_log
 * and projects it into the query tables in the same transaction.
 */
import { type Db, isUnavailable, type Queryable } from '../store/db.ts';
import type { AuditRow } from './chain.ts';
import {
  auditLogParams,
  chainHash,
  type Entry,
  GENESIS_HASH,
  INSERT_AUDIT_LOG,
  place,
  prepareEntry,
  storable,
} from './chain.ts';
import { contributionRef, isStoredExposure, readContributionSets } from './contributionSets.ts';
import { HOOK_BATCH_SQL, hookBatchRow, hookCallKey, type PreparedHookRecord, prepareHookRecord } from './hookRecord.ts';
import {
  type AuditQueryInput,
  auditQuerySchema,
  type FeedbackInput,
  feedbackSchema,
  type HookInvocationInput,
  type SurveillanceRunInput,
  surveillanceRunSchema,
  type WriteBackInput,
  type WriteBackRefusedInput,
  writeBackRefusedSchema,
  writeBackSchema,
} from './records.ts';

export type { AuditKind } from './chain.ts';

export interface Appended {
  seq: number;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  lastSeq: number;
  firstBroken?: { seq: number; reason: string };
}

const CHAIN_LOCK = 7345002;

interface AppendingTx extends Queryable {
  appended(a: Appended): void;
}

export interface AuditLogDbRow {
  seq: number;
  recorded_iso: string;
  kind: string;
  patient_id: string | null;
  tenant: string | null;
  actor: string | null;
  payload: Record<string, unknown>;
  hash: string;
}

/** A stored audit_log row in the shape that is hashed (and exported). */
export function auditRowOf(r: AuditLogDbRow): AuditRow {
  return {
    seq: r.seq,
    recordedAt: r.recorded_iso,
    kind: r.kind,
    patientId: r.patient_id,
    tenant: r.tenant,
    actor: r.actor,
    payload: r.payload,
    hash: r.hash,
  };
}

/**
 * Contribution sets and threshold crossings known to be committed (so their insert is skipped); beyond
 * this many the memory is dropped and the store's `on conflict do nothing` decides again.
 */
const KNOWN_MAX = 50_000;

export class AuditLog {
  readonly db: Db;
  private readonly known = new Set<string>();
  constructor(db: Db) {
    this.db = db;
  }

  /**
   * The current chain head. PostgreSQL: read under the chain lock (several processes may write). PGlite:
   * this process is the only writer (the data-directory lock) and its transactions run one at a time, so
   * the head this log committed last is still the head; it is read again after anything failed.
   */
  private async chainHead(tx: Queryable): Promise<Appended | undefined> {
    if (this.db.kind === 'pglite' && this.committedHead) return this.committedHead;
    if (this.db.kind === 'postgres') await tx.query('select pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    return (await tx.query<Appended>('select seq, hash from audit_log order by seq desc limit 1'))[0];
  }

  private committedHead?: Appended;

  /**
   * A transaction that may append; `tx.appended` is told each record written. committedHead is updated
   * when the transaction has committed — before the next (serialised) transaction starts — and
   * forgotten when anything fails.
   */
  private async appending<T>(fn: (tx: AppendingTx) => Promise<T>): Promise<T> {
    let last: Appended | undefined;
    try {
      const out = await this.db.transaction((tx) =>
        fn({
          query: tx.query.bind(tx),
          appended: (a) => {
            last = a;
          },
        }),
      );
      if (last) this.committedHead = last;
      return out;
    } catch (err) {
      this.committedHead = undefined;
      throw err;
    }
  }

  private async append(tx: AppendingTx, e: Entry): Promise<Appended> {
    const p = prepareEntry(e);
    const at = place(p, await this.chainHead(tx));
    await tx.query(INSERT_AUDIT_LOG, auditLogParams(p, at));
    const a = { seq: at.seq, hash: at.hash };
    tx.appended(a);
    return a;
  }

  /** A CDS Hooks call: service, hook, who asked, latency, the cards issued and the exposure snapshot behind them. */
  async recordHookInvocation(input: HookInvocationInput): Promise<Appended> {
    return (await this.recordHookInvocations([input]))[0]!;
  }

  /** Several hook calls in one transaction (group commit: see HookAuditQueue). */
  async recordHookInvocations(inputs: HookInvocationInput[]): Promise<Appended[]> {
    return this.writeHookInvocations(inputs.map(prepareHookRecord));
  }

  /** Records validated and prepared when they were queued (see hookRecord.ts): one statement per batch. */
  async writeHookInvocations(records: PreparedHookRecord[]): Promise<Appended[]> {
    if (!records.length) return [];
    const newKeys = new Set<string>();
    const out = await this.appending(async (tx) => {
      const out: Appended[] = [];
      let head = await this.chainHead(tx);
      const rows: string[] = [];
      for (const p of records) {
        const at = place(p.entry, head);
        const withSet = !!p.set && !this.known.has(p.set.ref) && !newKeys.has(p.set.ref);
        const newCrossing = !!p.crossing && !this.known.has(p.crossing) && !newKeys.has(p.crossing);
        if (withSet) newKeys.add(p.set!.ref);
        if (newCrossing) newKeys.add(p.crossing!);
        rows.push(hookBatchRow(p, at, withSet, newCrossing));
        head = { seq: at.seq, hash: at.hash };
        out.push(head);
      }
      await tx.query(HOOK_BATCH_SQL, [`[${rows.join(',')}]`], { prepare: 'osteowatch_hook_batch' });
      if (head) tx.appended(head);
      return out;
    });
    // Only what is committed is remembered; the store's own conflict handling stays the authority.
    if (this.known.size + newKeys.size > KNOWN_MAX) this.known.clear();
    for (const k of newKeys) this.known.add(k);
    return out;
  }

  /**
   * Writes a batch; when the store refuses it for a reason other than being unreachable, writes its
   * records one by one, so that only a record the store refuses on its own fails. Per record: where it
   * was appended, or why it failed. Throws (an `unavailable` OsteoWatchError) when the store is unreachable.
   */
  async writeHookInvocationsSettled(records: PreparedHookRecord[]): Promise<Array<Appended | Error>> {
    if (!records.length) return [];
    try {
      return await this.writeHookInvocations(records);
    } catch (err) {
      if (isUnavailable(err) || records.length === 1) {
        if (isUnavailable(err)) throw err;
        return [err instanceof Error ? err : new Error(String(err))];
      }
    }
    const out: Array<Appended | Error> = [];
    for (const r of records) {
      try {
        out.push((await this.writeHookInvocations([r]))[0]!);
      } catch (err) {
        if (isUnavailable(err)) throw err;
        out.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    return out;
  }

  /** Of these hook calls, the ones already in the trail (keys as hookCallKey): a journal replay skips them. */
  async storedHookCalls(calls: Array<{ hookInstance: string; recordedAt: string }>): Promise<Set<string>> {
    if (!calls.length) return new Set();
    const rows = await this.db.query<{ hook_instance: string; recorded_iso: string }>(
      `select h.hook_instance, l.recorded_iso from hook_invocation h join audit_log l on l.seq = h.seq
        where h.hook_instance = any($1::text[])`,
      [[...new Set(calls.map((c) => c.hookInstance))]],
    );
    return new Set(rows.map((r) => hookCallKey({ hookInstance: r.hook_instance, recordedAt: r.recorded_iso })));
  }

  /** Clinician feedback on a card. The same feedback sent again is recorded once (idempotent). */
  async recordFeedback(input: FeedbackInput): Promise<Appended & { duplicate: boolean }> {
    const r = storable(feedbackSchema.parse(input));
    const outcomeAt = new Date(r.outcomeTimestamp).toISOString();
    return this.appending(async (tx) => {
      const existing = await tx.query<{ seq: number }>(
        'select seq from card_feedback where card_uuid = $1 and outcome = $2 and outcome_at = $3',
        [r.card, r.outcome, outcomeAt],
      );
      if (existing[0]) {
        const row = await tx.query<{ hash: string }>('select hash from audit_log where seq = $1', [existing[0].seq]);
        return { seq: existing[0].seq, hash: row[0]!.hash, duplicate: true };
      }
      const card = await tx.query<{ patient_id: string | null }>('select patient_id from card where card_uuid = $1', [
        r.card,
      ]);
      const a = await this.append(tx, {
        kind: 'card-feedback',
        recordedAt: r.recordedAt,
        patientId: card[0]?.patient_id ?? undefined,
        tenant: r.tenant,
        actor: r.clientIss,
        payload: {
          service: r.service,
          card: r.card,
          knownCard: card.length > 0,
          outcome: r.outcome,
          outcomeTimestamp: outcomeAt,
          acceptedSuggestions: r.acceptedSuggestions,
          overrideReason: r.overrideReason,
        },
      });
      await tx.query(
        `insert into card_feedback (seq, card_uuid, service, outcome, override_code, override_display, user_comment, accepted_suggestions, outcome_at, recorded_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)`,
        [
          a.seq,
          r.card,
          r.service,
          r.outcome,
          r.overrideReason?.reason?.code ?? null,
          r.overrideReason?.reason?.display ?? null,
          r.overrideReason?.userComment ?? null,
          r.acceptedSuggestions ? JSON.stringify(r.acceptedSuggestions) : null,
          outcomeAt,
          r.recordedAt,
        ],
      );
      return { ...a, duplicate: false };
    });
  }

  /** Resources OsteoWatch wrote to the EHR (imaging write-back). */
  async recordWriteBack(input: WriteBackInput): Promise<Appended> {
    const r = storable(writeBackSchema.parse(input));
    return this.appending(async (tx) => {
      const a = await this.append(tx, {
        kind: 'write-back',
        recordedAt: r.recordedAt,
        patientId: r.patientId,
        actor: r.actor,
        payload: {
          studyUid: r.studyUid,
          studyDate: r.studyDate,
          resourceRefs: r.resourceRefs,
          fhirServer: r.fhirServer,
        },
      });
      await tx.query(
        'insert into write_back (seq, patient_id, study_uid, study_date, resource_refs, recorded_at) values ($1, $2, $3, $4, $5, $6)',
        [a.seq, r.patientId, r.studyUid ?? null, r.studyDate ?? null, r.resourceRefs, r.recordedAt],
      );
      if (r.isWbMri && r.studyDate) {
        await tx.query(
          `insert into wbmri_study (patient_id, study_date, source, seq) values ($1, $2, 'write-back', $3) on conflict do nothing`,
          [r.patientId, r.studyDate, a.seq],
        );
      }
      return a;
    });
  }

  /**
   * A write-back refused before anything was written. Only the log holds it (no query table, so no migration):
   * auditors read it in the AuditEvent export (`/audit/export`, `osteowatch audit export`) as a failed Create;
   * nothing takes it for a study done (wbmri_study is not touched).
   */
  async recordWriteBackRefused(input: WriteBackRefusedInput): Promise<Appended> {
    const r = storable(writeBackRefusedSchema.parse(input));
    return this.appending((tx) =>
      this.append(tx, {
        kind: 'write-back-refused',
        recordedAt: r.recordedAt,
        patientId: r.patientId,
        tenant: r.tenant,
        actor: r.actor,
        payload: {
          studyUid: r.studyUid,
          status: r.status,
          reason: r.reason,
          fields: r.fields,
          fhirServer: r.fhirServer,
        },
      }),
    );
  }

  async recordSurveillanceRun(input: SurveillanceRunInput): Promise<Appended & { duplicate: boolean }> {
    const r = storable(surveillanceRunSchema.parse(input));
    return this.appending(async (tx) => {
      // Under the chain's lock: two recorders of one run (its finisher and a cancel, two instances) write it once;
      // the second finds the first's record instead of failing on the unique run id.
      await this.chainHead(tx);
      const [existing] = await tx.query<{ seq: number; hash: string }>(
        'select s.seq, l.hash from surveillance_run s join audit_log l on l.seq = s.seq where s.run_id = $1',
        [r.runId],
      );
      if (existing) return { seq: Number(existing.seq), hash: existing.hash, duplicate: true };
      const a = await this.append(tx, {
        kind: 'surveillance-run',
        recordedAt: r.recordedAt,
        payload: { runId: r.runId, startedAt: r.startedAt, finishedAt: r.finishedAt, summary: r.summary },
      });
      await tx.query(
        'insert into surveillance_run (seq, run_id, started_at, finished_at, summary, recorded_at) values ($1, $2, $3, $4, $5::jsonb, $6)',
        [a.seq, r.runId, r.startedAt ?? null, r.finishedAt ?? null, JSON.stringify(r.summary), r.recordedAt],
      );
      return { ...a, duplicate: false };
    });
  }

  /** An auditor's query through the API or CLI is itself audited. */
  async recordAuditQuery(input: AuditQueryInput): Promise<Appended> {
    const r = storable(auditQuerySchema.parse(input));
    return this.appending((tx) =>
      this.append(tx, {
        kind: 'audit-query',
        recordedAt: r.recordedAt,
        patientId: r.patientId,
        actor: r.actor,
        payload: { query: r.query },
      }),
    );
  }

  /**
   * Walks the chain in order and reports the first broken link; a hook record's contribution set must exist
   * and still hash to the reference the record carries.
   */
  async verify(pageSize = 5000): Promise<VerifyResult> {
    let prevHash = GENESIS_HASH;
    let expected = 1;
    let checked = 0;
    const goodSets = new Set<string>();
    for (;;) {
      const rows = await this.db.query<AuditLogDbRow & { prev_hash: string }>(
        `select seq, recorded_iso, kind, patient_id, tenant, actor, payload, prev_hash, hash
           from audit_log where seq >= $1 order by seq limit $2`,
        [expected, pageSize],
      );
      const setProblems = await this.checkContributionSets(rows, goodSets);
      for (const r of rows) {
        const fail = (reason: string, seq = r.seq): VerifyResult => ({
          ok: false,
          checked,
          lastSeq: expected - 1,
          firstBroken: { seq, reason },
        });
        if (r.seq !== expected) return fail(`record ${expected} is missing (next is ${r.seq})`, expected);
        if (r.prev_hash !== prevHash) return fail('its predecessor hash does not match the previous record');
        const { hash: _stored, ...fields } = auditRowOf(r);
        const recomputed = chainHash(prevHash, fields);
        if (recomputed !== r.hash) return fail('its content does not match its hash (the record was altered)');
        const setProblem = setProblems.get(r.seq);
        if (setProblem) return fail(setProblem);
        prevHash = r.hash;
        expected++;
        checked++;
      }
      if (rows.length < pageSize) return { ok: true, checked, lastSeq: expected - 1 };
    }
  }

  /** Per record: what is wrong with the contribution set it refers to (nothing for most). */
  private async checkContributionSets(rows: AuditLogDbRow[], good: Set<string>): Promise<Map<number, string>> {
    const refOf = new Map<number, string>();
    for (const r of rows) {
      const x = r.payload.exposure;
      if (isStoredExposure(x) && !good.has(x.contributionsRef)) refOf.set(r.seq, x.contributionsRef);
    }
    const problems = new Map<number, string>();
    if (!refOf.size) return problems;
    const bodies = await readContributionSets(this.db, refOf.values());
    if (good.size > KNOWN_MAX) good.clear();
    for (const [ref, body] of bodies) if (contributionRef(body) === ref) good.add(ref);
    for (const [seq, ref] of refOf) {
      if (good.has(ref)) continue;
      problems.set(
        seq,
        bodies.has(ref)
          ? `its exposure contributions (${ref.slice(0, 19)}…) do not match their hash (the set was altered)`
          : `its exposure contributions (${ref.slice(0, 19)}…) are missing`,
      );
    }
    return problems;
  }
}
