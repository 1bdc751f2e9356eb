/**
 * The exposure engine: FHIR medication records in, cumulative prednisolone-equivalent exposure out.
 * Pure: no I/O, no clock. "Now" is the as-of day the caller passes.
 */
import type {
  Medication,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { DEFAULT_EXPOSURE_CONFIG, type ExposureConfig } from './config.ts';
import { type Day, dayFromIso, isoFromDay, parseFhirDate } from './dates.ts';
import type { DayDoses } from './dayDoses.ts';
import { findDuplicates, referenceKey } from './dedupe.ts';
import { evaluateRecord } from './evaluate.ts';
import type { MedicationRecord, RecordEvaluation } from './evaluation.ts';
import { PROJECTION_HORIZON_DAYS } from './plan.ts';
import { mayRunOnAsOf } from './regimen.ts';
import { asOfSpan, windowOf } from './steps.ts';
import type { Contribution, ExposureIssue, ExposureSummary, TimelineDay } from './types.ts';

export interface ExposureInput {
  /** Any FHIR resources; MedicationStatement/Request/Administration and Medication are used. */
  resources: readonly Resource[];
  /** Bundle fullUrls, so that urn:uuid references resolve. */
  fullUrls?: ReadonlyMap<Resource, string>;
  /** Patient id ("123" or "Patient/123"): records of other patients are ignored. */
  patient?: string;
  /** The as-of day, YYYY-MM-DD, inclusive. */
  asOf: string;
  config?: ExposureConfig;
  /** Count draft MedicationRequests (order-select / order-sign projections). */
  countDrafts?: boolean;
  /**
   * Build the per-day timeline (default true). Callers that only need the summary (CDS Hooks answers)
   * pass false: on years of therapy the timeline is thousands of objects nobody reads.
   */
  timeline?: boolean;
}

const RECORD_TYPES = new Set(['MedicationStatement', 'MedicationRequest', 'MedicationAdministration']);
const round2 = (n: number): number => Math.round(n * 100) / 100;
const fmt = (n: number): string => String(round2(n));

function subjectOf(r: MedicationRecord): string | undefined {
  return referenceKey(r.subject?.reference);
}

export function computeExposure(input: ExposureInput): ExposureSummary {
  const config = input.config ?? DEFAULT_EXPOSURE_CONFIG;
  const asOf: Day = dayFromIso(input.asOf);
  const patientKey = input.patient
    ? input.patient.includes('/')
      ? input.patient
      : `Patient/${input.patient}`
    : undefined;

  const medications = new Map<string, Medication>();
  const records: Array<{ record: MedicationRecord; fullUrl?: string }> = [];
  const seenIds = new Set<string>();
  for (const r of input.resources) {
    const fullUrl = input.fullUrls?.get(r);
    if (r.resourceType === 'Medication') {
      if (r.id) medications.set(`Medication/${r.id}`, r);
      if (fullUrl) medications.set(fullUrl, r);
      continue;
    }
    if (!RECORD_TYPES.has(r.resourceType)) continue;
    const rec = r as MedicationRecord;
    if (patientKey && subjectOf(rec) !== patientKey) continue;
    const key = `${r.resourceType}/${r.id ?? fullUrl ?? records.length}`;
    if (seenIds.has(key)) continue;
    seenIds.add(key);
    records.push({ record: rec, fullUrl });
  }

  const issues: ExposureIssue[] = [];
  // Set by resolveMedication when a "#id" was found beside the record in the Bundle rather than contained.
  const repaired: string[] = [];
  const resolveMedication = (record: MedicationRecord, ref: Reference): Medication | undefined => {
    const reference = ref.reference;
    if (!reference) return undefined;
    if (reference.startsWith('#')) {
      const id = reference.slice(1);
      const contained = record.contained?.find((c): c is Medication => c.resourceType === 'Medication' && c.id === id);
      if (contained) return contained;
      // Published examples (the French medication IG) put the Medication beside the order in the Bundle and
      // still write "#id": the same id in the same Bundle is that Medication, said so in a warning.
      const beside = medications.get(`Medication/${id}`);
      if (beside) repaired.push(reference);
      return beside;
    }
    const key = referenceKey(reference);
    return (key && medications.get(key)) || medications.get(reference);
  };

  // Set when a record that may be running on the as-of day could not be quantified.
  let currentUnknown = false;
  const evaluated: Array<{ record: MedicationRecord; evaluation: RecordEvaluation; fullUrl?: string }> = [];
  const ctx = { asOf, config, medication: resolveMedication, countDrafts: input.countDrafts };
  for (const { record, fullUrl } of records) {
    repaired.length = 0;
    const ev = evaluateRecord(record, ctx);
    if (ev === null) continue;
    const ref = repaired[0];
    if (ref) {
      issues.push({
        source: `${record.resourceType}/${record.id ?? '(no id)'}`,
        code: 'contained-reference-in-bundle',
        message: `medicationReference ${ref} is not contained in the record; Medication/${ref.slice(1)} of the same Bundle used`,
        severity: 'warning',
      });
    }
    if ('unidentified' in ev) {
      issues.push(startsAfter(record, asOf) ? notYet(ev.unidentified) : ev.unidentified);
      // An unidentified record may be a glucocorticoid being taken now: today's dose is then unknown.
      if (mayBeTakenOn(record, asOf, input.countDrafts)) currentUnknown = true;
      continue;
    }
    evaluated.push({ record, evaluation: ev, fullUrl });
  }

  const duplicates = new Map(findDuplicates(evaluated).map((d) => [d.source, d.countedVia]));
  // Counted mg per day in a dense array from the earliest counted day to the as-of day.
  let minDay = asOf + 1;
  for (const { evaluation: ev } of evaluated) if (!ev.days.isEmpty) minDay = Math.min(minDay, ev.days.first);
  const perDay = new Float64Array(Math.max(0, asOf - minDay + 1));
  const contributions: Contribution[] = [];
  let anyQuantified = false;
  let anyUnquantified = false;
  let currentDaily = 0;
  // What each counted record schedules after the as-of day, laid only if the threshold must be projected.
  const ahead: Array<{ future: () => DayDoses; factor: number }> = [];

  for (const { record, evaluation: ev } of evaluated) {
    // A record that starts after the as-of day adds nothing through it, whatever could not be read of it (its
    // status unknown, its dose missing): that does not make the total unknown, a lower bound, as of that day.
    // Doses laid through the as-of day say it began: never "later", whatever its dates say.
    const later = ev.days.isEmpty && startsAfter(record, asOf);
    issues.push(...(later ? ev.issues.map(notYet) : ev.issues));
    const countedVia = duplicates.get(ev.source);
    const ingredientMg = ev.days.total;
    const dayCount = ev.days.size;
    let status = later && ev.status === 'unquantified' ? 'excluded' : ev.status;
    if (countedVia && status !== 'unquantified') status = 'duplicate';
    const factor = ev.factor;
    let mg: number | null = null;
    if (status === 'counted' && factor !== null) {
      mg = ingredientMg * factor;
      ev.days.addInto(perDay, minDay, factor);
      currentDaily += ev.currentDailyIngredientMg * factor;
      if (ev.currentDailyUnknown) currentUnknown = true;
      if (ev.future) ahead.push({ future: ev.future, factor });
      if (dayCount > 0) anyQuantified = true;
    } else if (status === 'excluded' || status === 'duplicate') {
      mg = 0;
    } else if (
      ev.currentDailyIngredientMg > 0 ||
      (ev.currentDailyUnknown ?? mayBeTakenOn(record, asOf, input.countDrafts))
    ) {
      // Not counted (no equivalence factor, status unknown, no dose…) but possibly taken on the as-of day.
      currentUnknown = true;
    }
    if (ev.partial && !later) anyUnquantified = true;
    const head = `${ev.ingredient} ${ev.route}`;
    const body = ev.steps.length ? ev.steps.join('; ') : 'not quantified';
    const eq =
      factor !== null && factor !== 1 && status === 'counted'
        ? ` → × ${fmt(factor)} = ${fmt(mg ?? 0)} mg prednisolone-equivalent`
        : '';
    const tail =
      status === 'duplicate'
        ? ` (counted via ${countedVia})`
        : status === 'excluded'
          ? later
            ? ' (starts after the as-of day: not counted yet)'
            : ' (not counted)'
          : '';
    contributions.push({
      source: ev.source,
      resourceType: ev.resourceType,
      ingredient: ev.ingredient,
      route: ev.route,
      mg: mg === null ? null : round2(mg),
      ingredientMg: ev.status === 'unquantified' && dayCount === 0 ? null : round2(ingredientMg),
      days: dayCount,
      firstDay: dayCount ? isoFromDay(ev.days.first) : null,
      lastDay: dayCount ? isoFromDay(ev.days.last) : null,
      status,
      derivation: `${head}: ${body}${eq}${tail}`,
      ...(countedVia ? { countedVia } : {}),
    });
  }

  const timeline: TimelineDay[] = [];
  let running = 0;
  let crossedOn: string | null = null;
  const wantTimeline = input.timeline !== false;
  let firstExposure: string | null = null;
  let peak = 0;
  let peakDay: string | null = null;
  for (let i = 0; i < perDay.length; i++) {
    const mg = perDay[i]!;
    if (mg <= 0) continue;
    running += mg;
    if (mg > peak + 1e-9) {
      peak = mg;
      peakDay = isoFromDay(minDay + i);
    }
    if (firstExposure === null) firstExposure = isoFromDay(minDay + i);
    if (wantTimeline) timeline.push({ date: isoFromDay(minDay + i), mg: round2(mg), cumulativeMg: round2(running) });
    if (crossedOn === null && running >= config.thresholdMg - 1e-9) crossedOn = isoFromDay(minDay + i);
  }
  const hasUnknown = anyUnquantified || issues.some((i) => i.severity === 'error');
  const cumulativeMg = anyQuantified ? round2(running) : hasUnknown ? null : 0;
  let projectedOn: string | null = null;
  let projectedAtCurrentDoseOn: string | null = null;
  if (crossedOn === null && cumulativeMg !== null) {
    if (!currentUnknown && currentDaily > 1e-9) {
      const daysNeeded = Math.ceil((config.thresholdMg - running) / currentDaily - 1e-9);
      projectedAtCurrentDoseOn = isoFromDay(asOf + Math.max(1, daysNeeded));
    }
    projectedOn = projectSchedule(ahead, asOf, running, config.thresholdMg);
  }
  // ISO days order as strings; sources keep the locale order they always had.
  contributions.sort((a, b) => {
    const x = a.firstDay ?? '9999';
    const y = b.firstDay ?? '9999';
    return x < y ? -1 : x > y ? 1 : a.source.localeCompare(b.source);
  });
  return {
    ...(input.patient ? { patient: patientKey!.replace(/^Patient\//, '') } : {}),
    asOf: isoFromDay(asOf),
    cumulativeMg,
    cumulativeIsLowerBound: hasUnknown && cumulativeMg !== null,
    currentDailyMg: currentUnknown || (cumulativeMg === null && currentDaily === 0) ? null : round2(currentDaily),
    firstExposure,
    peakDaily: peakDay ? { mg: round2(peak), on: peakDay } : null,
    threshold: { mg: config.thresholdMg, crossedOn, projectedOn },
    projectedAtCurrentDoseOn,
    contributions,
    issues,
    timeline,
  };
}

/**
 * The day the recorded schedules reach the threshold: each counted record's doses after the as-of day, summed
 * day by day up to the projection horizon (ten years). Null when they end first.
 */
function projectSchedule(
  ahead: ReadonlyArray<{ future: () => DayDoses; factor: number }>,
  asOf: Day,
  running: number,
  thresholdMg: number,
): string | null {
  const laid: Array<{ days: DayDoses; factor: number }> = [];
  let lastDay = asOf;
  for (const { future, factor } of ahead) {
    const days = future();
    if (days.isEmpty) continue;
    laid.push({ days, factor });
    lastDay = Math.max(lastDay, days.last);
  }
  // Only as far as the last scheduled dose (the plan stops laying at the horizon).
  const perDay = new Float64Array(Math.min(lastDay - asOf, PROJECTION_HORIZON_DAYS));
  for (const { days, factor } of laid) days.addInto(perDay, asOf + 1, factor);
  let total = running;
  for (let i = 0; i < perDay.length; i++) {
    total += perDay[i]!;
    if (total >= thresholdMg - 1e-9) return isoFromDay(asOf + 1 + i);
  }
  return null;
}

/**
 * Whether every start the record carries is after the as-of day, so that nothing of it can have been taken
 * through that day: the earliest of its effective start (statement, administration), its authoring and validity
 * (order) and every dosage's bounds start — a step is laid from its own bounds whatever the record's start, and a
 * taper's dosages need not be in order. A record with no date at all is not judged.
 */
function startsAfter(record: MedicationRecord, asOf: Day): boolean {
  const dates: Array<string | undefined> = [];
  if (record.resourceType === 'MedicationAdministration') {
    const a = record as MedicationAdministration;
    dates.push(a.effectiveDateTime, a.effectivePeriod?.start);
  } else {
    const r = record as Partial<Omit<MedicationStatement, 'resourceType'> & Omit<MedicationRequest, 'resourceType'>>;
    dates.push(r.effectiveDateTime, r.effectivePeriod?.start, r.authoredOn, r.dispenseRequest?.validityPeriod?.start);
    for (const d of [...(r.dosage ?? []), ...(r.dosageInstruction ?? [])])
      dates.push(d.timing?.repeat?.boundsPeriod?.start);
  }
  let earliest: number | undefined;
  for (const text of dates) {
    const ms = parseFhirDate(text)?.wallMs;
    if (ms !== undefined && (earliest === undefined || ms < earliest)) earliest = ms;
  }
  return earliest !== undefined && earliest >= asOfSpan(asOf).endMs;
}

/** What could not be read of a record that starts after the as-of day: said, but no longer an error as of then. */
const notYet = (i: ExposureIssue): ExposureIssue =>
  i.severity === 'error'
    ? { ...i, severity: 'warning', message: `${i.message} (the record starts after the as-of day)` }
    : i;

/** A statement or order whose doses could not be read, but which may be running on the as-of day. */
function mayBeTakenOn(record: MedicationRecord, asOf: Day, countDrafts: boolean | undefined): boolean {
  if (record.resourceType === 'MedicationAdministration' || record.status === 'on-hold') return false;
  const r = record as MedicationStatement | MedicationRequest;
  const dosages = (r.resourceType === 'MedicationStatement' ? r.dosage : r.dosageInstruction) ?? [];
  const window = windowOf(r, dosages, { countDrafts });
  // Status unknown says nothing about whether it is still taken.
  return mayRunOnAsOf(record.status === 'unknown' ? { ...window, ongoing: true } : window, asOf);
}
