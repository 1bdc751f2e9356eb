/**
 * An evaluation worker thread (evaluationPool.ts): evaluates the patients it is sent, one message at a time,
 * with the same pure function as the batch's own thread.
 */
import { parentPort } from 'node:worker_threads';
import type { PatientRecords } from '../screening/assess.ts';
import { type EvaluateOptions, evaluatePatient } from './evaluate.ts';
import type { StagedLines } from './stagedRecords.ts';

interface Request {
  id: number;
  patients: Array<[string, PatientRecords | StagedLines]>;
  options: EvaluateOptions;
}

parentPort?.on('message', (m: Request | { end: true }) => {
  // Asked to end (evaluationPool.ts, endWorker): the port closed, the thread ends on its own.
  if ('end' in m) return parentPort!.close();
  parentPort!.postMessage({ id: m.id, out: m.patients.map(([id, data]) => evaluatePatient(id, data, m.options)) });
});
