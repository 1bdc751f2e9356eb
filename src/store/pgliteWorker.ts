/**
 * PGlite in a worker thread: the WASM PostgreSQL runs off the main thread, so audit writes and queries do
 * not stall request handling. Messages: {id, op: 'query'|'exec'|'close', sql, params} → {id, rows|error}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { typeParsers } from './typeParsers.ts';

const { dataDir } = workerData as { dataDir?: string };
const db = dataDir
  ? await PGlite.create(dataDir, { parsers: typeParsers })
  : await PGlite.create({ parsers: typeParsers });

parentPort!.on(
  'message',
  async (m: { id: number; op: 'query' | 'exec' | 'close'; sql?: string; params?: unknown[] }) => {
    try {
      if (m.op === 'query') parentPort!.postMessage({ id: m.id, rows: (await db.query(m.sql!, m.params ?? [])).rows });
      else if (m.op === 'exec') {
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
