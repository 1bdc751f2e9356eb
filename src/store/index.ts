import { type Db, openDb, type StoreLocation } from './db.ts';
import { migrate } from './migrate.ts';

const ANALYZE_EVERY_MS = 10 * 60_000;

export interface Store {
  db: Db;
  close(): Promise<void>;
}

/** Opens the configured store (PostgreSQL or PGlite) and applies pending migrations. */
export async function openStore(location: StoreLocation): Promise<Store> {
  const db = await openDb(location);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  // PGlite runs PostgreSQL in single-user mode: no autovacuum, so no planner statistics unless we gather
  // them. Without them the audit queries fall back to sequential scans as the log grows.
  let timer: NodeJS.Timeout | undefined;
  if (db.kind === 'pglite') {
    // PGlite runs inside this process: a kill -9 is the database's crash too, and crash recovery empties
    // unlogged tables, so a staged export would not survive the very crash its run is meant to resume from.
    // Logged here (a no-op once done); on a PostgreSQL server they stay unlogged (migrations 004, 005).
    await db.exec('alter table surveillance_staged set logged; alter table surveillance_staged_medications set logged');
    await db.exec('analyze');
    timer = setInterval(() => void db.exec('analyze').catch(() => undefined), ANALYZE_EVERY_MS);
    timer.unref();
  }
  return {
    db,
    close: async () => {
      if (timer) clearInterval(timer);
      await db.close();
    },
  };
}

export type { Db, StoreLocation } from './db.ts';
export { StoreLockedError } from './lock.ts';
