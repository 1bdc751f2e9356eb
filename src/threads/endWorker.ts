/**
 * Ending a worker thread (node:worker_threads) the quiet way, for the store's PGlite thread and the evaluation pool.
 */
import type { Worker } from 'node:worker_threads';

/** How long a worker asked to end may take to finish what it was sent, before it is terminated. */
const END_GRACE_MS = 10_000;

/**
 * Ends a worker the quiet way: it is asked to close its port once it has answered what it was sent, and its thread
 * then ends on its own. Terminating a thread mid-work (while it still loads its modules, or runs WebAssembly) is what
 * the runtime handles least well; it is kept for a worker that does not end in time. The worker's side: on
 * `{ end: true }`, `parentPort.close()` after its last answer.
 */
export async function endWorker(worker: Worker, grace = END_GRACE_MS): Promise<void> {
  // Already ended (threadId is -1 once a worker has exited): nothing to wait for.
  if (worker.threadId < 0) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.ref();
  worker.postMessage({ end: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), grace);
  });
  try {
    if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
  } finally {
    clearTimeout(timer);
  }
}
