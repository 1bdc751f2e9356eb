/**
 * The plain data shapes of surveillance: a worklist item, a run's counts, and what the /surveillance API shows of a
 * run and of a worklist entry. Types only, importing nothing but other types-only modules, so that the dashboard page (browser code,
 * src/pages/dashboard) shares them with the server without pulling server code into its bundle or its type check.
 */

import type { WorklistChange, WorklistItem, WorklistRule } from '../screening/worklistTypes.ts';

export type { WorklistChange, WorklistItem, WorklistRule } from '../screening/worklistTypes.ts';

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
