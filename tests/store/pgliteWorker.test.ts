/**
 * The embedded store's worker thread yields the CPU to request handling (Linux: a higher nice value for
 * that one thread), and the threads that verify client signatures keep normal priority. A thread gone fails
 * what waits on it rather than leaving it waiting.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';

function threads(): Map<string, { name: string; nice: number }> {
  const out = new Map<string, { name: string; nice: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name: /\((.*)\)/.exec(stat)![1]!, nice: Number(fields[16]) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

describe.runIf(existsSync('/proc/self/task'))('PGlite worker thread priority', () => {
  it('runs the store at a lower priority than the threads that serve requests', async () => {
    const before = threads();
    const store = await openStore({ memory: true });
    try {
      await store.db.query('select 1');
      const after = threads();
      // Relative to however this test process itself was started (a CI runner may be niced already).
      const base = after.get(String(process.pid))!.nice;
      const added = [...after].filter(([tid]) => !before.has(tid)).map(([, t]) => t);
      expect(added.filter((t) => t.nice === Math.max(10, base))).toHaveLength(1);
      const pool = [...after.values()].filter((t) => t.name === 'libuv-worker');
      expect(pool.length).toBeGreaterThan(0);
      expect(pool.every((t) => t.nice === base)).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe('PGlite worker thread gone', () => {
  it('fails what waits on it, and what is asked after, instead of waiting for ever; close still ends', async () => {
    const store = await openStore({ memory: true });
    // The thread dying under a statement: a fault a test cannot otherwise provoke.
    const worker = (store.db as unknown as { worker: { terminate(): Promise<number> } }).worker;
    const inFlight = store.db.query('select pg_sleep(2)');
    await worker.terminate();
    await expect(inFlight).rejects.toThrow(/the embedded store has stopped/);
    await expect(store.db.query('select 1')).rejects.toThrow(/the embedded store has stopped/);
    await store.close();
  });
});
