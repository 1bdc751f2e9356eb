/**
 * One patient's evaluation in a surveillance run: the card's assessment (screening/assess.ts) reduced to the
 * result row and the worklist items. Pure (no I/O, no clock), so that it runs alike in the batch's thread or in
 * an evaluation worker (evaluationPool.ts); Tasks are published afterwards, by the batch.
 */
import type { ExposureConfig } from '../exposure/index.ts';
import { assessPatient, type PatientRecords } from '../screening/assess.ts';
import type { CohortDefinition } from '../screening/cohort.ts';
import type { ScreeningConfig } from '../screening/rules.ts';
import { type WorklistItem, worklistItems } from '../screening/worklist.ts';
import type { ResultRow } from './runStore.ts';
import { isStagedLines, recordsFromLines, type StagedLines } from './stagedRecords.ts';

export interface EvaluateOptions {
  asOf: string;
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  cohorts?: CohortDefinition[];
}

export interface Evaluation {
  result: ResultRow;
  items: WorklistItem[];
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The patient's result and worklist items; an engine error is the patient's error, not the batch's. */
export function evaluatePatient(patientId: string, data: PatientRecords | StagedLines, o: EvaluateOptions): Evaluation {
  try {
    const records = isStagedLines(data) ? recordsFromLines(data) : data;
    const a = assessPatient(records, {
      patientId,
      asOf: o.asOf,
      exposure: o.exposure,
      screening: o.screening,
      cohorts: o.cohorts,
    });
    if (!a)
      return { result: { patientId, decision: 'not-in-cohort', cumulativeMg: null, lowerBound: false }, items: [] };
    return {
      result: {
        patientId,
        decision: a.screening.decision.kind,
        cumulativeMg: a.exposure.cumulativeMg,
        lowerBound: a.exposure.cumulativeIsLowerBound,
        lastStudy: a.studies.at(-1)?.date ?? null,
      },
      items: worklistItems(a),
    };
  } catch (err) {
    return {
      result: { patientId, decision: 'error', cumulativeMg: null, lowerBound: false, error: message(err) },
      items: [],
    };
  }
}
