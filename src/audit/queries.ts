/**
 * The auditors' queries. Every list is paged with a keyset cursor (never OFFSET), so that the cost of a page
 * does not grow with the size of the log.
 */
import type { Queryable } from '../store/db.ts';
import { type AuditLogDbRow, auditRowOf } from './auditLog.ts';
import type { AuditRow } from './chain.ts';
import { inflateExposure, isStoredExposure, readContributionSets } from './contributionSets.ts';
import type { HookPayload } from './hookRecord.ts';
import type { ExposureSnapshot } from './records.ts';

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit?: number;
  cursor?: string | null;
}

const limitOf = (p: PageRequest, max = 1000): number => Math.max(1, Math.min(p.limit ?? 100, max));

export interface CardWithFeedback {
  uuid: string;
  indicator: string;
  summary: string;
  feedback: Array<{
    outcome: string;
    outcomeTimestamp: string;
    overrideReason: { code: string | null; display: string | null } | null;
    userComment: string | null;
  }>;
}

export interface InvocationRecord {
  seq: number;
  recordedAt: string;
  service: string;
  hook: string;
  hookInstance: string;
  userRef: string | null;
  tenant: string | null;
  clientIss: string | null;
  latencyMs: number | null;
  cards: CardWithFeedback[];
  exposure: ExposureSnapshot | null;
  dataSources: string[];
}

export interface PatientHistory {
  patient: string;
  /** Cumulative dose by as-of day (the latest recorded snapshot of each day). */
  exposureByDate: Array<{
    asOf: string;
    cumulativeMg: number | null;
    lowerBound: boolean;
    currentDailyMg: number | null;
    crossedOn: string | null;
  }>;
  invocations: Page<InvocationRecord>;
  writeBacks: Array<{
    seq: number;
    recordedAt: string;
    studyUid: string | null;
    studyDate: string | null;
    resourceRefs: string[];
  }>;
}

interface FeedbackRow {
  card_uuid: string;
  outcome: string;
  outcome_iso: string;
  override_code: string | null;
  override_display: string | null;
  user_comment: string | null;
}

async function feedbackFor(db: Queryable, uuids: string[]): Promise<Map<string, CardWithFeedback['feedback']>> {
  const out = new Map<string, CardWithFeedback['feedback']>();
  if (!uuids.length) return out;
  const rows = await db.query<FeedbackRow>(
    `select card_uuid, outcome, to_char(outcome_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as outcome_iso,
            override_code, override_display, user_comment
       from card_feedback where card_uuid = any($1::text[]) order by outcome_at, seq`,
    [uuids],
  );
  for (const r of rows) {
    const list = out.get(r.card_uuid) ?? [];
    list.push({
      outcome: r.outcome,
      outcomeTimestamp: r.outcome_iso,
      overrideReason:
        r.override_code || r.override_display ? { code: r.override_code, display: r.override_display } : null,
      userComment: r.user_comment,
    });
    out.set(r.card_uuid, list);
  }
  return out;
}

/** One patient's recorded exposure history and every recommendation shown, newest first. */
export async function patientHistory(
  db: Queryable,
  patientId: string,
  page: PageRequest = {},
): Promise<PatientHistory> {
  const limit = limitOf(page);
  const cursor = page.cursor ? Number(page.cursor) : null;
  const rows = await db.query<{
    seq: number;
    recorded_iso: string;
    payload: HookPayload;
    tenant: string | null;
  }>(
    `select h.seq, l.recorded_iso, l.payload, l.tenant
       from hook_invocation h join audit_log l on l.seq = h.seq
      where h.patient_id = $1 and ($2::bigint is null or h.seq < $2)
      order by h.seq desc limit $3`,
    [patientId, cursor, limit + 1],
  );
  const pageRows = rows.slice(0, limit);
  const uuids = pageRows.flatMap((r) => r.payload.cards.map((c) => c.uuid));
  const feedback = await feedbackFor(db, uuids);
  const sets = await readContributionSets(
    db,
    pageRows.flatMap((r) => (isStoredExposure(r.payload.exposure) ? [r.payload.exposure.contributionsRef] : [])),
  );
  const invocations: InvocationRecord[] = pageRows.map((r) => {
    const p = r.payload;
    return {
      seq: r.seq,
      recordedAt: r.recorded_iso,
      service: p.service,
      hook: p.hook,
      hookInstance: p.hookInstance,
      userRef: p.userRef ?? null,
      tenant: r.tenant,
      clientIss: p.clientIss ?? null,
      latencyMs: p.latencyMs ?? null,
      cards: p.cards.map((c) => ({
        uuid: c.uuid,
        indicator: c.indicator,
        summary: c.summary,
        feedback: feedback.get(c.uuid) ?? [],
      })),
      exposure: inflateExposure(p.exposure, sets),
      dataSources: p.dataSources ?? [],
    };
  });
  const byDate = await db.query<{
    as_of: string;
    cumulative_mg: number | null;
    lower_bound: boolean;
    current_daily_mg: number | null;
    crossed_on: string | null;
  }>(
    `select distinct on (as_of) as_of, cumulative_mg, lower_bound, current_daily_mg, crossed_on
       from exposure_snapshot where patient_id = $1 order by as_of, seq desc`,
    [patientId],
  );
  const writeBacks = await db.query<{
    seq: number;
    recorded_iso: string;
    study_uid: string | null;
    study_date: string | null;
    resource_refs: string[];
  }>(
    `select w.seq, l.recorded_iso, w.study_uid, w.study_date, w.resource_refs
       from write_back w join audit_log l on l.seq = w.seq where w.patient_id = $1 order by w.seq desc limit 100`,
    [patientId],
  );
  return {
    patient: patientId,
    exposureByDate: byDate.map((r) => ({
      asOf: r.as_of,
      cumulativeMg: r.cumulative_mg,
      lowerBound: r.lower_bound,
      currentDailyMg: r.current_daily_mg,
      crossedOn: r.crossed_on,
    })),
    invocations: {
      items: invocations,
      nextCursor: rows.length > limit ? String(pageRows[pageRows.length - 1]!.seq) : null,
    },
    writeBacks: writeBacks.map((w) => ({
      seq: w.seq,
      recordedAt: w.recorded_iso,
      studyUid: w.study_uid,
      studyDate: w.study_date,
      resourceRefs: w.resource_refs,
    })),
  };
}

export interface CrossingRow {
  patient: string;
  crossedOn: string;
  firstWbMri: string | null;
  daysToImaging: number | null;
}

export interface CrossingReport extends Page<CrossingRow> {
  thresholdMg: number;
  from: string;
  to: string;
  /** Over the whole window, not only this page. */
  summary: { crossed: number; imaged: number; medianDaysToImaging: number | null };
}

/** Patients whose cumulative dose first crossed the threshold in [from, to), and whether and when a WB-MRI followed. */
export async function thresholdCrossings(
  db: Queryable,
  q: { from: string; to: string; thresholdMg: number } & PageRequest,
): Promise<CrossingReport> {
  const limit = limitOf(q);
  const base = `with first as (
      select patient_id, min(crossed_on) as crossed_on from threshold_crossing where threshold_mg = $1 group by patient_id
    ), windowed as (
      select f.patient_id, f.crossed_on,
             (select min(w.study_date) from wbmri_study w where w.patient_id = f.patient_id and w.study_date >= f.crossed_on) as first_wbmri
        from first f where f.crossed_on >= $2 and f.crossed_on < $3
    )`;
  const rows = await db.query<{
    patient_id: string;
    crossed_on: string;
    first_wbmri: string | null;
    days: number | null;
  }>(
    `${base} select patient_id, crossed_on, first_wbmri, (first_wbmri - crossed_on) as days from windowed
      where ($4::text is null or patient_id > $4) order by patient_id limit $5`,
    [q.thresholdMg, q.from, q.to, q.cursor ?? null, limit + 1],
  );
  const summary = await db.query<{ crossed: number; imaged: number; median: number | null }>(
    `${base} select count(*) as crossed, count(first_wbmri) as imaged,
       percentile_cont(0.5) within group (order by (first_wbmri - crossed_on)) as median from windowed`,
    [q.thresholdMg, q.from, q.to],
  );
  const items = rows
    .slice(0, limit)
    .map((r) => ({ patient: r.patient_id, crossedOn: r.crossed_on, firstWbMri: r.first_wbmri, daysToImaging: r.days }));
  const s = summary[0]!;
  return {
    thresholdMg: q.thresholdMg,
    from: q.from,
    to: q.to,
    items,
    nextCursor: rows.length > limit ? items[items.length - 1]!.patient : null,
    summary: {
      crossed: Number(s.crossed),
      imaged: Number(s.imaged),
      medianDaysToImaging: s.median === null ? null : Number(s.median),
    },
  };
}

export interface CardReport
  extends Page<{
    uuid: string;
    service: string;
    patient: string | null;
    indicator: string;
    summary: string;
    shownAt: string;
    response: string;
    overrideReason: string | null;
  }> {
  from: string;
  to: string;
  byService: Array<{ service: string; shown: number; accepted: number; overridden: number; noResponse: number }>;
  overrideReasons: Array<{ service: string; code: string | null; display: string | null; count: number }>;
}

/** Cards shown in [from, to) and what clinicians did with them, by service. */
export async function cardResponses(
  db: Queryable,
  q: { from: string; to: string; service?: string } & PageRequest,
): Promise<CardReport> {
  const limit = limitOf(q);
  const params = [q.from, q.to, q.service ?? null];
  const byService = await db.query<{
    service: string;
    shown: number;
    accepted: number;
    overridden: number;
    no_response: number;
  }>(
    `select c.service, count(*) as shown,
            count(*) filter (where f.accepted) as accepted,
            count(*) filter (where f.overridden) as overridden,
            count(*) filter (where f.n = 0) as no_response
       from card c
       cross join lateral (select count(*) as n, coalesce(bool_or(outcome = 'accepted'), false) as accepted,
                                  coalesce(bool_or(outcome = 'overridden'), false) as overridden
                             from card_feedback f where f.card_uuid = c.card_uuid) f
      where c.recorded_at >= $1 and c.recorded_at < $2 and ($3::text is null or c.service = $3)
      group by c.service order by c.service`,
    params,
  );
  const reasons = await db.query<{
    service: string;
    override_code: string | null;
    override_display: string | null;
    n: number;
  }>(
    `select f.service, f.override_code, f.override_display, count(*) as n
       from card_feedback f join card c on c.card_uuid = f.card_uuid
      where f.outcome = 'overridden' and c.recorded_at >= $1 and c.recorded_at < $2 and ($3::text is null or c.service = $3)
      group by f.service, f.override_code, f.override_display order by n desc, f.service`,
    params,
  );
  const cursor = q.cursor ? q.cursor.split('|') : null;
  const rows = await db.query<{
    card_uuid: string;
    service: string;
    patient_id: string | null;
    indicator: string;
    summary: string;
    shown_iso: string;
    outcome: string | null;
    override_display: string | null;
    override_code: string | null;
  }>(
    `select c.card_uuid, c.service, c.patient_id, c.indicator, c.summary,
            to_char(c.recorded_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as shown_iso,
            f.outcome, f.override_display, f.override_code
       from card c
       left join lateral (select outcome, override_display, override_code from card_feedback f
                           where f.card_uuid = c.card_uuid order by outcome_at desc, seq desc limit 1) f on true
      where c.recorded_at >= $1 and c.recorded_at < $2 and ($3::text is null or c.service = $3)
        and ($4::timestamptz is null or (c.recorded_at, c.card_uuid) < ($4::timestamptz, $5::text))
      order by c.recorded_at desc, c.card_uuid desc limit $6`,
    [...params, cursor?.[0] ?? null, cursor?.[1] ?? null, limit + 1],
  );
  const items = rows.slice(0, limit).map((r) => ({
    uuid: r.card_uuid,
    service: r.service,
    patient: r.patient_id,
    indicator: r.indicator,
    summary: r.summary,
    shownAt: r.shown_iso,
    response: r.outcome ?? 'none',
    overrideReason: r.override_display ?? r.override_code,
  }));
  const last = items[items.length - 1];
  return {
    from: q.from,
    to: q.to,
    items,
    nextCursor: rows.length > limit && last ? `${last.shownAt}|${last.uuid}` : null,
    byService: byService.map((s) => ({
      service: s.service,
      shown: Number(s.shown),
      accepted: Number(s.accepted),
      overridden: Number(s.overridden),
      noResponse: Number((s as unknown as { no_response: number }).no_response),
    })),
    overrideReasons: reasons.map((r) => ({
      service: r.service,
      code: r.override_code,
      display: r.override_display,
      count: Number(r.n),
    })),
  };
}

/** Audit rows recorded in [from, to), in time order, keyset-paged by (time, sequence number). */
export async function auditRows(db: Queryable, q: { from: string; to: string } & PageRequest): Promise<Page<AuditRow>> {
  const limit = limitOf(q, 5000);
  const [afterTime, afterSeq] = q.cursor ? q.cursor.split('|') : [null, null];
  const rows = await db.query<AuditLogDbRow>(
    `select seq, recorded_iso, kind, patient_id, tenant, actor, payload, hash from audit_log
      where recorded_at >= $1 and recorded_at < $2
        and ($3::timestamptz is null or (recorded_at, seq) > ($3::timestamptz, $4::bigint))
      order by recorded_at, seq limit $5`,
    [q.from, q.to, afterTime ?? null, afterSeq ?? null, limit + 1],
  );
  const items = rows.slice(0, limit).map(auditRowOf);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? `${last.recordedAt}|${last.seq}` : null };
}
