/**
 * order-select / order-sign: what the draft glucocorticoid orders do to the cumulative dose. The drafts are
 * counted from their start (or today) to their end; an open-ended draft is projected for 30 days, and current
 * open-ended therapy is assumed to continue over the same horizon.
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
  draftMg: number | null;
  horizon: string;
  openEnded: boolean;
  projected: ExposureSummary;
}

export function projectDrafts(
  records: Resource[],
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
  const projected = computeExposure({
    resources: [...records, ...drafts],
    patient: patientId,
    asOf: horizon,
    config,
    countDrafts: true,
    timeline: false,
  });
  const draftIds = new Set(gc.map((c) => c.source));
  const draftContribs = projected.contributions.filter((c) => draftIds.has(c.source));
  const draftMg = draftContribs.some((c) => c.mg === null) ? null : draftContribs.reduce((s, c) => s + (c.mg ?? 0), 0);
  return { draftSources: [...draftIds], draftMg, horizon, openEnded, projected };
}
