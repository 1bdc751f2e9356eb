/**
 * From a patient's screening decision to the clinic team's worklist: which rule asks for action, from when,
 * and how it changed since the last run. Pure; the same decision as the patient-view card (assess.ts).
 */
import { dayFromIso } from '../exposure/dates.ts';
import { mg } from '../exposure/format.ts';
import type { WorklistRuleCode } from '../terminology/worklistCodes.ts';
import type { Assessment } from './assess.ts';
import type { Decision } from './rules.ts';
import type { WorklistChange, WorklistItem, WorklistRule } from './worklistTypes.ts';

export type { WorklistChange, WorklistItem, WorklistRule } from './worklistTypes.ts';

/**
 * The FHIR Task's rule code: a due and an overdue follow-up are one Task, and an unknown exposure is a review of
 * the medication records.
 */
export type TaskRule = WorklistRuleCode;

/** The rules a worklist entry can be for (also the FHIR Task's code, see terminology/worklistCodes.ts). */
export const WORKLIST_RULES = [
  'screening-due',
  'follow-up-due',
  'follow-up-overdue',
  'findings',
  'exposure-unknown',
] as const satisfies readonly WorklistRule[];

export { isUrgent, URGENT_RULES } from './urgency.ts';

const days = (from: string, to: string) => dayFromIso(to) - dayFromIso(from);

function decisionItem(d: Decision): Omit<WorklistItem, 'patientId' | 'cumulativeMg' | 'lowerBound'> | null {
  switch (d.kind) {
    case 'baseline-due':
      return {
        rule: 'screening-due',
        dueDate: d.crossedOn,
        overdueFrom: null,
        daysOverdue: null,
        lastStudy: null,
        summary: `Baseline STIR WB-MRI due: cumulative dose reached the threshold on ${d.crossedOn}${d.staleOrder ? `; order of ${d.staleOrder.order.date} not performed` : ''}`,
        suggestsOrder: true,
      };
    case 'rescreen-due':
      return {
        rule: 'screening-due',
        dueDate: d.reachedOn,
        overdueFrom: null,
        daysOverdue: null,
        lastStudy: d.lastStudy.date,
        summary: `Re-screening STIR WB-MRI due: ${mg(d.sinceMg)} since the WB-MRI of ${d.lastStudy.date} (≥ ${mg(d.incrementMg)})`,
        suggestsOrder: true,
      };
    case 'follow-up-due':
    case 'follow-up-overdue':
      return {
        rule: d.kind,
        dueDate: d.dueFrom,
        overdueFrom: d.overdueFrom,
        daysOverdue: null,
        lastStudy: d.lastStudy.date,
        summary: `Follow-up STIR WB-MRI ${d.kind === 'follow-up-due' ? 'due' : 'overdue'}: last WB-MRI ${d.lastStudy.date}, due ${d.dueFrom}, overdue from ${d.overdueFrom}${d.staleOrder ? `; order of ${d.staleOrder.order.date} not performed` : ''}`,
        suggestsOrder: true,
      };
    default:
      return null;
  }
}

/** The patient's actionable entries today (none when nothing is due). */
export function worklistItems(a: Assessment): WorklistItem[] {
  const x = a.exposure;
  const common = { patientId: a.patientId, cumulativeMg: x.cumulativeMg, lowerBound: x.cumulativeIsLowerBound };
  const out: WorklistItem[] = [];
  const item = decisionItem(a.screening.decision);
  if (item) {
    const daysOverdue = item.overdueFrom && a.asOf >= item.overdueFrom ? days(item.overdueFrom, a.asOf) : null;
    out.push({ ...common, ...item, daysOverdue });
  }
  // A cohort patient whose steroid dose could not be computed at all (a prescription without a dose …): the
  // screening status cannot be decided, and the patient may be far past the threshold. Listed for review, so
  // that nobody is left off the worklist for want of a number (the card says "screening status unknown"). No due
  // date: nothing in the records says since when, so the review is one piece of work (one Task) per patient.
  if (a.screening.decision.kind === 'exposure-unknown') {
    const n = x.issues.length;
    out.push({
      ...common,
      rule: 'exposure-unknown',
      dueDate: null,
      overdueFrom: null,
      daysOverdue: null,
      lastStudy: a.studies.at(-1)?.date ?? null,
      summary: `Steroid exposure unknown: no glucocorticoid record could be quantified${n ? ` (${n} ${n === 1 ? 'issue' : 'issues'})` : ''}; review the medication records, the screening status cannot be decided`,
      suggestsOrder: false,
    });
  }
  const f = a.screening.findings;
  if (f) {
    const sites = f.affected.map(
      (s) =>
        `${s.joint}${s.side ? ` ${s.side}` : ''}${s.collapse ? ' (collapsed)' : s.highCollapseRisk ? ' (high collapse risk)' : ''}`,
    );
    out.push({
      ...common,
      rule: 'findings',
      dueDate: f.latestRead,
      overdueFrom: null,
      daysOverdue: null,
      lastStudy: a.studies.at(-1)?.date ?? f.latestRead,
      summary: `Osteonecrosis on WB-MRI (${f.latestRead}): ${sites.join(', ')}`,
      suggestsOrder: false,
    });
  }
  return out;
}

/** A worklist entry's identity across runs: the same patient, rule and due date is the same piece of work. */
export const worklistKey = (i: Pick<WorklistItem, 'patientId' | 'rule' | 'dueDate'>): string =>
  `${i.patientId}:${i.rule}:${i.dueDate ?? 'none'}`;

/**
 * How an entry changed since the last run. A follow-up that went from due to overdue is the same work
 * (same scan, same due date), so it is still due, not new.
 */
export function changeOf(item: WorklistItem, previousKeys: ReadonlySet<string>): WorklistChange {
  if (previousKeys.has(worklistKey(item))) return 'still-due';
  if (item.rule === 'follow-up-overdue' && previousKeys.has(worklistKey({ ...item, rule: 'follow-up-due' })))
    return 'still-due';
  return 'new';
}

/** The FHIR Task's rule code: due and overdue follow-ups are one Task (its businessStatus says which). */
export const taskRuleOf = (rule: WorklistRule): TaskRule =>
  rule === 'screening-due'
    ? 'screening'
    : rule === 'findings'
      ? 'findings'
      : rule === 'follow-up-due' || rule === 'follow-up-overdue'
        ? 'follow-up'
        : 'exposure-review';

/** An entry's identity across runs that ignores due versus overdue (one Task, one piece of work). */
export const workFamilyOf = (e: Pick<WorklistItem, 'patientId' | 'rule' | 'dueDate'>): string =>
  `${e.patientId}:${taskRuleOf(e.rule)}:${e.dueDate ?? 'none'}`;
