/**
 * Ending a worker thread: a worker asked to end answers what it was sent first and then ends on its own (exit code
 * 0, not terminated); one that does not end in time is terminated; one already ended is left alone.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { endWorker } from '../../src/threads/endWorker.ts';

/** Answers each message after `delayMs`; closes its port on `{ end: true }` unless `deaf`. */
const worker = (delayMs: number, deaf = false) =>
  new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.on('message', (m) => {
       if (m.end) { if (!${deaf}) parentPort.close(); return; }
       const until = Date.now() + ${delayMs};
       while (Date.now() < until);
       parentPort.postMessage(m.n * 2);
     });`,
    { eval: true },
  );

describe('endWorker', () => {
  it('lets the worker answer what it was sent, then the thread ends on its own', async () => {
    const w = worker(50);
    const answers: number[] = [];
    w.on('message', (n: number) => answers.push(n));
    const code = new Promise<number>((resolve) => w.once('exit', resolve));
    w.postMessage({ n: 1 });
    w.postMessage({ n: 2 });
    await endWorker(w);
    expect(answers).toEqual([2, 4]);
    // 0: ended by itself; a terminated worker exits with 1.
    expect(await code).toBe(0);
  });

  it('terminates a worker that does not end within the grace period', async () => {
    const w = worker(0, true);
    const code = new Promise<number>((resolve) => w.once('exit', resolve));
    const started = Date.now();
    await endWorker(w, 200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(await code).toBe(1);
  });

  it('returns at once for a worker that has already ended', async () => {
    const w = worker(0);
    await w.terminate();
    const started = Date.now();
    await endWorker(w, 5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
