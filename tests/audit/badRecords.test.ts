/**
 * One bad record must not fail its batch: strings no store can hold (NUL, a lone UTF-16 surrogate) are made
 * storable at the boundary, a batch the store refuses is retried record by record, and a record refused on
 * its own (or by validation) is counted as failed — against every store engine.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import type { HookInvocationInput } from '../../src/audit/records.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { storeTargets } from '../helpers/store.ts';

function call(
  i: number,
  over: Partial<HookInvocationInput> = {},
  source = `MedicationRequest/mr-${i}`,
): HookInvocationInput {
  return {
    recordedAt: '2026-06-01T10:00:00.000Z',
    service: 'osteonecrosis-screening',
    hook: 'patient-view',
    hookInstance: randomUUID(),
    patientId: `bad-${i}`,
    tenant: 'demo',
    cards: [{ uuid: randomUUID(), indicator: 'info', summary: `call ${i}` }],
    exposure: {
      asOf: '2026-06-01',
      cumulativeMg: 100,
      cumulativeIsLowerBound: false,
      currentDailyMg: 5,
      threshold: { mg: 3000, crossedOn: null },
      contributions: [{ source, ingredient: 'prednisone', mg: 100, derivation: 'prednisone 5 mg daily' }],
      issues: [],
    },
    ...over,
  };
}

describe.each(storeTargets())('bad records on $name', { timeout: 120_000 }, (target) => {
  let store: AuditStore & { dispose: () => Promise<void> };
  beforeAll(async () => {
    store = await target.open();
  });
  afterAll(() => store.dispose());

  it('a lone surrogate in a hookInstance or a dosage text is stored as U+FFFD; all 50 concurrent calls are written', async () => {
    const q = new HookAuditQueue(store.audit, { lingerMs: 50 });
    const inputs = Array.from({ length: 50 }, (_, i) =>
      i === 7
        ? call(i, { hookInstance: `hi-\ud800-${randomUUID()}` })
        : i === 23
          ? call(i, {}, 'MedicationRequest/dose \udc00 text')
          : i === 31
            ? call(i, { cards: [{ uuid: randomUUID(), indicator: 'info', summary: 'nul \u0000 and \ud83d' }] })
            : call(i),
    );
    const results = await Promise.allSettled(inputs.map((i) => q.enqueue(i)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect([q.written, q.failed]).toEqual([50, 0]);
    const rows = await store.db.query<{ hook_instance: string }>(
      "select hook_instance from hook_invocation where hook_instance like 'hi-%'",
    );
    expect(rows.map((r) => r.hook_instance)[0]).toMatch(/^hi-\ufffd-/);
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('a record refused by validation (an Infinity dose, a 300-character tenant) fails alone and is counted', async () => {
    const q = new HookAuditQueue(store.audit, { lingerMs: 50 });
    const metrics = createMetrics({ defaults: false });
    metrics.watchAuditQueue(q);
    const bad1 = call(1, {
      exposure: { ...call(1).exposure!, cumulativeMg: Number.POSITIVE_INFINITY },
    });
    const bad2 = call(2, { tenant: 't'.repeat(300) });
    const results = await Promise.allSettled([call(0), bad1, bad2, call(3)].map((i) => q.enqueue(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect([q.written, q.failed]).toEqual([2, 2]);
    expect(await metrics.registry.metrics()).toMatch(/osteowatch_audit_hook_records_failed_total 2/);
  });

  it('a record the store refuses on its own fails alone: the rest of its batch is written', async () => {
    await store.db.exec(`create or replace function ow_test_refuse_bad() returns trigger language plpgsql as $$
      begin if new.patient_id = 'refuse-me' then raise exception 'refused by test'; end if; return new; end $$`);
    await store.db.exec(
      'create trigger ow_test_refuse_bad before insert on hook_invocation for each row execute function ow_test_refuse_bad()',
    );
    try {
      const q = new HookAuditQueue(store.audit, { lingerMs: 50 });
      const inputs = Array.from({ length: 20 }, (_, i) => call(100 + i, i === 9 ? { patientId: 'refuse-me' } : {}));
      const results = await Promise.allSettled(inputs.map((i) => q.enqueue(i)));
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      expect(results[9]!.status).toBe('rejected');
      expect([q.written, q.failed]).toEqual([19, 1]);
    } finally {
      await store.db.exec('drop trigger ow_test_refuse_bad on hook_invocation');
    }
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('back-pressure: past its bound the queue stops accepting, and accepts again once written', async () => {
    const q = new HookAuditQueue(store.audit, { lingerMs: 20, maxPending: 5 });
    expect(q.accepting()).toBe(true);
    const all = Array.from({ length: 5 }, (_, i) => q.enqueue(call(200 + i)));
    expect(q.accepting()).toBe(false);
    // The hard bound (twice the soft one) refuses outright: never an unbounded backlog.
    for (let i = 0; i < 5; i++) all.push(q.enqueue(call(300 + i)));
    await expect(q.enqueue(call(400))).rejects.toMatchObject({ kind: 'unavailable' });
    await Promise.all(all);
    expect(q.accepting()).toBe(true);
    q.stop();
    expect(q.accepting()).toBe(false);
  });
});
