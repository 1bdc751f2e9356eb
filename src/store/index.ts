import { AuditLog } from '../audit/auditLog.ts';
import { type Db, openDb, type StoreLocation } from './db.ts';
import { migrate } from './migrate.ts';

export interface Store {
  db: Db;
  audit: AuditLog;
  close(): Promise<void>;
}

/** Opens the configured store (PostgreSQL or PGlite), applies pending migrations, returns its writers. */
export async function openStore(location: StoreLocation): Promise<Store> {
  const db = await openDb(location);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, audit: new AuditLog(db), close: () => db.close() };
}

export type { Db, StoreLocation } from './db.ts';
export { StoreLockedError } from './lock.ts';
