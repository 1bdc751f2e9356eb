/**
 * order-select / order-sign: what the draft glucocorticoid orders do to the cumulative dose. The drafts are
 * counted from their start (or today) to their end; an open-ended draft is projected for 30 days, and current
 * open-ended therapy is assumed to continue over the same horizon. A draft that changes an existing order — it
 * names it in `priorPrescription`, or it is for the same glucocorticoid as an active order running today — is
 * projected in place of that order (which stops the day before the draft starts), not on top of it.
 */
import type { MedicationRequest, Resource } from '@medplum/fhirtypes';
import { dayFromIso, isoFromDay } from '../exposure/dates.ts';
import { computeExposure, type ExposureConfig, type ExposureSummary } from '../exposure/index.ts';

export const OPEN_DRAFT_PROJECTION_DAYS = 30;
const MAX_HORIZON_DAYS = 366;

/** The CDS Hooks Sandbox's R4 drafts are not valid R4 (category and reasonCode objects, no intent): repair what can be. */
export function normaliseDraft(
  r: Record<string, unknown>,
  patientId: string,
  asOf: string,
  index: number,
): MedicationRequest {
  const d = { ...r } as Record<string, unknown>;
  if (d.category && !Array.isArray(d.category)) d.category = [d.category];
  if (d.reasonCode && !Array.isArray(d.reasonCode)) d.reasonCode = [d.reasonCode];
  // The official CDS Hooks library examples write Dosage.doseAndRate as one object.
  if (Array.isArray(d.dosageInstruction))
    d.dosageInstruction = d.dosageInstruction.map((x: Record<string, unknown>) =>
      x?.doseAndRate && !Array.isArray(x.doseAndRate) ? { ...x, doseAndRate: [x.doseAndRate] } : x,
    );
  d.intent ??= 'order';
  d.status ??= 'draft';
  d.id ??= `draft-${index + 1}`;
  d.subject ??= { reference: `Patient/${patientId}` };
  d.authoredOn ??= asOf;
  return d as unknown as MedicationRequest;
}

export interface Projection {
  /** Glucocorticoid drafts (others are ignored). */
  draftSources: string[];
  /** Active orders the drafts replace (counted up to the day before the draft starts). */
  replaced: string[];
  draftMg: number | null;
  /** The drafts' prednisolone-equivalent mg on a dosing day (the largest, over the drafts). */
  draftDailyMg: number | null;
  horizon: string;
  openEnded: boolean;
  projected: ExposureSummary;
}

export function projectDrafts(
  records: Resource[],
  now: ExposureSummary,
  drafts: MedicationRequest[],
  patientId: string,
  asOf: string,
  config: ExposureConfig,
): Projection | null {
  if (!drafts.length) return null;
  const today = dayFromIso(asOf);
  const far = isoFromDay(today + MAX_HORIZON_DAYS);
  const alone = computeExposure({
    resources: drafts,
    patient: patientId,
    asOf: far,
    config,
    countDrafts: true,
    timeline: false,
  });
  const gc = alone.contributions.filter((c) => c.resourceType === 'MedicationRequest');
  if (!gc.length) return null;
  const lastDays = gc.map((c) => (c.lastDay ? dayFromIso(c.lastDay) : today));
  const openEnded = lastDays.some((d) => d >= today + MAX_HORIZON_DAYS);
  const end = openEnded ? today + OPEN_DRAFT_PROJECTION_DAYS - 1 : Math.max(today, ...lastDays);
  const horizon = isoFromDay(end);
  const { records: projectedRecords, replaced } = replaceChangedOrders(records, drafts, gc, now, asOf);
  const projected = computeExposure({
    resources: [...projectedRecords, ...drafts],
    patient: patientId,
    asOf: horizon,
    config,
    countDrafts: true,
    timeline: false,
  });
  const draftIds = new Set(gc.map((c) => c.source));
  const draftContribs = projected.contributions.filter((c) => draftIds.has(c.source));
  const draftMg = draftContribs.some((c) => c.mg === null) ? null : draftContribs.reduce((s, c) => s + (c.mg ?? 0), 0);
  const daily = gc.map((c) => (c.mg === null || c.days === 0 ? null : c.mg / c.days));
  const draftDailyMg = daily.some((d) => d === null) ? null : Math.max(...(daily as number[]));
  return { draftSources: [...draftIds], replaced, draftMg, draftDailyMg, horizon, openEnded, projected };
}

/**
 * The orders the drafts change, each replaced by a copy that ends the day before its draft starts: by
 * `priorPrescription`, or an active MedicationRequest of the same glucocorticoid counted through today. The
 * copy keeps its past (nothing before the draft changes) and has no supply left to run on after it.
 */
function replaceChangedOrders(
  records: Resource[],
  drafts: MedicationRequest[],
  draftContributions: ExposureSummary['contributions'],
  now: ExposureSummary,
  asOf: string,
): { records: Resource[]; replaced: string[] } {
  const running = new Map(
    now.contributions
      .filter((c) => c.resourceType === 'MedicationRequest' && c.status === 'counted' && c.lastDay === asOf)
      .map((c) => [c.source, c.ingredient]),
  );
  const stopBefore = new Map<string, string>();
  for (const d of drafts) {
    const start = d.dosageInstruction?.[0]?.timing?.repeat?.boundsPeriod?.start?.slice(0, 10) ?? asOf;
    const ingredient = draftContributions.find((c) => c.source === `MedicationRequest/${d.id}`)?.ingredient;
    const prior = d.priorPrescription?.reference;
    for (const [source, ing] of running)
      if (source === prior || (ingredient && ing === ingredient)) stopBefore.set(source, start);
  }
  if (!stopBefore.size) return { records, replaced: [] };
  const out = records.map((r) => {
    const start = stopBefore.get(`${r.resourceType}/${r.id}`);
    if (!start) return r;
    const order = r as MedicationRequest;
    const {
      expectedSupplyDuration: _s,
      quantity: _q,
      numberOfRepeatsAllowed: _n,
      ...dispense
    } = order.dispenseRequest ?? {};
    const last = isoFromDay(dayFromIso(start) - 1);
    return {
      ...order,
      dispenseRequest: { ...dispense, validityPeriod: { ...dispense.validityPeriod, end: last } },
    } as MedicationRequest;
  });
  return { records: out, replaced: [...stopBefore.keys()] };
}
