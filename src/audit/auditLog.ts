/**
 * The audit trail's writers and its verification. Every write appends one hash-chained row to audit_log
 * and projects it into the query tables in the same transaction.
 */
import type { Db, Queryable } from '../store/db.ts';
import { chainHash, GENESIS_HASH } from './chain.ts';
import type { AuditRow } from './fhirExport.ts';
import {
  type AuditQueryInput,
  auditQuerySchema,
  type FeedbackInput,
  feedbackSchema,
  type HookInvocation,
  type HookInvocationInput,
  hookInvocationSchema,
  type SurveillanceRunInput,
  surveillanceRunSchema,
  type WriteBackInput,
  writeBackSchema,
} from './records.ts';

export type AuditKind = 'hook-invocation' | 'card-feedback' | 'write-back' | 'surveillance-run' | 'audit-query';

interface Entry {
  kind: AuditKind;
  recordedAt: string;
  patientId?: string;
  tenant?: string;
  actor?: string;
  payload: Record<string, unknown>;
}

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

export class AuditLog {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  private async append(tx: Queryable, e: Entry): Promise<Appended> {
    if (this.db.kind === 'postgres') await tx.query('select pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    const last = await tx.query<{ seq: number; hash: string }>(
      'select seq, hash from audit_log order by seq desc limit 1',
    );
    const seq = (last[0]?.seq ?? 0) + 1;
    const prevHash = last[0]?.hash ?? GENESIS_HASH;
    const recordedAt = new Date(e.recordedAt).toISOString();
    // canonicalJson and JSON.stringify both drop undefined members, so what is hashed is what is stored.
    const payload = e.payload;
    const fields = {
      seq,
      recordedAt,
      kind: e.kind,
      patientId: e.patientId ?? null,
      tenant: e.tenant ?? null,
      actor: e.actor ?? null,
      payload,
    };
    const hash = chainHash(prevHash, fields);
    await tx.query(
      `insert into audit_log (seq, recorded_at, recorded_iso, kind, patient_id, tenant, actor, payload, prev_hash, hash)
       values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)`,
      [
        seq,
        recordedAt,
        recordedAt,
        e.kind,
        fields.patientId,
        fields.tenant,
        fields.actor,
        JSON.stringify(payload),
        prevHash,
        hash,
      ],
    );
    return { seq, hash };
  }

  /** A CDS Hooks call: service, hook, who asked, latency, the cards issued and the exposure snapshot behind them. */
  async recordHookInvocation(input: HookInvocationInput): Promise<Appended> {
    return (await this.recordHookInvocations([input]))[0]!;
  }

  /** Several hook calls in one transaction (group commit: see HookAuditQueue). */
  async recordHookInvocations(inputs: HookInvocationInput[]): Promise<Appended[]> {
    return this.writeHookInvocations(inputs.map((i) => hookInvocationSchema.parse(i)));
  }

  /** Records already validated by hookInvocationSchema (the queue parses on enqueue, not twice). */
  async writeHookInvocations(records: HookInvocation[]): Promise<Appended[]> {
    return this.db.transaction(async (tx) => {
      const out: Appended[] = [];
      for (const r of records) out.push(await this.writeHookInvocation(tx, r));
      return out;
    });
  }

  private async writeHookInvocation(tx: Queryable, r: HookInvocation): Promise<Appended> {
    const a = await this.append(tx, {
      kind: 'hook-invocation',
      recordedAt: r.recordedAt,
      patientId: r.patientId,
      tenant: r.tenant,
      actor: r.userRef ?? r.clientIss,
      payload: {
        service: r.service,
        hook: r.hook,
        hookInstance: r.hookInstance,
        userRef: r.userRef,
        clientIss: r.clientIss,
        latencyMs: r.latencyMs,
        status: r.status,
        cards: r.cards,
        exposure: r.exposure,
        dataSources: r.dataSources,
        wbmriStudies: r.wbmriStudies,
      },
    });
    await tx.query(
      `insert into hook_invocation (seq, recorded_at, service, hook, hook_instance, patient_id, user_ref, tenant, client_iss, latency_ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        a.seq,
        r.recordedAt,
        r.service,
        r.hook,
        r.hookInstance,
        r.patientId ?? null,
        r.userRef ?? null,
        r.tenant ?? null,
        r.clientIss ?? null,
        r.latencyMs ?? null,
      ],
    );
    for (const c of r.cards) {
      await tx.query(
        `insert into card (card_uuid, invocation_seq, service, patient_id, indicator, summary, recorded_at)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (card_uuid) do nothing`,
        [c.uuid, a.seq, r.service, r.patientId ?? null, c.indicator, c.summary, r.recordedAt],
      );
    }
    if (r.exposure && r.patientId) {
      const x = r.exposure;
      await tx.query(
        `insert into exposure_snapshot (seq, patient_id, as_of, cumulative_mg, lower_bound, current_daily_mg, threshold_mg, crossed_on, recorded_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          a.seq,
          r.patientId,
          x.asOf,
          x.cumulativeMg,
          x.cumulativeIsLowerBound,
          x.currentDailyMg,
          x.threshold.mg,
          x.threshold.crossedOn,
          r.recordedAt,
        ],
      );
      if (x.threshold.crossedOn) {
        await tx.query(
          `insert into threshold_crossing (patient_id, threshold_mg, crossed_on, first_seen_seq) values ($1, $2, $3, $4) on conflict do nothing`,
          [r.patientId, x.threshold.mg, x.threshold.crossedOn, a.seq],
        );
      }
    }
    if (r.patientId) {
      for (const st of r.wbmriStudies ?? []) {
        await tx.query(
          `insert into wbmri_study (patient_id, study_date, source, seq) values ($1, $2, 'ehr', $3) on conflict do nothing`,
          [r.patientId, st.date, a.seq],
        );
      }
    }
    return a;
  }

  /** Clinician feedback on a card. The same feedback sent again is recorded once (idempotent). */
  async recordFeedback(input: FeedbackInput): Promise<Appended & { duplicate: boolean }> {
    const r = feedbackSchema.parse(input);
    const outcomeAt = new Date(r.outcomeTimestamp).toISOString();
    return this.db.transaction(async (tx) => {
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
    const r = writeBackSchema.parse(input);
    return this.db.transaction(async (tx) => {
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

  async recordSurveillanceRun(input: SurveillanceRunInput): Promise<Appended> {
    const r = surveillanceRunSchema.parse(input);
    return this.db.transaction(async (tx) => {
      const a = await this.append(tx, {
        kind: 'surveillance-run',
        recordedAt: r.recordedAt,
        payload: { runId: r.runId, startedAt: r.startedAt, finishedAt: r.finishedAt, summary: r.summary },
      });
      await tx.query(
        'insert into surveillance_run (seq, run_id, started_at, finished_at, summary, recorded_at) values ($1, $2, $3, $4, $5::jsonb, $6)',
        [a.seq, r.runId, r.startedAt ?? null, r.finishedAt ?? null, JSON.stringify(r.summary), r.recordedAt],
      );
      return a;
    });
  }

  /** An auditor's query through the API or CLI is itself audited. */
  async recordAuditQuery(input: AuditQueryInput): Promise<Appended> {
    const r = auditQuerySchema.parse(input);
    return this.db.transaction((tx) =>
      this.append(tx, {
        kind: 'audit-query',
        recordedAt: r.recordedAt,
        patientId: r.patientId,
        actor: r.actor,
        payload: { query: r.query },
      }),
    );
  }

  /** Walks the chain in order and reports the first broken link. */
  async verify(pageSize = 5000): Promise<VerifyResult> {
    let prevHash = GENESIS_HASH;
    let expected = 1;
    let checked = 0;
    for (;;) {
      const rows = await this.db.query<AuditLogDbRow & { prev_hash: string }>(
        `select seq, recorded_iso, kind, patient_id, tenant, actor, payload, prev_hash, hash
           from audit_log where seq >= $1 order by seq limit $2`,
        [expected, pageSize],
      );
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
        prevHash = r.hash;
        expected++;
        checked++;
      }
      if (rows.length < pageSize) return { ok: true, checked, lastSeq: expected - 1 };
    }
  }
}
