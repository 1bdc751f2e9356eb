/**
 * Where each step of a regimen lies in wall-clock time (dates.ts): [start, end), end exclusive.
 *
 * A step starts at its own boundsPeriod.start, else where the previous step handed over (the record's start for
 * the first). It ends at its boundsPeriod.end, after its boundsDuration, or — when `count` ends it — where its
 * next dose would have fallen (count doses, then the next step carries on the rhythm), never later than its
 * bounds. Only the last step may run open to the record's end. A step with none of these has no known length:
 * it is not counted, and the steps that would follow it cannot be placed (a step with its own start date still
 * can). A step whose start lies inside the previous step ends that step there, so a change-over day is not
 * counted twice. A MedicationStatement's steps stop at its effectivePeriod end; a MedicationRequest's at its
 * validityPeriod end.
 */
import { addMonths, DAY_MS, parseFhirDate } from './dates.ts';
import { type Collector, type EvaluationContext, fmt } from './evaluation.ts';
import type { MedicationFacts } from './medication.ts';
import { layPattern } from './schedule.ts';
import { asOfSpan, type RecordWindow, type StepDosage } from './steps.ts';
import { type DosePattern, dosesPerDay } from './timing.ts';
import { type DoseAmount, doseAmount, durationDays, durationUnit } from './units.ts';

/** How far the recorded schedule is followed after the as-of day (threshold projection): ten years. */
export const PROJECTION_HORIZON_DAYS = 3653;

export interface StepInput {
  sd: StepDosage;
  /** Undefined when the timing could not be read (the issue is already reported). */
  pattern?: DosePattern;
  /** Ingredient mg per administration, frequency-range scale included; undefined when not counted. */
  perDoseMg?: number;
  /** How the dose reads in the derivation ("10 mg", "20 mg (4 tablet × 5 mg)"). */
  doseLabel?: string;
}

export interface PlannedStep extends StepInput {
  group: number;
  startMs: number;
  /** Exclusive end; undefined when the step runs open (active therapy) through the as-of day and beyond. */
  endMs?: number;
  explicitStart: boolean;
}

export interface Plan {
  steps: PlannedStep[];
  /** Some step that may be running on the as-of day could not be placed or measured. */
  currentUnknown: boolean;
}

type Interval =
  | { kind: 'placed'; startMs: number; endMs?: number; explicitStart: boolean }
  | { kind: 'unknown-length'; startMs: number }
  | { kind: 'not-placed' }
  | { kind: 'failed'; startMs: number };

interface Context {
  window: RecordWindow;
  isStatement: boolean;
  strength: MedicationFacts['strength'];
  c: Collector;
  horizonEndMs: number;
}

export function planSteps(
  groups: StepInput[][],
  window: RecordWindow,
  isStatement: boolean,
  facts: MedicationFacts,
  ctx: EvaluationContext,
  c: Collector,
): Plan {
  const asOf = asOfSpan(ctx.asOf);
  const horizonEndMs = asOf.endMs + PROJECTION_HORIZON_DAYS * DAY_MS;
  const pc: Context = { window, isStatement, strength: facts.strength, c, horizonEndMs };
  const steps: PlannedStep[] = [];
  const unknownLength: number[] = [];
  const notPlaced: number[] = [];
  let currentUnknown = false;
  let cursor: number | undefined = window.startMs;
  for (let g = 0; g < groups.length; g++) {
    let groupEnd: number | undefined;
    let lost = false;
    for (const input of groups[g]!) {
      const iv = intervalOf(input, cursor, g === groups.length - 1, pc);
      if (iv.kind === 'placed') {
        const step = input as PlannedStep;
        step.group = g;
        step.startMs = iv.startMs;
        step.endMs = iv.endMs;
        step.explicitStart = iv.explicitStart;
        steps.push(step);
        groupEnd = Math.max(groupEnd ?? Number.NEGATIVE_INFINITY, iv.endMs ?? Number.POSITIVE_INFINITY);
        continue;
      }
      lost = true;
      if (iv.kind === 'unknown-length') unknownLength.push(input.sd.step);
      if (iv.kind === 'not-placed') notPlaced.push(input.sd.step);
      // Could this step, whose end (or start) is unknown, be running on the as-of day?
      const from = (iv.kind === 'not-placed' ? undefined : iv.startMs) ?? window.startMs ?? Number.NEGATIVE_INFINITY;
      if (from < asOf.endMs && (window.endMs !== undefined ? window.endMs > asOf.startMs : window.ongoing))
        currentUnknown = true;
    }
    cursor = lost || groupEnd === undefined || !Number.isFinite(groupEnd) ? undefined : groupEnd;
  }
  if (unknownLength.length || notPlaced.length) reportLost(unknownLength, [...new Set(notPlaced)], c);
  if (groups.length > 1) cutAtNextStart(steps);
  return { steps, currentUnknown };
}

/** A step starting inside the one before it takes over from its start (the change-over day counts once). */
function cutAtNextStart(steps: PlannedStep[]): void {
  // Steps are in group order: the earliest own start of each group, then a pass over the group before it.
  const nextStart = new Map<number, number>();
  for (const s of steps)
    if (s.explicitStart)
      nextStart.set(s.group, Math.min(nextStart.get(s.group) ?? Number.POSITIVE_INFINITY, s.startMs));
  for (const s of steps) {
    const next = nextStart.get(s.group + 1);
    if (next !== undefined && s.startMs < next && (s.endMs === undefined || s.endMs > next)) s.endMs = next;
  }
}

function reportLost(unknownLength: number[], notPlaced: number[], c: Collector): void {
  const list = (xs: number[]) => (xs.length === 1 ? `step ${xs[0]}` : `steps ${xs.join(', ')}`);
  const unknown = [...new Set(unknownLength)];
  const message = unknown.length
    ? `taper ${list(unknown)} ha${unknown.length === 1 ? 's' : 've'} no end date, duration or count: length unknown` +
      (notPlaced.length ? `; ${list(notPlaced)} after it cannot be placed` : '')
    : `${list(notPlaced)} follow${notPlaced.length === 1 ? 's' : ''} a step whose end could not be read and cannot be placed`;
  c.add('step-without-bounds', `${message}; not counted`, 'error');
}

function intervalOf(input: StepInput, cursor: number | undefined, isLast: boolean, pc: Context): Interval {
  const { window, c } = pc;
  const repeat = input.sd.bounds.timing?.repeat;
  const bp = repeat?.boundsPeriod;
  const ownStart = parseFhirDate(bp?.start);
  let startMs = ownStart?.wallMs ?? cursor;
  if (startMs === undefined) return { kind: 'not-placed' };
  let endMs = parseFhirDate(bp?.end)?.wallEndMs;
  let ownEnd = endMs !== undefined;
  if (endMs === undefined && repeat?.boundsDuration) {
    endMs = afterDuration(startMs, repeat.boundsDuration);
    if (endMs === undefined) {
      c.add(
        'unknown-period-unit',
        `boundsDuration unit "${durationUnit(repeat.boundsDuration)}" is not a time unit`,
        'error',
      );
      return { kind: 'failed', startMs };
    }
    ownEnd = true;
  }
  const count = input.sd.dosage.timing?.repeat?.count;
  if (count !== undefined) {
    if (!input.pattern) return endMs === undefined ? { kind: 'failed', startMs } : placed(startMs, endMs, ownStart);
    // The bounds are the outer limits; the count ends the step where its next dose would have fallen.
    const cap = endMs ?? pc.horizonEndMs;
    endMs = layPattern(input.pattern, startMs, cap, input.pattern.count ?? count, () => {}).nextMs ?? cap;
    ownEnd = true;
  }
  if (endMs === undefined) {
    if (!isLast) return { kind: 'unknown-length', startMs };
    const open = closeOpenEnd(input, startMs, pc);
    if (open === 'failed') return { kind: 'failed', startMs };
    if (open.startMs !== undefined) startMs = open.startMs;
    endMs = open.endMs;
  }
  if (pc.isStatement && window.endMs !== undefined) endMs = Math.min(endMs ?? window.endMs, window.endMs);
  if (!pc.isStatement && ownEnd && window.validityEndMs !== undefined && endMs! > window.validityEndMs) {
    endMs = window.validityEndMs;
    c.add(
      'bounds-after-validity',
      'dosage bounds run past the prescription validity end; counted to that end',
      'warning',
    );
  }
  return placed(startMs, endMs, ownStart);
}

const placed = (startMs: number, endMs: number | undefined, ownStart: unknown): Interval => ({
  kind: 'placed',
  startMs,
  endMs,
  explicitStart: ownStart !== undefined,
});

/** boundsDuration after `startMs`: calendar months and years from the start day, other units exactly. */
function afterDuration(startMs: number, d: { value?: number; code?: string; unit?: string }): number | undefined {
  const unit = durationUnit(d);
  const value = d.value ?? 0;
  const day = Math.floor(startMs / DAY_MS);
  const time = startMs - day * DAY_MS;
  if (unit === 'mo' || unit === 'month' || unit === 'months') return addMonths(day, value) * DAY_MS + time;
  if (unit === 'a' || unit === 'year' || unit === 'years') return addMonths(day, value * 12) * DAY_MS + time;
  const days = durationDays(d);
  if (days === undefined) return undefined;
  // Whole days, at least one, as a course of "n days" is counted (README).
  return startMs + Math.max(1, Math.ceil(days - 1e-9)) * DAY_MS;
}

/** The end of the last step when nothing in the step bounds it: the record's end, or how it says to close. */
function closeOpenEnd(input: StepInput, startMs: number, pc: Context): { startMs?: number; endMs?: number } | 'failed' {
  const { window, c } = pc;
  if (window.endMs !== undefined) return { endMs: window.endMs };
  const open = window.openEnd;
  if (open === 'as-of') {
    c.add('open-ended-through-as-of', 'no end date; active therapy counted through the as-of day', 'info');
    return {};
  }
  if (open === 'single-day') {
    c.add('single-day-assumed', 'only a single effective date; counted for that day only', 'warning');
    const day = Math.floor(startMs / DAY_MS) * DAY_MS;
    return { startMs: day, endMs: day + DAY_MS };
  }
  if (open === 'unknown') {
    c.add('duration-unknown', 'the record has ended but gives no end date or duration; not counted', 'error');
    return 'failed';
  }
  if (open === 'stopped') {
    c.add(
      'stopped-without-end',
      'the record was stopped but gives no end date, so the stop day is unknown; not counted',
      'error',
    );
    return 'failed';
  }
  if ('supplyDays' in open) {
    c.add('duration-from-supply', `duration taken from the expected supply (${open.supplyDays} d)`, 'info');
    return { endMs: startMs + open.supplyDays * DAY_MS };
  }
  const days = input.pattern && supplyDays(open.supplyQuantity, input, input.pattern, pc);
  if (days === undefined || !Number.isFinite(days) || days <= 0) {
    c.add('duration-unknown', 'dispense quantity cannot be converted to a duration', 'error');
    return 'failed';
  }
  const whole = Math.ceil(days - 1e-9);
  c.add('duration-from-supply', `duration taken from the dispensed quantity (${fmt(whole)} d)`, 'info');
  return { endMs: startMs + whole * DAY_MS };
}

/**
 * Days a dispensed quantity lasts: in dose units when both are counted in the same units, else through mg
 * (P4). Both use the dose as laid: the frequency-range scale (midpoint policy) included.
 */
function supplyDays(
  q: Exclude<DoseAmount, { kind: 'unknown' | 'per-weight' }>,
  input: StepInput,
  pattern: DosePattern,
  pc: Context,
): number | undefined {
  const perDay = dosesPerDay(pattern);
  const doseQ = input.sd.dosage.doseAndRate?.[0]?.doseQuantity;
  const units = doseQ ? doseAmount(doseQ) : undefined;
  if (q.kind === 'count' && units?.kind === 'count' && units.count > 0)
    return q.count / (units.count * pattern.doseScale * perDay);
  if (input.perDoseMg === undefined) return undefined;
  const { strength } = pc;
  const qMg =
    q.kind === 'mass'
      ? q.mg
      : q.kind === 'volume'
        ? (strength.mgPerMl ?? Number.NaN) * q.mL
        : (strength.mgPerUnit ?? Number.NaN) * q.count;
  return qMg / (input.perDoseMg * perDay);
}
