/**
 * CPU time of another process by thread, from /proc (Linux): main thread, worker threads, libuv's thread
 * pool (where WebCrypto verifies signatures), V8's helper threads (parallel GC). Elsewhere: undefined.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export type ThreadCpu = Map<string, number>;

export function threadCpu(pid: number): ThreadCpu | undefined {
  const dir = `/proc/${pid}/task`;
  if (!existsSync(dir)) return undefined;
  const out: ThreadCpu = new Map();
  for (const tid of readdirSync(dir)) {
    let stat: string;
    try {
      stat = readFileSync(`${dir}/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = tid === String(pid) ? 'main thread' : (/\((.*)\)/.exec(stat)?.[1] ?? '?');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const label =
      name === 'libuv-worker'
        ? 'thread pool (crypto)'
        : name === 'V8Worker'
          ? 'V8 helpers (GC)'
          : name === 'WorkerThread'
            ? 'worker (PGlite)'
            : name;
    out.set(label, (out.get(label) ?? 0) + (Number(f[11]) + Number(f[12])) * TICK_MS);
  }
  return out;
}

/** CPU ms per request by thread between two samples, largest first, threads under 0.01 ms left out. */
export function perRequest(before: ThreadCpu, after: ThreadCpu, requests: number): Array<[string, number]> {
  return [...after]
    .map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / requests] as [string, number])
    .filter(([, v]) => v >= 0.01)
    .sort((a, b) => b[1] - a[1]);
}
