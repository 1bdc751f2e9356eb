/**
 * One medication record → the ingredient mg it puts on each calendar day through the as-of day.
 *
 * Statements and requests: every Dosage is a step; steps run in `sequence` order, each from its own
 * boundsPeriod, or for its boundsDuration / count from the day after the previous step, and the last step
 * runs to the record's end (effectivePeriod.end, supply duration, or the as-of day for active therapy).
 * Dosages sharing a sequence number run at the same time (morning and evening doses).
 * Administrations: the dose given, or rate × duration for an infusion, on the day it was given.
 */
import type {
  Dosage,
  Medication,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Quantity,
  Ratio,
  Reference,
} from '@medplum/fhirtypes';
import type { ExposureConfig } from './config.ts';
import { addMonths, type Day, endDayOf, isoFromDay, parseFhirDate } from './dates.ts';
import { DayDoses } from './dayDoses.ts';
import { dosageDoseMg, quantityToMg } from './dose.ts';
import type { IngredientId } from './ingredients.ts';
import { type MedicationFacts, resolveMedication } from './medication.ts';
import { type RouteClass, routeClassFromConcept } from './routes.ts';
import { dosePattern, dosesPerDay, isTimingProblem, layDoses } from './timing.ts';
import type { ContributionStatus, ExposureIssue, IssueCode, MedicationRecordType, Severity } from './types.ts';
import { doseAmount, durationDays, durationUnit } from './units.ts';

export type MedicationRecord = MedicationStatement | MedicationRequest | MedicationAdministration;

export interface EvaluationContext {
  asOf: Day;
  config: ExposureConfig;
  /** Resolves a medicationReference (contained "#id", relative "Medication/id", absolute or urn:uuid). */
  medication: (record: MedicationRecord, ref: Reference) => Medication | undefined;
  /** order-select / order-sign: count draft MedicationRequests as the orders about to be placed. */
  countDrafts?: boolean;
}

export interface RecordEvaluation {
  source: string;
  resourceType: MedicationRecordType;
  ingredient: IngredientId;
  route: RouteClass;
  /** Prednisolone-equivalent mg per mg of ingredient; null when there is no factor. */
  factor: number | null;
  status: ContributionStatus;
  /** Ingredient mg per day, through the as-of day. */
  days: DayDoses;
  /** Ingredient mg per day of the steps active on the as-of day. */
  currentDailyIngredientMg: number;
  /** Parts of the derivation, one per step. */
  steps: string[];
  issues: ExposureIssue[];
  /** True when some part of the record could not be quantified. */
  partial: boolean;
  label: string;
}

const SILENT_STATUS: Record<MedicationRecordType, Set<string>> = {
  MedicationStatement: new Set(['entered-in-error', 'not-taken', 'intended']),
  MedicationRequest: new Set(['entered-in-error', 'cancelled', 'draft']),
  MedicationAdministration: new Set(['entered-in-error', 'not-done']),
};
const COUNTED_STATUS: Record<MedicationRecordType, Set<string>> = {
  MedicationStatement: new Set(['active', 'completed', 'stopped']),
  MedicationRequest: new Set(['active', 'completed', 'stopped']),
  MedicationAdministration: new Set(['completed', 'in-progress', 'stopped']),
};
const NOT_ORDERS = new Set(['proposal', 'plan', 'option']);

const fmt = (n: number): string => String(Math.round(n * 100) / 100);

class Collector {
  readonly issues: ExposureIssue[] = [];
  partial = false;
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
  add(code: IssueCode, message: string, severity: Severity): void {
    if (severity === 'error') this.partial = true;
    if (!this.issues.some((i) => i.code === code && i.message === message))
      this.issues.push({ source: this.source, code, message, severity });
  }
}

/** Sentinel: the record is not a glucocorticoid or has a status that counts nothing without an issue. */
export const IGNORED = null;

export function evaluateRecord(
  record: MedicationRecord,
  ctx: EvaluationContext,
): RecordEvaluation | typeof IGNORED | { unidentified: ExposureIssue } {
  const resourceType = record.resourceType as MedicationRecordType;
  const source = `${resourceType}/${record.id ?? '(no id)'}`;
  const c = new Collector(source);
  const status = (record.status ?? 'unknown') as string;
  const isDraft = ctx.countDrafts && resourceType === 'MedicationRequest' && status === 'draft';
  if (SILENT_STATUS[resourceType].has(status) && !isDraft) return IGNORED;
  if (resourceType === 'MedicationRequest' && NOT_ORDERS.has((record as MedicationRequest).intent ?? 'order'))
    return IGNORED;

  const ref = (record as MedicationStatement).medicationReference;
  const concept = (record as MedicationStatement).medicationCodeableConcept;
  const medication = ref ? ctx.medication(record, ref) : undefined;
  const unresolved = () => ({
    unidentified: {
      source,
      code: 'medication-unresolved' as const,
      message: `medicationReference ${ref?.reference ?? '(none)'} could not be resolved`,
      severity: 'error' as const,
    },
  });
  if (ref && !medication && !ref.display && !concept) return unresolved();
  const resolution = resolveMedication(concept, medication, ref?.display);
  if (resolution.kind === 'not-glucocorticoid') {
    if (ref && !medication && !ref.display) return unresolved();
    return IGNORED;
  }
  if (resolution.kind === 'unidentified') {
    return {
      unidentified: { source, code: 'medication-unidentified', message: resolution.message, severity: 'error' },
    };
  }
  const facts = resolution.facts;
  for (const n of facts.notes) c.add(n.code, n.message, n.code === 'ingredient-from-text' ? 'warning' : 'warning');

  const ev: RecordEvaluation = {
    source,
    resourceType,
    ingredient: facts.ingredient.id,
    route: 'unknown',
    factor: null,
    status: 'counted',
    days: new DayDoses(),
    currentDailyIngredientMg: 0,
    steps: [],
    issues: c.issues,
    partial: false,
    label: facts.label,
  };

  if (!COUNTED_STATUS[resourceType].has(status) && !isDraft) {
    const code: IssueCode = status === 'on-hold' ? 'status-on-hold' : 'status-unknown';
    c.add(code, `status "${status}": not counted until the record is confirmed`, 'error');
    ev.status = 'unquantified';
    ev.partial = true;
    return ev;
  }
  if (resourceType === 'MedicationAdministration' && status === 'stopped')
    c.add('administration-stopped', 'administration was stopped; the recorded dose is counted', 'warning');

  // Equivalence factor and ingredient policy.
  const eq = ctx.config.equivalentToPrednisolone5mg as Record<string, number>;
  if (facts.ingredient.id === 'budesonide') {
    if (ctx.config.budesonide.policy === 'exclude') {
      c.add(
        'budesonide-excluded',
        'budesonide exposure present, not counted (no accepted systemic equivalence)',
        'info',
      );
      ev.status = 'excluded';
    } else {
      ev.factor = 5 / ctx.config.budesonide.equivalentToPrednisolone5mg;
      c.add('budesonide-counted', `budesonide counted with a configured factor of ${fmt(ev.factor)}`, 'warning');
    }
  } else if (eq[facts.ingredient.id] !== undefined) {
    ev.factor = 5 / eq[facts.ingredient.id]!;
  } else {
    c.add(
      'no-equivalence-factor',
      `"${facts.label}" is a glucocorticoid with no prednisolone equivalence; not counted`,
      'error',
    );
    ev.status = 'unquantified';
  }

  const firstDosage =
    resourceType === 'MedicationAdministration'
      ? ((record as MedicationAdministration).dosage as Dosage | undefined)
      : resourceType === 'MedicationStatement'
        ? (record as MedicationStatement).dosage?.[0]
        : (record as MedicationRequest).dosageInstruction?.[0];
  ev.route = routeOf(firstDosage, facts);
  applyRoutePolicy(ev, ctx, c);
  // A record excluded by policy is listed, not quantified: its dose problems would not change the total.
  if (ev.status === 'excluded') return ev;

  if (resourceType === 'MedicationAdministration')
    evaluateAdministration(record as MedicationAdministration, facts, ctx, ev, c);
  else evaluateRegimen(record as MedicationStatement | MedicationRequest, facts, ctx, ev, c);

  ev.partial = c.partial;
  if (ev.status === 'counted' && ev.days.isEmpty && c.partial) ev.status = 'unquantified';
  return ev;
}

function applyRoutePolicy(ev: RecordEvaluation, ctx: EvaluationContext, c: Collector): void {
  const policy = ctx.config.routePolicy[ev.route];
  if (ev.status === 'excluded' && (policy === 'exclude' || policy === 'exclude-flag')) return;
  if (policy === 'exclude' || policy === 'exclude-flag') {
    if (ev.status === 'counted') ev.status = 'excluded';
    c.add(
      'route-excluded',
      `${ev.route} route is not counted as systemic exposure`,
      policy === 'exclude-flag' ? 'warning' : 'info',
    );
  } else if (policy === 'count-flag') {
    if (ev.route === 'unknown') c.add('route-unknown', 'no route or dose form given; counted as systemic', 'warning');
    else c.add('route-flagged', `${ev.route} route counted as systemic exposure (flagged)`, 'warning');
  }
}

function routeOf(dosage: Dosage | undefined, facts: MedicationFacts): RouteClass {
  return routeClassFromConcept(dosage?.route) ?? facts.formRoute ?? 'unknown';
}

// ---------------------------------------------------------------------------------------------------------
// MedicationAdministration

function evaluateAdministration(
  admin: MedicationAdministration,
  facts: MedicationFacts,
  ctx: EvaluationContext,
  ev: RecordEvaluation,
  c: Collector,
): void {
  const when = parseFhirDate(admin.effectiveDateTime ?? admin.effectivePeriod?.start);
  if (!when) {
    c.add('no-start-date', 'administration has no effective date', 'error');
    return;
  }
  if (when.day > ctx.asOf) return;
  const dosage = admin.dosage;
  let mg: number | undefined;
  let label = '';
  if (dosage?.dose) {
    const r = quantityToMg(dosage.dose, facts);
    if (!r.ok) {
      c.add(r.code, r.message, 'error');
      return;
    }
    mg = r.mg;
    label = r.label;
  } else if (dosage?.rateQuantity || dosage?.rateRatio) {
    const start = parseFhirDate(admin.effectivePeriod?.start);
    const end = parseFhirDate(admin.effectivePeriod?.end);
    if (start?.instantMs === undefined || end?.instantMs === undefined || end.instantMs <= start.instantMs) {
      c.add('infusion-duration-unknown', 'infusion rate given but effectivePeriod has no start and end times', 'error');
      return;
    }
    const hours = (end.instantMs - start.instantMs) / 3_600_000;
    const rate = rateMgPerHour(dosage.rateQuantity, dosage.rateRatio, facts);
    if (typeof rate === 'string') {
      c.add('dose-unit-unknown', rate, 'error');
      return;
    }
    mg = rate * hours;
    label = `${fmt(rate)} mg/h × ${fmt(hours)} h`;
  } else {
    c.add('no-dose', 'administration records no dose', 'error');
    return;
  }
  ev.days.add(when.day, mg);
  ev.steps.push(
    label.endsWith(' mg') && !label.includes('×')
      ? `${label} on ${isoFromDay(when.day)}`
      : `${label} on ${isoFromDay(when.day)} = ${fmt(mg)} mg`,
  );
}

function rateMgPerHour(rq: Quantity | undefined, rr: Ratio | undefined, facts: MedicationFacts): number | string {
  let amountMg: number | undefined;
  let perHours = 1;
  if (rr?.numerator) {
    const r = quantityToMg(rr.numerator, facts);
    if (!r.ok) return r.message;
    amountMg = r.mg;
    const hours = durationDays({
      value: rr.denominator?.value ?? 1,
      code: rr.denominator?.code,
      unit: rr.denominator?.unit,
    });
    if (hours === undefined)
      return `infusion rate denominator "${durationUnit(rr.denominator ?? {})}" is not a time unit`;
    perHours = hours * 24;
  } else if (rq) {
    const unit = (rq.code ?? rq.unit ?? '').replace(/\s/g, '');
    const m = /^(.+)\/(h|hr|hour|min|d)$/i.exec(unit);
    if (!m) return `infusion rate unit "${unit}" is not an amount per time`;
    const r = quantityToMg({ value: rq.value, code: m[1], system: 'http://unitsofmeasure.org' }, facts);
    if (!r.ok) return r.message;
    amountMg = r.mg;
    const t = m[2]!.toLowerCase();
    perHours = t === 'min' ? 1 / 60 : t === 'd' ? 24 : 1;
  }
  if (amountMg === undefined) return 'no infusion rate';
  return amountMg / perHours;
}

// ---------------------------------------------------------------------------------------------------------
// MedicationStatement and MedicationRequest

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

function evaluateRegimen(
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
  const recordEnd = window.end;
  for (let g = 0; g < groups.length; g++) {
    const isLastGroup = g === groups.length - 1;
    let groupEnd = cursor - 1;
    for (const dosage of groups[g]!) {
      const stepEnd = evaluateStep(dosage, facts, ctx, ev, c, window, cursor, recordEnd, isLastGroup, groups.length);
      if (stepEnd === undefined) continue;
      groupEnd = Math.max(groupEnd, stepEnd);
    }
    cursor = groupEnd + 1;
  }
}

/** Lays one Dosage; returns the last day of its step (for the next step's start), or undefined. */
function evaluateStep(
  dosage: Dosage,
  facts: MedicationFacts,
  ctx: EvaluationContext,
  ev: RecordEvaluation,
  c: Collector,
  window: RecordWindow,
  cursor: Day,
  recordEnd: Day | undefined,
  isLastGroup: boolean,
  groupCount: number,
): Day | undefined {
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
    if (!isLastGroup && groupCount > 1) {
      c.add('step-without-bounds', 'a taper step other than the last has no bounds; its length is unknown', 'error');
      return undefined;
    }
    end = recordEnd;
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
  if (recordEnd !== undefined && end !== undefined && ev.resourceType === 'MedicationStatement')
    end = Math.min(end, recordEnd);

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
