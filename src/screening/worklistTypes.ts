/**
 * The worklist's plain data shapes, types only and importing nothing: the domain (worklist.ts), the API and the
 * dashboard page (browser code) share them.
 */

/** The rules a worklist entry can be for (screening/worklist.ts WORKLIST_RULES lists them). */
export type WorklistRule = 'screening-due' | 'follow-up-due' | 'follow-up-overdue' | 'findings' | 'exposure-unknown';

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
