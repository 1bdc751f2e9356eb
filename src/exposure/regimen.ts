/**
 * A MedicationStatement or MedicationRequest → the ingredient mg its dosage regimen puts on each day.
 * steps.ts reads the record's window and groups its Dosages into steps, plan.ts places each step in time and
 * schedule.ts lays the step's doses onto calendar days: through the as-of day into the total, and after it, on
 * demand and up to the projection horizon, for the threshold projection.
 */
import type { MedicationRequest, MedicationStatement } from '@medplum/fhirtypes';
import { DAY_MS, type Day, isoFromDay } from './dates.ts';
import { DayDoses } from './dayDoses.ts';
import { dosageDoseMg } from './dose.ts';
import { type Collector, type EvaluationContext, fmt, type RecordEvaluation } from './evaluation.ts';
import type { MedicationFacts } from './medication.ts';
import { type PlannedStep, PROJECTION_HORIZON_DAYS, planSteps, type StepInput } from './plan.ts';
import { layPattern } from './schedule.ts';
import { asOfSpan, groupDosages, type RecordWindow, type StepDosage, windowOf } from './steps.ts';
import { type DosePattern, dosePattern, dosesPerDay, isTimingProblem } from './timing.ts';

export function evaluateRegimen(
  record: MedicationStatement | MedicationRequest,
  facts: MedicationFacts,
  ctx: EvaluationContext,
  ev: RecordEvaluation,
  c: Collector,
): void {
  const isStatement = record.resourceType === 'MedicationStatement';
  const dosages =
    (isStatement ? (record as MedicationStatement).dosage : (record as MedicationRequest).dosageInstruction) ?? [];
  const window = windowOf(record, dosages, ctx);
  if (dosages.length === 0) {
    c.add('no-dosage', 'no dosage instruction; the dose cannot be computed', 'error');
    ev.currentDailyUnknown = mayRunOnAsOf(window, ctx.asOf);
    return;
  }
  if (window.startMs === undefined) {
    c.add('no-start-date', 'no start date (effective[x], boundsPeriod.start or authoredOn)', 'error');
    ev.currentDailyUnknown = window.ongoing;
    return;
  }
  const { groups, split } = groupDosages(record, dosages);
  if (split)
    c.add(
      'split-dosage',
      `dosages ${dosages.length > 2 ? `1–${dosages.length}` : '1 and 2'} name different times of day and no bounds of their own: counted together as one day's split doses (CH EMED split dosing), not as taper steps`,
      split === 'profile' ? 'info' : 'warning',
    );
  const inputs = groups.map((g) => g.map((sd) => readStep(sd, facts, ctx, c)));
  const plan = planSteps(inputs, window, isStatement, facts, ctx, c);
  const asOfStartMs = ctx.asOf * DAY_MS;
  const asOfEndMs = asOfStartMs + DAY_MS;
  const horizonEndMs = asOfEndMs + PROJECTION_HORIZON_DAYS * DAY_MS;
  let ahead: Counted[] | undefined;
  let doses = 0;
  let first: Day | undefined;
  let last: Day | undefined;
  let perDose = 0;
  const sink = (from: Day, to: Day, n: number): void => {
    ev.days.addRun(from, to, n * perDose);
    doses += n * (to - from + 1);
    first ??= from;
    last = to;
  };
  for (const step of plan.steps) {
    if (step.perDoseMg === undefined || step.pattern === undefined) continue;
    const s = step as Counted;
    doses = 0;
    first = undefined;
    last = undefined;
    perDose = s.perDoseMg;
    layPattern(s.pattern, s.startMs, Math.min(s.endMs ?? asOfEndMs, asOfEndMs), s.pattern.count ?? Infinity, sink);
    ev.steps.push(derivation(s, doses, first, last));
    if (s.startMs < horizonEndMs && (s.endMs === undefined || s.endMs > asOfEndMs)) {
      ahead ??= [];
      ahead.push(s);
    }
  }

  const now = currentDose(plan.steps, asOfStartMs, asOfEndMs);
  ev.currentDailyIngredientMg += now.mg;
  // Always set once the schedule is known, so the engine need not guess from the record's status.
  ev.currentDailyUnknown = ev.currentDailyUnknown === true || plan.currentUnknown || now.unknown;
  if (ahead) {
    const steps = ahead;
    ev.future = () => layAhead(steps, ctx.asOf + 1, horizonEndMs);
  }
}

type Counted = PlannedStep & { perDoseMg: number; pattern: DosePattern };

/** Dose and timing of one Dosage, with their issues; the dose is left out when it cannot be counted. */
function readStep(sd: StepDosage, facts: MedicationFacts, ctx: EvaluationContext, c: Collector): StepInput {
  const policy = ctx.config.rangePolicy;
  const input: StepInput = { sd };
  const dose = dosageDoseMg(sd.dosage, facts, policy);
  if (!dose.ok) c.add(dose.code, dose.message, 'error');
  const pattern = dosePattern(sd.dosage.timing, policy);
  if (isTimingProblem(pattern)) {
    c.add(pattern.code, pattern.message, 'error');
    return input;
  }
  input.pattern = pattern;
  // Doses the timing names but no day can hold are lost whatever the dose: said even when the dose is unknown.
  for (const n of pattern.notes) if ('lost' in n) c.add(n.code, n.message, 'error');
  if (!dose.ok) return input;
  for (const n of dose.notes) c.add(n.code, n.message, 'warning');
  for (const n of pattern.notes) if (!('lost' in n)) c.add(n.code, n.message, 'warning');
  if (sd.dosage.asNeededBoolean || sd.dosage.asNeededCodeableConcept) {
    const countIt = ctx.config.asNeededPolicy === 'count';
    c.add(
      'as-needed',
      countIt ? 'as-needed (PRN) dose counted as if taken as scheduled' : 'as-needed (PRN) dose not counted',
      countIt ? 'warning' : 'error',
    );
    if (!countIt) return input;
  }
  input.perDoseMg = dose.mg * pattern.doseScale;
  input.doseLabel = pattern.doseScale === 1 ? dose.label : `${dose.label} × ${fmt(pattern.doseScale)}`;
  return input;
}

/**
 * The daily dose on the as-of day: the steps running that day, and of those only the latest step (on a
 * change-over day the step that carries on). Unknown when one of them could not be quantified.
 */
function currentDose(steps: PlannedStep[], asOfStartMs: number, asOfEndMs: number): { mg: number; unknown: boolean } {
  let group = -1;
  let mg = 0;
  let unknown = false;
  for (const s of steps) {
    if (!(s.startMs < asOfEndMs && (s.endMs === undefined || s.endMs > asOfStartMs))) continue;
    if (s.group > group) {
      group = s.group;
      mg = 0;
      unknown = false;
    }
    if (s.group !== group) continue;
    if (s.perDoseMg === undefined || !s.pattern) unknown = true;
    else mg += s.perDoseMg * dosesPerDay(s.pattern);
  }
  return { mg, unknown };
}

/** The doses scheduled from day `fromDay` up to the horizon (the recorded schedule, for the projection). */
function layAhead(steps: Counted[], fromDay: Day, horizonEndMs: number): DayDoses {
  const out = new DayDoses();
  for (const s of steps) {
    const end = Math.min(s.endMs ?? horizonEndMs, horizonEndMs);
    layPattern(s.pattern, s.startMs, end, s.pattern.count ?? Infinity, (from, to, n) => {
      const a = Math.max(from, fromDay);
      if (to >= a) out.addRun(a, to, n * s.perDoseMg);
    });
  }
  return out;
}

function derivation(s: Counted, doses: number, first: Day | undefined, last: Day | undefined): string {
  const label = s.doseLabel ?? '';
  const mg = doses * s.perDoseMg;
  const range = first !== undefined ? `${isoFromDay(first)}…${isoFromDay(last!)}` : 'no doses by the as-of day';
  const p = s.pattern;
  const daily = 'minutes' in p.cycle && p.cycle.minutes === 1440 && !p.daysOfWeek;
  if (daily && first !== undefined && doses === p.dosesPerCycle * (last! - first + 1))
    return `${p.dosesPerCycle} × ${label}/day × ${last! - first + 1} d = ${fmt(mg)} mg (${range})`;
  return `${doses} doses × ${label} (${p.label}) = ${fmt(mg)} mg (${range})`;
}

/** Whether a record whose doses cannot be read may be running on the as-of day. */
export function mayRunOnAsOf(window: RecordWindow, asOfDay: Day): boolean {
  const asOf = asOfSpan(asOfDay);
  return (
    (window.startMs === undefined || window.startMs < asOf.endMs) &&
    (window.endMs !== undefined ? window.endMs > asOf.startMs : window.ongoing)
  );
}
