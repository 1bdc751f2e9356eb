/**
 * PGlite in a worker thread: the WASM PostgreSQL runs off the main thread, so audit writes and queries do
 * not stall request handling. Messages: {id, op: 'query'|'exec'|'execRows'|'close', sql, params} → {id, rows|error};
 * then {end: true}, after which the thread ends.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { pgliteQuery } from './prepared.ts';
import { typeParsers } from './typeParsers.ts';

const { dataDir } = workerData as { dataDir?: string };

// The store is background work next to request handling (hook records reach it in group commits, after the journal):
// on Linux this thread gets a lower scheduling priority, so that on a busy machine the CPU goes to the
// request in flight first. setpriority() takes a thread id there; elsewhere this quietly does nothing.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
} catch {
  // not Linux, or not permitted: run at normal priority
}
const db = dataDir
  ? await PGlite.create(dataDir, { parsers: typeParsers })
  : await PGlite.create({ parsers: typeParsers });

const prepared = new Set<string>();

parentPort!.on(
  'message',
  async (m: {
    id: number;
    op: 'query' | 'exec' | 'execRows' | 'close';
    sql?: string;
    params?: unknown[];
    prepare?: string;
    end?: true;
  }) => {
    // Asked to end (after 'close', see threads/endWorker.ts): the port closed, the thread ends on its own.
    if (m.end) return parentPort!.close();
    try {
      if (m.op === 'query')
        parentPort!.postMessage({
          id: m.id,
          rows: await pgliteQuery(db, prepared, m.sql!, m.params ?? [], m.prepare),
        });
      else if (m.op === 'execRows') {
        // A multi-statement script whose rows are wanted (pg-boss's locked blocks: BEGIN … RETURNING … COMMIT).
        const results = await db.exec(m.sql!);
        parentPort!.postMessage({ id: m.id, rows: results.flatMap((r) => r.rows ?? []) });
      } else if (m.op === 'exec') {
        await db.exec(m.sql!);
        parentPort!.postMessage({ id: m.id, rows: [] });
      } else {
        await db.close();
        parentPort!.postMessage({ id: m.id, rows: [] });
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      parentPort!.postMessage({ id: m.id, error: { message: e.message, code: e.code } });
    }
  },
);
parentPort!.postMessage({ ready: true });
