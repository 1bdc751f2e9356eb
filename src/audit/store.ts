/** The audit store: the configured database (src/store) with the audit trail's writers and readers over it. */
import { openStore, type Store, type StoreLocation } from '../store/index.ts';
import { AuditLog } from './auditLog.ts';

export interface AuditStore extends Store {
  audit: AuditLog;
}

export async function openAuditStore(location: StoreLocation): Promise<AuditStore> {
  const store = await openStore(location);
  return { ...store, audit: new AuditLog(store.db) };
}
