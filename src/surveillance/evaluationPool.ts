/**
 * Where a batch's patients are evaluated: in the batch's own thread, or spread over a pool of worker threads
 * (node:worker_threads) so that a run uses every core — assessing is CPU-bound, and an instance otherwise waits
 * on one core while the others idle. Workers start on first use and are replaced if one dies; a batch whose
 * worker died fails its attempt and is retried like any other failure.
 */
import { Worker } from 'node:worker_threads';
import type { PatientRecords } from '../screening/assess.ts';
import { endWorker } from '../threads/endWorker.ts';
import { type EvaluateOptions, type Evaluation, evaluatePatient } from './evaluate.ts';
import type { StagedLines } from './stagedRecords.ts';

export type PatientInput = [patientId: string, data: PatientRecords | StagedLines];

export interface Evaluator {
  /** The evaluations, in the order of `patients`. */
  evaluate(patients: PatientInput[], o: EvaluateOptions): Promise<Evaluation[]>;
  /** Starts the threads ahead of the first batch (while the cohort loads): each loads the engine once. */
  warm(): void;
  close(): Promise<void>;
}

export const inlineEvaluator = (): Evaluator => ({
  evaluate: async (patients, o) => patients.map(([id, data]) => evaluatePatient(id, data, o)),
  warm: () => undefined,
  close: async () => undefined,
});

const WORKER_URL = new URL('./evaluationWorker.ts', import.meta.url);

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (out: Evaluation[]) => void; reject: (err: Error) => void }>;
}

/**
 * `size` worker threads; each call is cut into one part per worker. Young generation kept small: a worker's
 * garbage is short-lived (one part's records), and its heap is what the instance's peak memory adds up from.
 */
export function workerEvaluator(size: number): Evaluator {
  let slots: Slot[] = [];
  let next = 0;
  let closed = false;
  const spawn = (): Slot => {
    const slot: Slot = {
      worker: new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: 16 } }),
      pending: new Map(),
    };
    const failAll = (err: Error) => {
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      // Replaced on the next call; a closing pool lets it go.
      slots = slots.filter((s) => s !== slot);
    };
    slot.worker.on('message', (m: { id: number; out: Evaluation[] }) => {
      const p = slot.pending.get(m.id);
      slot.pending.delete(m.id);
      if (!slot.pending.size) slot.worker.unref();
      p?.resolve(m.out);
    });
    slot.worker.on('error', (err) => failAll(err));
    slot.worker.on('exit', (code) => failAll(new Error(`an evaluation worker stopped (exit code ${code})`)));
    // An idle worker does not keep the process alive; a busy one does (see call).
    slot.worker.unref();
    return slot;
  };
  const call = (slot: Slot, patients: PatientInput[], o: EvaluateOptions) =>
    new Promise<Evaluation[]>((resolve, reject) => {
      const id = next++;
      slot.pending.set(id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage({ id, patients, options: o });
    });
  const fill = () => {
    while (slots.length < size) slots.push(spawn());
  };
  return {
    warm: () => {
      if (!closed) fill();
    },
    async evaluate(patients, o) {
      if (closed) throw new Error('the evaluation pool is closed');
      if (!patients.length) return [];
      fill();
      // The least busy workers first, one part each.
      const ordered = [...slots].sort((a, b) => a.pending.size - b.pending.size);
      const per = Math.ceil(patients.length / ordered.length);
      const parts: Array<Promise<Evaluation[]>> = [];
      for (let i = 0, w = 0; i < patients.length; i += per, w++)
        parts.push(call(ordered[w]!, patients.slice(i, i + per), o));
      return (await Promise.all(parts)).flat();
    },
    async close() {
      closed = true;
      const all = slots;
      slots = [];
      await Promise.all(all.map((s) => endWorker(s.worker)));
    },
  };
}
