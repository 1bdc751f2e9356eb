/**
 * Hook invocations are the bulk of the audit trail (one per chart opened), so they are written in batches
 * as one statement: the chained audit_log rows and their projections (invocation, cards, exposure snapshot,
 * first threshold crossings, WB-MRI studies seen, contribution sets) come from one JSON parameter through
 * data-modifying CTEs. Per batch that is one statement for the store to parse and plan — what costs most in
 * PGlite, where each statement runs through WASM — instead of six per record. Foreign keys are checked at
 * the end of the statement, when the audit_log rows exist.
 *
 * Everything that does not depend on the record's place in the chain (validation, the contribution set's
 * hash, the payload's stored and canonical JSON) is done once when the record is queued, so that writing a
 * batch is only hashing and string assembly.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { ExposureSummary } from '../exposure/index.ts';
import { type Entry, mayHoldNul, type Placed, type PreparedEntry, prepareEntry, withoutNul } from './chain.ts';
import { type StoredExposure, splitExposure } from './contributionSets.ts';
import {
  type CardRecord,
  type ExposureSnapshot,
  type HookInvocation,
  type HookInvocationInput,
  hookInvocationSchema,
} from './records.ts';

/** What a CDS service answered and what it based the answer on: the facts a hook record is built from. */
export interface HookCall {
  recordedAt: string;
  service: string;
  hook: string;
  hookInstance: string;
  patientId: string;
  userRef?: string;
  client: { iss: string; tenant?: string };
  latencyMs: number;
  /** The cards as sent; the record keeps what identifies them and what the clinician read. */
  cards: ReadonlyArray<CardRecord & { source: { label: string } }>;
  exposure?: ExposureSummary;
  /** The medication records the exposure was computed from. */
  records: readonly Resource[];
  wbmriStudyDates: readonly string[];
}

/**
 * The exposure as the trail keeps it: summary, contributions and issues. The per-day timeline can be
 * recomputed from the sources, and each contribution's derivation text from its amounts.
 */
export function exposureSnapshotOf(x: ExposureSummary): ExposureSnapshot {
  const { timeline: _timeline, patient: _patient, contributions, ...rest } = x;
  return { ...rest, contributions: contributions.map(({ derivation: _d, ...c }) => c) };
}

/** The one place a CDS answer becomes an audit record. */
export function hookRecordOf(call: HookCall): HookInvocationInput {
  return {
    recordedAt: call.recordedAt,
    service: call.service,
    hook: call.hook,
    hookInstance: call.hookInstance,
    patientId: call.patientId,
    userRef: call.userRef,
    tenant: call.client.tenant,
    clientIss: call.client.iss,
    latencyMs: call.latencyMs,
    status: 200,
    cards: call.cards.map((c) => ({
      uuid: c.uuid,
      indicator: c.indicator,
      summary: c.summary,
      source: { label: c.source.label },
      suggestions: c.suggestions?.map((s) => ({ uuid: s.uuid, label: s.label })),
    })),
    ...(call.exposure ? { exposure: exposureSnapshotOf(call.exposure) } : {}),
    dataSources: call.records.map(
      (r) => `${r.resourceType}/${r.id}${r.meta?.versionId ? `/_history/${r.meta.versionId}` : ''}`,
    ),
    wbmriStudies: call.wbmriStudyDates.map((date) => ({ date })),
  };
}

/** A hook record's payload as audit_log stores it (what readers such as patient history get back). */
export type HookPayload = ReturnType<typeof hookEntry>['payload'];

export interface PreparedHookRecord {
  /** The validated record, every string storable: what the journal keeps (see journal.ts). */
  record: HookInvocation;
  entry: PreparedEntry;
  /** The batch row's columns that do not depend on the chain: JSON object members, no braces. */
  row: string;
  /** The contribution set the payload refers to. */
  set?: { ref: string; body: string };
  /** The threshold_crossing row the record implies, as a key. */
  crossing?: string;
}

function hookEntry(r: HookInvocation, exposure: StoredExposure | undefined) {
  return {
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
      exposure,
      dataSources: r.dataSources,
      wbmriStudies: r.wbmriStudies,
    },
  } satisfies Entry;
}

function prepare(r: HookInvocation): PreparedHookRecord {
  const split = r.exposure ? splitExposure(r.exposure) : undefined;
  const entry = prepareEntry(hookEntry(r, split?.stored));
  const x = r.exposure && r.patientId ? r.exposure : undefined;
  const row = JSON.stringify({
    recorded_at: entry.recordedAt,
    recorded_iso: entry.recordedAt,
    patient_id: entry.patientId,
    tenant: entry.tenant,
    actor: entry.actor,
    service: r.service,
    hook: r.hook,
    hook_instance: r.hookInstance,
    user_ref: r.userRef ?? null,
    client_iss: r.clientIss ?? null,
    latency_ms: r.latencyMs ?? null,
    cards: r.cards.map((c) => ({ uuid: c.uuid, indicator: c.indicator, summary: c.summary })),
    as_of: x?.asOf ?? null,
    cumulative_mg: x?.cumulativeMg ?? null,
    lower_bound: x?.cumulativeIsLowerBound ?? false,
    current_daily_mg: x?.currentDailyMg ?? null,
    threshold_mg: x?.threshold.mg ?? null,
    crossed_on: x?.threshold.crossedOn ?? null,
    wbmri: r.patientId ? (r.wbmriStudies ?? []).map((s) => s.date) : [],
  }).slice(1, -1);
  return {
    record: r,
    entry,
    row,
    ...(split ? { set: { ref: split.ref, body: split.body } } : {}),
    ...(x?.threshold.crossedOn
      ? { crossing: `crossing|${r.patientId}|${x.threshold.mg}|${x.threshold.crossedOn}` }
      : {}),
  };
}

/**
 * Validates a hook invocation and serialises everything that does not depend on its place in the chain.
 * The JSON built here is every string the record stores, so it is also where a NUL or a lone surrogate is
 * caught (see withoutNul) without serialising the record once more.
 */
export function prepareHookRecord(input: HookInvocationInput): PreparedHookRecord {
  const record = hookInvocationSchema.parse(input);
  const p = prepare(record);
  return [p.row, p.entry.payloadJson, p.set?.body ?? ''].some(mayHoldNul) ? prepare(withoutNul(record)) : p;
}

const COLUMNS = `seq bigint, recorded_at timestamptz, recorded_iso text, patient_id text, tenant text, actor text,
  payload jsonb, prev_hash text, hash text, service text, hook text, hook_instance text, user_ref text, client_iss text,
  latency_ms float8, cards jsonb, as_of date, cumulative_mg float8, lower_bound boolean, current_daily_mg float8,
  threshold_mg float8, crossed_on date, new_crossing boolean, wbmri jsonb, set_hash text, set_body text`;

/** $1: the JSON array built by hookBatchParam. */
export const HOOK_BATCH_SQL = `with b as (
  select * from jsonb_to_recordset($1::jsonb) as x(${COLUMNS})
), l as (
  insert into audit_log (seq, recorded_at, recorded_iso, kind, patient_id, tenant, actor, payload, prev_hash, hash)
  select seq, recorded_at, recorded_iso, 'hook-invocation', patient_id, tenant, actor, payload, prev_hash, hash from b
), h as (
  insert into hook_invocation (seq, recorded_at, service, hook, hook_instance, patient_id, user_ref, tenant, client_iss, latency_ms)
  select seq, recorded_at, service, hook, hook_instance, patient_id, user_ref, tenant, client_iss, latency_ms from b
), c as (
  insert into card (card_uuid, invocation_seq, service, patient_id, indicator, summary, recorded_at)
  select c.uuid, b.seq, b.service, b.patient_id, c.indicator, c.summary, b.recorded_at
    from b cross join lateral jsonb_to_recordset(b.cards) as c(uuid text, indicator text, summary text)
  on conflict (card_uuid) do nothing
), x as (
  insert into exposure_snapshot (seq, patient_id, as_of, cumulative_mg, lower_bound, current_daily_mg, threshold_mg, crossed_on, recorded_at)
  select seq, patient_id, as_of, cumulative_mg, lower_bound, current_daily_mg, threshold_mg, crossed_on, recorded_at
    from b where as_of is not null and patient_id is not null
), t as (
  insert into threshold_crossing (patient_id, threshold_mg, crossed_on, first_seen_seq)
  select patient_id, threshold_mg, crossed_on, seq from b where new_crossing
  on conflict do nothing
), w as (
  insert into wbmri_study (patient_id, study_date, source, seq)
  select b.patient_id, d::date, 'ehr', b.seq from b cross join lateral jsonb_array_elements_text(b.wbmri) as d
   where b.patient_id is not null
  on conflict do nothing
), s as (
  insert into contribution_set (hash, body, first_seq)
  select set_hash, set_body, seq from b where set_hash is not null
  on conflict (hash) do nothing
)
select count(*)::int as n from b`;

/**
 * One row of the batch parameter: the chain columns, then the columns prepared when queued, then the payload
 * spliced in as the JSON it is stored as (not re-encoded). `withSet` / `newCrossing`: write the contribution
 * set / crossing (not already known to be stored).
 */
export function hookBatchRow(p: PreparedHookRecord, at: Placed, withSet: boolean, newCrossing: boolean): string {
  const chain = JSON.stringify({
    seq: at.seq,
    prev_hash: at.prevHash,
    hash: at.hash,
    new_crossing: newCrossing,
    set_hash: withSet ? p.set!.ref : null,
    set_body: withSet ? p.set!.body : null,
  });
  return `${chain.slice(0, -1)},${p.row},"payload":${p.entry.payloadJson}}`;
}

/** What identifies one hook call in the trail: its hookInstance and the time it was recorded. */
export function hookCallKey(r: { hookInstance: string; recordedAt: string }): string {
  return `${r.hookInstance}|${new Date(r.recordedAt).toISOString()}`;
}
