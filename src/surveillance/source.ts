/** Where a run reads the cohort from: `crawl` (FHIR search) or `bulk` (Bulk Data $export), chosen per server. */

import { OsteoWatchError } from '../errors.ts';
import type { PatientRecords } from '../screening/assess.ts';
import type { RunRow } from './runStore.ts';
import type { StagedLines } from './stagedRecords.ts';
import type { LoadIssue, LoadIssues } from './types.ts';

export interface LoadedCohort {
  /** The cohort's patient ids, sorted. */
  patientIds: string[];
  /** The batches, when the source cut them as it read (bulk: by a hash of the id); else cut from patientIds. */
  batches?: string[][];
  /** The data's transaction time: the export's, or when the crawl began. */
  transactionTime: string;
  /** What the reading met that is not one patient's error (the export's error files, unreadable lines). */
  issues?: LoadIssues;
}

/** Issues kept with a run: all counted, the first this many kept (a broken export can have millions). */
export const LOAD_ISSUES_KEPT = 100;

/** Collects a load's issues: every one counted, the first LOAD_ISSUES_KEPT kept. */
export function loadIssueLog(): { add(issue: LoadIssue): void; readonly value: LoadIssues } {
  const value: LoadIssues = { total: 0, items: [] };
  return {
    add(issue) {
      value.total++;
      if (value.items.length < LOAD_ISSUES_KEPT) value.items.push(issue);
    },
    value,
  };
}

export interface CohortSource {
  mode: 'crawl' | 'bulk';
  /** Reads (or stages) the cohort. Resumable: a run restarted after a crash calls it again. */
  load(run: RunRow, o: { batchSize: number }): Promise<LoadedCohort>;
  /**
   * One batch's records by patient — as resources, or as staged NDJSON lines to be parsed where the patient is
   * evaluated; an Error for a patient whose records could not be had.
   */
  records(
    patientIds: string[],
    run: RunRow,
    batchNo: number,
  ): Promise<Map<string, PatientRecords | StagedLines | Error>>;
  /** After the run: delete the export job and what was staged. */
  finish(run: RunRow): Promise<void>;
}

/**
 * The run's staged export is gone (PostgreSQL empties unlogged tables after a crash of its own, see migration
 * 004): its batches cannot be evaluated, and retrying will not bring it back. The run fails with this reason.
 */
export class StagingLostError extends OsteoWatchError {
  constructor(runId: string) {
    super(
      'unavailable',
      `the staged export of run ${runId} is gone (the database restarted during the run); start a new run`,
    );
  }
}

/**
 * The run ended (cancelled by an operator, failed by another instance) while its cohort was being read: the load
 * stops instead of reading and staging the rest of the export for nothing.
 */
export class RunEndedError extends OsteoWatchError {
  constructor(runId: string) {
    super('conflict', `run ${runId} is no longer loading (it ended, or another attempt loaded it)`);
  }
}
