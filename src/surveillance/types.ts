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
  /** Why the entry's Task was not written (the Task server refused it or could not be reached); null otherwise. */
  taskError: string | null;
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
  /**
   * Entries whose Task the Task server would not take: an open entry's not written (the next run publishes it
   * again), a resolved entry's not completed (it stays open in the EHR: see the run's errors).
   */
  taskErrors: number;
}

/** An error a run met: for one patient, or for the run. */
export interface RunError {
  patientId?: string;
  message: string;
}

/**
 * Something the cohort's reading met that is not one patient's error: an issue of the export's `error` files,
 * a line that is not a resource, a record without a patient. Reported on the run, never dropped silently.
 */
export interface LoadIssue {
  /** OperationOutcome.issue.severity, or `error` for what we could not read. */
  severity: 'fatal' | 'error' | 'warning' | 'information';
  message: string;
  /** The export file's resource type (or `error` for the manifest's error files). */
  file?: string;
  /** 1-based line in that file. */
  line?: number;
}

/** A run's load issues: how many there were, and the first of them. */
export interface LoadIssues {
  total: number;
  items: LoadIssue[];
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
  /** What the cohort's reading met: the export's own error files, unreadable lines, records without a patient. */
  loadIssues: LoadIssues;
  error: string | null;
}

export interface WorklistPage {
  /** The run the entries are from: the one asked for, or the latest succeeded run; null when there is none. */
  runId: string | null;
  /**
   * That run's status and day: a run asked for by id may have failed or still be going, its worklist partial
   * (the batches it completed), and a reader must be able to tell.
   */
  runStatus: RunStatus | null;
  asOf: string | null;
  /** Entries matching the filters, on every page. */
  total: number;
  items: WorklistEntry[];
  /** The cursor of the next page; null on the last. */
  next: string | null;
}
