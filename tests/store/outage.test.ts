/**
 * PostgreSQL connections dropped under load (pg_terminate_backend, as a restart or failover does): the
 * process survives, hook records stay queued and are written once the store answers again; an unreachable
 * store is reported as `unavailable` (HTTP 503), not as a bug.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import type { HookInvocationInput } from '../../src/audit/records.ts';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { openDb } from '../../src/store/db.ts';

const url = process.env.DATABASE_URL;
const app = `ow_outage_${randomBytes(4).toString('hex')}`;
const schema = `ow_test_${randomBytes(5).toString('hex')}`;

const call = (i: number): HookInvocationInput => ({
  recordedAt: new Date().toISOString(),
  service: 'osteonecrosis-screening',
  hook: 'patient-view',
  hookInstance: randomUUID(),
  patientId: `o${i % 17}`,
  cards: [{ uuid: randomUUID(), indicator: 'info', summary: `call ${i}` }],
});

describe.skipIf(!url)('PostgreSQL outages', { timeout: 120_000 }, () => {
  let store: AuditStore;
  let admin: pg.Client;
  beforeAll(async () => {
    const u = new URL(url!);
    u.searchParams.set('application_name', app);
    store = await openAuditStore({ databaseUrl: u.toString(), schema });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    await store?.db.exec(`drop schema ${schema} cascade`).catch(() => undefined);
    await store?.close();
    await admin?.end();
  });

  const terminate = async () =>
    (
      await admin.query<{ n: number }>(
        'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = $1',
        [app],
      )
    ).rows[0]!.n;

  it('connections terminated mid-stream: the process survives and every record is written after reconnecting', async () => {
    const q = new HookAuditQueue(store.audit, { lingerMs: 5, maxBatch: 20, retryMs: { min: 50, max: 500 } });
    const written: Array<Promise<unknown>> = [];
    let killed = 0;
    for (let i = 0; i < 400; i++) {
      written.push(q.enqueue(call(i)));
      if (i % 50 === 25) killed += await terminate();
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(killed).toBeGreaterThan(0);
    const results = await Promise.allSettled(written);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect([q.written, q.failed]).toEqual([400, 0]);
    const n = (await store.db.query<{ n: number }>('select count(*)::int as n from hook_invocation'))[0]!.n;
    expect(n).toBe(400);
    expect((await store.audit.verify()).ok).toBe(true);
    expect(await store.db.reachable()).toBe(true);
  });

  it('an idle pooled connection terminated does not end the process; the next query reconnects', async () => {
    await store.db.query('select 1');
    expect(await terminate()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(await store.db.query('select 1 as one')).toEqual([{ one: 1 }]);
  });

  it('a store that cannot be reached is `unavailable` (503), and not reachable', async () => {
    await expect(openDb({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/test' })).rejects.toMatchObject({
      kind: 'unavailable',
    });
  });
});
