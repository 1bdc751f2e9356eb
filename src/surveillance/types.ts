/**
 * The plain data shapes of surveillance: a worklist item, a run's counts, and what the /surveillance API shows of a
 * run and of a worklist entry. Types only, importing nothing, so that the dashboard page (browser code,
 * src/pages/dashboard) shares them with the server without pulling server code into its bundle or its type check.
 */

/** The rules a worklist entry can be for (screening/worklist.ts WORKLIST_RULES lists them). */
export type WorklistRule = 'screening-due' | 'follow-up-due' | 'follow-up-overdue' | 'findings';

/** new: not on the last run's worklist; still-due: on it; resolved: on it, and not any more. */
export type WorklistChange = 'new' | 'still-due' | 'resolved';

export interface WorklistItem {
  patientId: string;
  rule: WorklistRule;
  /** The day the action became due (screening: the crossing or the re-screen increment; follow-up: scan + 3 months). */
  dueDate: string | null;
  /** The day it becomes overdue (follow-up: scan + 6 months). */
  overdueFrom: string | null;
  daysOverdue: number | null;
  cumulativeMg: number | null;
  lowerBound: boolean;
  lastStudy: string | null;
  summary: string;
  /** Whether a WB-MRI order is suggested (a draft ServiceRequest): screening and follow-up, not findings. */
  suggestsOrder: boolean;
}

/** A worklist entry as the API shows it (the run is named once, beside the entries). */
export interface WorklistEntry extends Omit<WorklistItem, 'suggestsOrder'> {
  change: WorklistChange;
  taskRef: string | null;
}

export type RunStatus = 'queued' | 'loading' | 'evaluating' | 'finishing' | 'succeeded' | 'failed';
export type RunTrigger = 'schedule' | 'catch-up' | 'api' | 'cli';
export type SourceMode = 'crawl' | 'bulk';

export interface RunCounts {
  inCohort: number;
  screeningDue: number;
  followUpDue: number;
  followUpOverdue: number;
  findings: number;
  newFindings: number;
  unknownExposure: number;
  errors: number;
  resolved: number;
  /** Entries with a published Task (new or still due). */
  tasks: number;
}

/** An error a run met: for one patient, or for the run. */
export interface RunError {
  patientId?: string;
  message: string;
}

/** A run as the API shows it: its state, timing, progress, counts and what it read under which rules. */
export interface RunView {
  runId: string;
  trigger: RunTrigger;
  status: RunStatus;
  asOf: string;
  mode: SourceMode;
  fhirBase: string;
  rulesHash: string;
  transactionTime: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Seconds from start to end; while the run goes on, from start to now. */
  durationSeconds: number | null;
  progress: { done: number; total: number | null; batches: number | null };
  counts: Partial<RunCounts>;
  errors: RunError[];
  error: string | null;
}

export interface WorklistPage {
  /** The run the entries are from: the one asked for, or the latest succeeded run; null when there is none. */
  runId: string | null;
  items: WorklistEntry[];
  /** The cursor of the next page; null on the last. */
  next: string | null;
}
