/**
 * One medication record → the ingredient mg it puts on each calendar day through the as-of day: which records
 * count (status, intent), which glucocorticoid and route, the equivalence and route policies, then the dose
 * arithmetic of administration.ts or regimen.ts.
 */
import type { Dosage, MedicationAdministration, MedicationRequest, MedicationStatement } from '@medplum/fhirtypes';
import { evaluateAdministration } from './administration.ts';
import { DayDoses } from './dayDoses.ts';
import { Collector, type EvaluationContext, fmt, type MedicationRecord, type RecordEvaluation } from './evaluation.ts';
import { type MedicationFacts, resolveMedication } from './medication.ts';
import { evaluateRegimen } from './regimen.ts';
import { type RouteClass, routeClassFromConcept } from './routes.ts';
import type { ExposureIssue, IssueCode, MedicationRecordType } from './types.ts';

// Statuses under which nothing was or will be taken: the record is dropped without an issue.
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
    if (ev.route === 'unknown') c.add('route-unknown', 'no route or dose form given; counted as systemic', 'warning');
    else c.add('route-flagged', `${ev.route} route counted as systemic exposure (flagged)`, 'warning');
  }
}

function routeOf(dosage: Dosage | undefined, facts: MedicationFacts): RouteClass {
  return routeClassFromConcept(dosage?.route) ?? facts.formRoute ?? 'unknown';
}
