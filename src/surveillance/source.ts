/** Where a run reads the cohort from: `crawl` (FHIR search) or `bulk` (Bulk Data $export), chosen per server. */
import type { PatientRecords } from '../screening/assess.ts';
import type { RunRow } from './runStore.ts';

export interface LoadedCohort {
  /** The cohort's patient ids, sorted: the batches are cut from this list. */
  patientIds: string[];
  /** The data's transaction time: the export's, or when the crawl began. */
  transactionTime: string;
}

export interface CohortSource {
  mode: 'crawl' | 'bulk';
  /** Reads (or stages) the cohort. Resumable: a run restarted after a crash calls it again. */
  load(run: RunRow): Promise<LoadedCohort>;
  /** One batch's records by patient; an Error for a patient whose records could not be had. */
  records(patientIds: string[], run: RunRow): Promise<Map<string, PatientRecords | Error>>;
  /** After the run: delete the export job and what was staged. */
  finish(run: RunRow): Promise<void>;
}
