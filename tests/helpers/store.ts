import { randomBytes } from 'node:crypto';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';

export interface StoreTarget {
  name: string;
  open: () => Promise<AuditStore & { dispose: () => Promise<void> }>;
}

/**
 * The engines every store test runs against: PGlite always, PostgreSQL when DATABASE_URL is set (CI sets it).
 * Each PostgreSQL store lives in its own schema, dropped afterwards.
 */
export function storeTargets(): StoreTarget[] {
  const targets: StoreTarget[] = [
    {
      name: 'PGlite',
      open: async () => {
        const s = await openAuditStore({ memory: true });
        return { ...s, dispose: () => s.close() };
      },
    },
  ];
  const url = process.env.DATABASE_URL;
  if (url) {
    targets.push({
      name: 'PostgreSQL',
      open: async () => {
        const schema = `ow_test_${randomBytes(5).toString('hex')}`;
        const s = await openAuditStore({ databaseUrl: url, schema });
        return {
          ...s,
          dispose: async () => {
            await s.db.exec(`drop schema ${schema} cascade`);
            await s.close();
          },
        };
      },
    });
  }
  return targets;
}
