/**
 * The dashboard's words and numbers: what the surveillance API answers, as the clinic team reads it. Pure (no
 * DOM), so that it is tested without a browser. The shapes are the API's (src/surveillance/types.ts, a module of
 * types only), imported as types so that the page does not pull server code into the bundle.
 */
import { totalMg } from '../../exposure/format.ts';
import { outcomeText } from '../../fhir/outcome.ts';
import { URGENT_RULES } from '../../screening/urgency.ts';
import type {
  RunCounts,
  RunStatus,
  RunView,
  WorklistChange,
  WorklistEntry,
  WorklistRule,
} from '../../surveillance/types.ts';
import { FHIR_ID } from '../../terminology/fhirId.ts';

export type { RunCounts, RunStatus, WorklistEntry, WorklistPage } from '../../surveillance/types.ts';

export type Rule = WorklistRule;
export const RULES: readonly Rule[] = [
  'screening-due',
  'follow-up-due',
  'follow-up-overdue',
  'findings',
  'exposure-unknown',
];
export type Change = WorklistChange;
export const CHANGES: readonly Change[] = ['new', 'still-due', 'resolved'];

export type Run = RunView;

export const RULE_LABELS: Record<Rule, string> = {
  'screening-due': 'Screening due',
  'follow-up-due': 'Follow-up due',
  'follow-up-overdue': 'Follow-up overdue',
  findings: 'Findings',
  'exposure-unknown': 'Exposure unknown',
};

/** The service's order of the worklist (runStore.ts, URGENT_RULES), said in words. */
export const SERVICE_ORDER_NOTE = `Urgent first (${URGENT_RULES.map((r) => RULE_LABELS[r].toLowerCase()).join(', ')}), then routine, then resolved; by due date within each (the service’s order across all pages).`;

export const CHANGE_LABELS: Record<Change, string> = {
  new: 'New',
  'still-due': 'Still due',
  resolved: 'Resolved',
};

export const STATUS_LABELS: Record<RunStatus, string> = {
  queued: 'Queued',
  loading: 'Reading the cohort',
  evaluating: 'Evaluating',
  finishing: 'Finishing',
  succeeded: 'Succeeded',
  failed: 'Failed',
};

/** The counts a run shows, in order, with their words. */
export const COUNT_LABELS: ReadonlyArray<[keyof RunCounts, string]> = [
  ['inCohort', 'In cohort'],
  ['screeningDue', 'Screening due'],
  ['followUpDue', 'Follow-up due'],
  ['followUpOverdue', 'Follow-up overdue'],
  ['findings', 'Findings'],
  ['unknownExposure', 'Unknown exposure'],
  ['errors', 'Errors'],
  ['taskErrors', 'Task errors'],
];

export const isInProgress = (s: RunStatus): boolean => s !== 'succeeded' && s !== 'failed';

/**
 * The cumulative dose as the card and the timeline write it (exposure/format.ts totalMg: to the hundredth of a
 * milligram, never rounded up past a lower bound): "unknown" when the API does not know it (never 0), "at least"
 * when it is a lower bound.
 */
export function doseText(e: Pick<WorklistEntry, 'cumulativeMg' | 'lowerBound'>): string {
  if (e.cumulativeMg === null || !Number.isFinite(e.cumulativeMg)) return 'unknown';
  return totalMg({ cumulativeMg: e.cumulativeMg, cumulativeIsLowerBound: e.lowerBound });
}

export const daysOverdueText = (d: number | null): string => (d === null ? '—' : d === 1 ? '1 day' : `${d} days`);

export const dateText = (d: string | null): string => d ?? '—';

/** A run's length: "42 s", "3 min 5 s", "1 h 2 min". */
export function durationText(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** When, in the reader's time zone, to the minute. */
export function whenText(iso: string | null, locale?: string): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** The exposure timeline SMART app, launched standalone with the patient preselected. */
export const timelineHref = (patientId: string): string => `/app/launch?patient=${encodeURIComponent(patientId)}`;

/** What the API accepts as a patient id prefix (surveillanceRoutes.ts). */
export const PATIENT_PREFIX = FHIR_ID;

/** A column's sort, or `service`: the API's own order, across all pages. */
export type SortKey = 'service' | 'patient' | 'rule' | 'due' | 'overdue' | 'dose' | 'change';
export interface Sort {
  key: SortKey;
  dir: 'ascending' | 'descending';
}

/**
 * The API's order (surveillance/runStore.ts): urgent work first (overdue follow-ups, findings), then routine,
 * then entries resolved since the last run; by due date within each.
 */
export const API_SORT: Sort = { key: 'service', dir: 'ascending' };

/** The column sort after a click on `key`: ascending, then descending, then back to the API's order. */
export function nextSort(current: Sort, key: Exclude<SortKey, 'service'>): Sort {
  if (current.key !== key) return { key, dir: 'ascending' };
  return current.dir === 'ascending' ? { key, dir: 'descending' } : API_SORT;
}

const ruleRank = (r: Rule) => RULES.indexOf(r);
const changeRank = (c: Change) => CHANGES.indexOf(c);

/**
 * The page's rows sorted by a column, stably (ties keep the API's order). Unknown values (no due date, unknown
 * dose, not overdue) go last in either direction.
 */
export function sortEntries(rows: readonly WorklistEntry[], sort: Sort): WorklistEntry[] {
  const value = (e: WorklistEntry): number | string | null => {
    switch (sort.key) {
      case 'service':
        return null;
      case 'patient':
        return e.patientId;
      case 'rule':
        return ruleRank(e.rule);
      case 'due':
        return e.dueDate;
      case 'overdue':
        return e.daysOverdue;
      case 'dose':
        return e.cumulativeMg;
      case 'change':
        return changeRank(e.change);
    }
  };
  const sign = sort.dir === 'ascending' ? 1 : -1;
  return rows
    .map((e, i) => ({ e, i, v: value(e) }))
    .sort((a, b) => {
      if (a.v === null || b.v === null) return a.v === b.v ? a.i - b.i : a.v === null ? 1 : -1;
      return (a.v < b.v ? -1 : a.v > b.v ? 1 : 0) * sign || a.i - b.i;
    })
    .map((x) => x.e);
}

/** The file name the server suggests (Content-Disposition), or a default. */
export function fileNameOf(contentDisposition: string | null, fallback = 'worklist.csv'): string {
  const m = /filename="?([^";]+)"?/i.exec(contentDisposition ?? '');
  const name = m?.[1]?.trim();
  return name && /^[\w.-]+$/.test(name) ? name : fallback;
}

/** An error answer's message: the OperationOutcome's text, else the status line. */
export function problemText(status: number, body: unknown): string {
  const text = outcomeText(body);
  return text ? `${text} (HTTP ${status})` : `The service answered HTTP ${status}`;
}
