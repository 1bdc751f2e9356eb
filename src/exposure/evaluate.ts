/**
 * One medication record → the ingredient mg it puts on each calendar day through the as-of day: which records
 * count (status, intent), which glucocorticoid and route, the equivalence and route policies, then the dose
 * arithmetic of administration.ts or regimen.ts.
 *
 * Every record ends in exactly one of three outcomes (classifyRecord): evaluated (a contribution: counted,
 * excluded by policy, or unquantified with issues), reported (an error issue and no contribution: its medication
 * is unidentified or its reference unresolved), or excluded with a reason (not a glucocorticoid, or a status or
 * intent under which nothing was taken). None is dropped without one of these.
 */
import type { Dosage, MedicationAdministration, MedicationRequest, MedicationStatement } from '@medplum/fhirtypes';
import { evaluateAdministration } from './administration.ts';
import { cachedResolution } from './conceptCache.ts';
import { DayDoses } from './dayDoses.ts';
import { Collector, type EvaluationContext, fmt, type MedicationRecord, type RecordEvaluation } from './evaluation.ts';
import { resolveMedication } from './medication.ts';
import { evaluateRegimen } from './regimen.ts';
import { readRoute } from './routes.ts';
import type { ExposureIssue, IssueCode, MedicationRecordType } from './types.ts';

// Statuses under which nothing was or will be taken: the record is excluded, with the status as the reason.
const SILENT_STATUS: Record<MedicationRecordType, Set<string>> = {
  MedicationStatement: new Set(['entered-in-error', 'not-taken', 'intended']),
  MedicationRequest: new Set(['entered-in-error', 'cancelled', 'draft']),
  MedicationAdministration: new Set(['entered-in-error', 'not-done']),
};
// Statuses whose doses count; any other (on-hold, unknown) is reported, so it is not mistaken for no exposure.
const COUNTED_STATUS: Record<MedicationRecordType, Set<string>> = {
  MedicationStatement: new Set(['active', 'completed', 'stopped']),
  MedicationRequest: new Set(['active', 'completed', 'stopped']),
  MedicationAdministration: new Set(['completed', 'in-progress', 'stopped']),
};
// Request intents that suggest therapy rather than order it.
const NOT_ORDERS = new Set(['proposal', 'plan', 'option']);

/** Sentinel: the record is excluded (classifyRecord gives the reason). */
export const IGNORED = null;

export type RecordOutcome =
  | { kind: 'evaluated'; evaluation: RecordEvaluation }
  | { kind: 'reported'; issue: ExposureIssue }
  | { kind: 'excluded'; source: string; reason: string };

export function evaluateRecord(
  record: MedicationRecord,
  ctx: EvaluationContext,
): RecordEvaluation | typeof IGNORED | { unidentified: ExposureIssue } {
  const o = classifyRecord(record, ctx);
  return o.kind === 'evaluated' ? o.evaluation : o.kind === 'reported' ? { unidentified: o.issue } : IGNORED;
}

export function classifyRecord(record: MedicationRecord, ctx: EvaluationContext): RecordOutcome {
  const resourceType = record.resourceType as MedicationRecordType;
  const source = `${resourceType}/${record.id ?? '(no id)'}`;
  const excluded = (reason: string): RecordOutcome => ({ kind: 'excluded', source, reason });
  const c = new Collector(source);
  const status = (record.status ?? 'unknown') as string;
  const isDraft = ctx.countDrafts && resourceType === 'MedicationRequest' && status === 'draft';
  if (SILENT_STATUS[resourceType].has(status) && !isDraft)
    return excluded(`status "${status}": nothing was or will be taken`);
  const intent = resourceType === 'MedicationRequest' ? ((record as MedicationRequest).intent ?? 'order') : 'order';
  if (NOT_ORDERS.has(intent)) return excluded(`intent "${intent}" suggests therapy rather than orders it`);

  const ref = (record as MedicationStatement).medicationReference;
  const concept = (record as MedicationStatement).medicationCodeableConcept;
  const medication = ref ? ctx.medication(record, ref) : undefined;
  const reported = (code: IssueCode, message: string): RecordOutcome => ({
    kind: 'reported',
    issue: { source, code, message, severity: 'error' },
  });
  const unresolved = `medicationReference ${ref?.reference ?? '(none)'} could not be resolved`;
  if (ref && !medication && !ref.display && !concept) return reported('medication-unresolved', unresolved);
  // A Substance an ingredient references may be contained in the Medication or, when the Medication is itself
  // contained, beside it in the record (HL7 R4 Medication-med0311: "#sub03").
  const resolution = medication
    ? resolveMedication(concept, medication, ref?.display, [
        ...(medication.contained ?? []),
        ...(record.contained ?? []),
      ])
    : cachedResolution(concept, ref?.display, () => resolveMedication(concept, undefined, ref?.display, []));
  if (resolution.kind === 'not-glucocorticoid') {
    if (ref && !medication && !ref.display) return reported('medication-unresolved', unresolved);
    return excluded(resolution.reason);
  }
  if (resolution.kind === 'unidentified') {
    if (ref && !medication) return reported('medication-unresolved', `${unresolved}; ${resolution.message}`);
    return reported('medication-unidentified', resolution.message);
  }
  const facts = resolution.facts;
  for (const n of facts.notes) c.add(n.code, n.message, 'warning');

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
    return { kind: 'evaluated', evaluation: ev };
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
  // Dosage.route first, then the dose form; a route given but not recognised is named, never taken as absent.
  const route = readRoute(firstDosage?.route);
  ev.route = route.cls ?? facts.formRoute ?? 'unknown';
  if (route.unrecognised && facts.formRoute)
    c.add(
      'route-unknown',
      `route not recognised (${route.unrecognised}); the dose form's route (${facts.formRoute}) was used`,
      'info',
    );
  applyRoutePolicy(ev, ctx, c, route.unrecognised);
  // A record excluded by policy is listed, not quantified: its dose problems would not change the total.
  if (ev.status === 'excluded') return { kind: 'evaluated', evaluation: ev };

  const implausible = datesBefore1900(record);
  if (implausible.length) {
    c.add(
      'date-implausible',
      `${implausible.join(', ')}: before ${EARLIEST_DATE}, not a plausible date; the record is not counted`,
      'error',
    );
    ev.status = 'unquantified';
    ev.partial = true;
    return { kind: 'evaluated', evaluation: ev };
  }

  if (resourceType === 'MedicationAdministration')
    evaluateAdministration(record as MedicationAdministration, facts, ctx, ev, c);
  else evaluateRegimen(record as MedicationStatement | MedicationRequest, facts, ctx, ev, c);

  ev.partial = c.partial;
  if (ev.status === 'counted' && ev.days.isEmpty && c.partial) ev.status = 'unquantified';
  return { kind: 'evaluated', evaluation: ev };
}

/**
 * The earliest date a medication record's schedule may carry. An earlier one is a placeholder (0001-01-01,
 * 1800-01-01) or a slip of the keyboard (0202 for 2020), not a glucocorticoid course: counting it would put a
 * century of doses into the total (an open end runs to the as-of day) or no dose at all. Reported, not counted.
 */
const EARLIEST_DATE = '1900-01-01';
const EARLIEST_YEAR = 1900;

/** "effectivePeriod.start 0001-01-01", for each date that places the record's doses and lies before 1900. */
function datesBefore1900(record: MedicationRecord): string[] {
  const out: string[] = [];
  const check = (field: string, value: string | undefined) => {
    // Beginning with four digits, a value is before 1900 exactly when it sorts before "1900": most are not, and
    // skip the pattern.
    if (typeof value !== 'string' || value >= EARLIEST_DATE.slice(0, 4)) return;
    const year = /^(\d{4})/.exec(value)?.[1];
    if (year !== undefined && Number(year) < EARLIEST_YEAR) out.push(`${field} ${value.slice(0, 40)}`);
  };
  const r = record as Partial<
    Pick<MedicationStatement, 'effectiveDateTime' | 'effectivePeriod' | 'dosage'> &
      Pick<MedicationRequest, 'authoredOn' | 'dispenseRequest' | 'dosageInstruction'>
  >;
  check('effectiveDateTime', r.effectiveDateTime);
  check('effectivePeriod.start', r.effectivePeriod?.start);
  check('effectivePeriod.end', r.effectivePeriod?.end);
  check('authoredOn', r.authoredOn);
  check('dispenseRequest.validityPeriod.start', r.dispenseRequest?.validityPeriod?.start);
  check('dispenseRequest.validityPeriod.end', r.dispenseRequest?.validityPeriod?.end);
  const dosages = record.resourceType === 'MedicationStatement' ? r.dosage : r.dosageInstruction;
  for (const [i, d] of (Array.isArray(dosages) ? dosages : []).entries()) {
    const bounds = d?.timing?.repeat?.boundsPeriod;
    const at = `${record.resourceType === 'MedicationStatement' ? 'dosage' : 'dosageInstruction'}[${i}].timing.repeat.boundsPeriod`;
    check(`${at}.start`, bounds?.start);
    check(`${at}.end`, bounds?.end);
  }
  return out;
}

function applyRoutePolicy(
  ev: RecordEvaluation,
  ctx: EvaluationContext,
  c: Collector,
  unrecognised: string | undefined,
): void {
  const policy = ctx.config.routePolicy[ev.route];
  const unknownRoute = unrecognised
    ? `route not recognised (${unrecognised}); counted as systemic`
    : 'no route or dose form given; counted as systemic';
  // Already excluded (budesonide policy): a route issue would only repeat that nothing is counted.
  if (ev.status === 'excluded' && (policy === 'exclude' || policy === 'exclude-flag')) return;
  if (policy === 'exclude' || policy === 'exclude-flag') {
    if (ev.status === 'counted') ev.status = 'excluded';
    c.add(
      'route-excluded',
      `${ev.route} route is not counted as systemic exposure`,
      policy === 'exclude-flag' ? 'warning' : 'info',
    );
  } else if (policy === 'count-flag') {
    if (ev.route === 'unknown') c.add('route-unknown', unknownRoute, 'warning');
    else c.add('route-flagged', `${ev.route} route counted as systemic exposure (flagged)`, 'warning');
  } else if (ev.route === 'unknown' && unrecognised) c.add('route-unknown', unknownRoute, 'info');
}
