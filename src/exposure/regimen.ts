/**
 * A MedicationStatement or MedicationRequest → the ingredient mg its dosage regimen puts on each day. Every
 * Dosage is a step; steps run in `sequence` order, each from its own boundsPeriod, or for its boundsDuration /
 * count from the day after the previous step, and the last step runs to the record's end (effectivePeriod.end,
 * supply duration, or the as-of day for active therapy). Dosages sharing a sequence number run at the same time
 * (morning and evening doses).
 */
import type { Dosage, MedicationRequest, MedicationStatement } from '@medplum/fhirtypes';
import { addMonths, type Day, endDayOf, isoFromDay, parseFhirDate } from './dates.ts';
import { dosageDoseMg } from './dose.ts';
import { type Collector, type EvaluationContext, fmt, type RecordEvaluation } from './evaluation.ts';
import type { MedicationFacts } from './medication.ts';
import { dosePattern, dosesPerDay, isTimingProblem, layDoses } from './timing.ts';
import { doseAmount, durationDays, durationUnit } from './units.ts';

/** The days a record covers, before its steps are laid onto them. */
interface RecordWindow {
  start?: Day;
  /** Explicit end of the record, inclusive. */
  end?: Day;
  /** How an open end is closed when no step bounds it. */
  openEnd:
    | 'as-of'
    | 'single-day'
    | 'unknown'
    | { supplyDays: number }
    | { supplyQuantity: ReturnType<typeof doseAmount> };
}

function statementWindow(s: MedicationStatement): RecordWindow {
  if (s.effectivePeriod) {
    const start = parseFhirDate(s.effectivePeriod.start);
    const end = parseFhirDate(s.effectivePeriod.end);
    return {
      start: start?.day,
      end: end ? endDayOf(end) : undefined,
      openEnd: s.status === 'active' ? 'as-of' : 'unknown',
    };
  }
  const at = parseFhirDate(s.effectiveDateTime);
  return { start: at?.day, openEnd: s.status === 'active' ? 'as-of' : 'single-day' };
}

/** An order starts at its first bounds, validity or authoring, and lasts as long as its dispensed supply. */
function requestWindow(r: MedicationRequest, ctx: EvaluationContext): RecordWindow {
  const firstBounds = r.dosageInstruction?.find((d) => d.timing?.repeat?.boundsPeriod?.start)?.timing?.repeat
    ?.boundsPeriod;
  const start =
    parseFhirDate(firstBounds?.start)?.day ??
    parseFhirDate(r.dispenseRequest?.validityPeriod?.start)?.day ??
    parseFhirDate(r.authoredOn)?.day;
  const repeats = 1 + (r.dispenseRequest?.numberOfRepeatsAllowed ?? 0);
  const supply = r.dispenseRequest?.expectedSupplyDuration;
  if (supply) {
    const days = durationDays(supply);
    if (days !== undefined && days > 0) return { start, openEnd: { supplyDays: Math.round(days * repeats) } };
  }
  if (r.dispenseRequest?.quantity) {
    const q = doseAmount(r.dispenseRequest.quantity);
    if (q && q.kind !== 'unknown' && q.kind !== 'per-weight' && repeats >= 1) {
      const scaled =
        q.kind === 'mass'
          ? { ...q, mg: q.mg * repeats }
          : q.kind === 'volume'
            ? { ...q, mL: q.mL * repeats }
            : { ...q, count: q.count * repeats };
      return { start, openEnd: { supplyQuantity: scaled } };
    }
  }
  const validityEnd = parseFhirDate(r.dispenseRequest?.validityPeriod?.end);
  if (validityEnd) return { start, end: endDayOf(validityEnd), openEnd: 'unknown' };
  const isDraft = ctx.countDrafts && r.status === 'draft';
  return { start, openEnd: r.status === 'active' || isDraft ? 'as-of' : 'unknown' };
}

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
  if (dosages.length === 0) {
    c.add('no-dosage', 'no dosage instruction; the dose cannot be computed', 'error');
    return;
  }
  const window = isStatement
    ? statementWindow(record as MedicationStatement)
    : requestWindow(record as MedicationRequest, ctx);
  if (window.start === undefined) {
    c.add('no-start-date', 'no start date (effective[x], boundsPeriod.start or authoredOn)', 'error');
    return;
  }

  // Group by sequence; dosages without a sequence keep their order after numbered ones of the same position.
  const indexed = dosages.map((d, i) => ({ d, i, seq: d.sequence ?? Number.NaN }));
  const anySeq = indexed.some((x) => !Number.isNaN(x.seq));
  const groups: Dosage[][] = [];
  if (anySeq) {
    const sorted = [...indexed].sort(
      (a, b) => (Number.isNaN(a.seq) ? Infinity : a.seq) - (Number.isNaN(b.seq) ? Infinity : b.seq) || a.i - b.i,
    );
    let current: number | undefined;
    for (const x of sorted) {
      if (groups.length === 0 || x.seq !== current || Number.isNaN(x.seq)) groups.push([]);
      groups[groups.length - 1]!.push(x.d);
      current = x.seq;
    }
  } else {
    // Without sequence numbers, several dosages with their own bounds are steps; without bounds they are
    // concurrent parts of one day (e.g. 10 mg morning + 5 mg evening).
    const allBounded =
      dosages.length > 1 &&
      dosages.every(
        (d) => d.timing?.repeat?.boundsPeriod || d.timing?.repeat?.boundsDuration || d.timing?.repeat?.count,
      );
    if (allBounded) for (const d of dosages) groups.push([d]);
    else groups.push([...dosages]);
  }

  let cursor = window.start;
  for (let g = 0; g < groups.length; g++) {
    const step: StepContext = { facts, ctx, ev, c, window, cursor, isLastGroup: g === groups.length - 1 };
    let groupEnd = cursor - 1;
    for (const dosage of groups[g]!) {
      const stepEnd = evaluateStep(dosage, step);
      if (stepEnd === undefined) continue;
      groupEnd = Math.max(groupEnd, stepEnd);
    }
    cursor = groupEnd + 1;
  }
}

/** The record a step belongs to, and where the step stands in its regimen. */
interface StepContext {
  facts: MedicationFacts;
  ctx: EvaluationContext;
  ev: RecordEvaluation;
  c: Collector;
  window: RecordWindow;
  /** Where an unbounded step starts: the day after the previous group of steps ended. */
  cursor: Day;
  /** Only the last group may run open to the record's end; an earlier unbounded step has no known length. */
  isLastGroup: boolean;
}

/** Lays one Dosage; returns the last day of its step (for the next step's start), or undefined. */
function evaluateStep(dosage: Dosage, step: StepContext): Day | undefined {
  const { facts, ctx, ev, c, window, cursor } = step;
  const policy = ctx.config.rangePolicy;
  const dose = dosageDoseMg(dosage, facts, policy);
  if (!dose.ok) {
    c.add(dose.code, dose.message, 'error');
    return undefined;
  }
  const pattern = dosePattern(dosage.timing, policy);
  if (isTimingProblem(pattern)) {
    c.add(pattern.code, pattern.message, 'error');
    return undefined;
  }
  for (const n of dose.notes) c.add(n.code, n.message, 'warning');
  for (const n of pattern.notes) c.add(n.code, n.message, 'warning');
  if (dosage.asNeededBoolean || dosage.asNeededCodeableConcept) {
    const counted = ctx.config.asNeededPolicy === 'count';
    c.add(
      'as-needed',
      counted ? 'as-needed (PRN) dose counted as if taken as scheduled' : 'as-needed (PRN) dose not counted',
      counted ? 'warning' : 'error',
    );
    if (!counted) return undefined;
  }

  const repeat = dosage.timing?.repeat;
  const bp = repeat?.boundsPeriod;
  let start = parseFhirDate(bp?.start)?.day ?? cursor;
  if (window.start !== undefined && ev.resourceType === 'MedicationStatement' && bp?.start === undefined)
    start = Math.max(start, cursor);
  let end: Day | undefined;
  const bpEnd = parseFhirDate(bp?.end);
  if (bpEnd) end = endDayOf(bpEnd);
  else if (repeat?.boundsDuration) {
    const unit = durationUnit(repeat.boundsDuration);
    const value = repeat.boundsDuration.value ?? 0;
    if (unit === 'mo' || unit === 'month' || unit === 'months') end = addMonths(start, value) - 1;
    else if (unit === 'a' || unit === 'year' || unit === 'years') end = addMonths(start, value * 12) - 1;
    else {
      const days = durationDays(repeat.boundsDuration);
      if (days === undefined) {
        c.add('unknown-period-unit', `boundsDuration unit "${unit}" is not a time unit`, 'error');
        return undefined;
      }
      end = start + Math.max(1, Math.ceil(days - 1e-9)) - 1;
    }
  } else if (pattern.count === undefined) {
    if (!step.isLastGroup) {
      c.add('step-without-bounds', 'a taper step other than the last has no bounds; its length is unknown', 'error');
      return undefined;
    }
    end = window.end;
  }
  if (end === undefined && pattern.count === undefined) {
    const open = window.openEnd;
    const dailyDoses = dosesPerDay(pattern);
    if (open === 'as-of') {
      end = ctx.asOf;
      c.add('open-ended-through-as-of', 'no end date; active therapy counted through the as-of day', 'info');
    } else if (open === 'single-day') {
      end = start;
      c.add('single-day-assumed', 'only a single effective date; counted for that day only', 'warning');
    } else if (open === 'unknown') {
      c.add('duration-unknown', 'the record has ended but gives no end date or duration; not counted', 'error');
      return undefined;
    } else if ('supplyDays' in open) {
      end = start + open.supplyDays - 1;
      c.add('duration-from-supply', `duration taken from the expected supply (${open.supplyDays} d)`, 'info');
    } else {
      const q = open.supplyQuantity!;
      const doseUnits = dosage.doseAndRate?.[0]?.doseQuantity
        ? doseAmount(dosage.doseAndRate[0].doseQuantity)
        : undefined;
      let days: number | undefined;
      if (q.kind === 'count' && doseUnits?.kind === 'count' && doseUnits.count > 0)
        days = q.count / (doseUnits.count * dailyDoses);
      else {
        // Convert the dispensed quantity to mg through the strength (P4) and divide by the daily mg.
        const qMg =
          q.kind === 'mass'
            ? q.mg
            : q.kind === 'volume'
              ? (facts.strength.mgPerMl ?? Number.NaN) * q.mL
              : q.kind === 'count'
                ? (facts.strength.mgPerUnit ?? Number.NaN) * q.count
                : Number.NaN;
        days = qMg / (dose.mg * dailyDoses);
      }
      if (days === undefined || !Number.isFinite(days) || days <= 0) {
        c.add('duration-unknown', 'dispense quantity cannot be converted to a duration', 'error');
        return undefined;
      }
      end = start + Math.ceil(days - 1e-9) - 1;
      c.add('duration-from-supply', `duration taken from the dispensed quantity (${Math.ceil(days - 1e-9)} d)`, 'info');
    }
  }
  if (window.end !== undefined && end !== undefined && ev.resourceType === 'MedicationStatement')
    end = Math.min(end, window.end);

  const layEnd = Math.min(end ?? Number.POSITIVE_INFINITY, ctx.asOf);
  const perDose = dose.mg * pattern.doseScale;
  let doses = 0;
  let first: Day | undefined;
  let last: Day | undefined;
  const lastDosing = layDoses(pattern, start, layEnd, (day, n) => {
    ev.days.add(day, n * perDose);
    doses += n;
    first ??= day;
    last = day;
  });
  if (pattern.count !== undefined && end === undefined) {
    // A count-bounded step ends on its last dose, even if that lies after the as-of day.
    let lastAll: Day | undefined;
    layDoses(pattern, start, Number.MAX_SAFE_INTEGER, (day) => {
      lastAll = day;
    });
    end = lastAll ?? lastDosing;
  }
  if (end !== undefined && start <= ctx.asOf && ctx.asOf <= end)
    ev.currentDailyIngredientMg += perDose * dosesPerDay(pattern);
  else if (end === undefined && start <= ctx.asOf) ev.currentDailyIngredientMg += perDose * dosesPerDay(pattern);

  const ingredientMg = doses * perDose;
  const rangeText = first !== undefined ? `${isoFromDay(first)}…${isoFromDay(last!)}` : 'no doses by the as-of day';
  const daily = 'minutes' in pattern.cycle && pattern.cycle.minutes === 1440 && !pattern.daysOfWeek;
  const perDoseLabel = pattern.doseScale === 1 ? dose.label : `${dose.label} × ${fmt(pattern.doseScale)}`;
  if (daily && first !== undefined) {
    const nDays = last! - first + 1;
    ev.steps.push(
      `${pattern.dosesPerCycle} × ${perDoseLabel}/day × ${nDays} d = ${fmt(ingredientMg)} mg (${rangeText})`,
    );
  } else {
    ev.steps.push(`${doses} doses × ${perDoseLabel} (${pattern.label}) = ${fmt(ingredientMg)} mg (${rangeText})`);
  }
  return end ?? last ?? start;
}
