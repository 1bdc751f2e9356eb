/**
 * One holder at a time across instances (Db.exclusively, the surveillance run's finishing step): on PostgreSQL a
 * second caller leaves the work to the holder, the key is free again once the holder is done (or has failed),
 * and the holder's lock connection is idle meanwhile, not a transaction held open for the work's length.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';

const url = process.env.DATABASE_URL;

describe('Db.exclusively', () => {
  it('the embedded store runs the work (one process: its callers coordinate themselves)', async () => {
    const store = await openAuditStore({ memory: true });
    try {
      expect(await store.db.exclusively('k', async () => 42)).toEqual({ held: true, value: 42 });
    } finally {
      await store.close();
    }
  });

  describe.skipIf(!url)('PostgreSQL, two instances', () => {
    const schema = `ow_test_${randomBytes(5).toString('hex')}`;
    // The holder's connections, told apart from the other tests' in pg_stat_activity.
    const app = `ow_exclusive_${randomBytes(4).toString('hex')}`;
    let a: AuditStore;
    let b: AuditStore;
    beforeAll(async () => {
      const u = new URL(url!);
      u.searchParams.set('application_name', app);
      a = await openAuditStore({ databaseUrl: u.toString(), schema });
      b = await openAuditStore({ databaseUrl: url!, schema });
    });
    afterAll(async () => {
      await a?.db.exec(`drop schema ${schema} cascade`).catch(() => undefined);
      await a?.close();
      await b?.close();
    });

    it('leaves the work to the holder, whose lock connection is idle meanwhile', async () => {
      const key = `test-${schema}`;
      let release!: () => void;
      const working = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const first = a.db.exclusively(key, async () => {
        entered();
        await working;
        return 'first';
      });
      await inside;
      expect(await b.db.exclusively(key, async () => 'second')).toEqual({ held: false });
      // The holder's connections while it works: idle, none in a transaction.
      const states = await b.db.query<{ state: string | null }>(
        'select state from pg_stat_activity where application_name = $1',
        [app],
      );
      expect(states.length).toBeGreaterThan(0);
      expect(states.map((s) => s.state)).not.toContain('idle in transaction');
      const [held] = await b.db.query<{ n: string }>(
        `select count(*) as n from pg_locks where locktype = 'advisory' and granted and objid = hashtext($1)::oid`,
        [key],
      );
      expect(Number(held?.n)).toBe(1);
      release();
      expect(await first).toEqual({ held: true, value: 'first' });
      expect(await b.db.exclusively(key, async () => 'second')).toEqual({ held: true, value: 'second' });
    });

    it('frees the key when the work fails', async () => {
      const key = `fail-${schema}`;
      await expect(
        a.db.exclusively(key, async () => {
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');
      expect(await b.db.exclusively(key, async () => 'next')).toEqual({ held: true, value: 'next' });
    });
  });
});
