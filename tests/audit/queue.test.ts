import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import type { HookInvocationInput } from '../../src/audit/records.ts';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';

const call = (i: number): HookInvocationInput => ({
  recordedAt: `2026-06-01T10:00:${String(i % 60).padStart(2, '0')}.000Z`,
  service: 'osteonecrosis-screening',
  hook: 'patient-view',
  hookInstance: randomUUID(),
  patientId: `q${i}`,
  cards: [{ uuid: randomUUID(), indicator: 'info', summary: `call ${i}` }],
});

let store: AuditStore;
beforeAll(async () => {
  store = await openAuditStore({ memory: true });
});
afterAll(() => store.close());

describe('hook audit queue', () => {
  it('writes calls that arrive together in one transaction, in order, all chained', async () => {
    const q = new HookAuditQueue(store.audit);
    const spy = vi.spyOn(store.audit, 'writeHookInvocations');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => q.enqueue(call(i))));
    expect(spy.mock.calls.length).toBeLessThan(5);
    expect(results.map((r) => r.seq)).toEqual([...results.map((r) => r.seq)].sort((a, b) => a - b));
    expect((await store.audit.verify()).ok).toBe(true);
    spy.mockRestore();
  });

  it('lets calls that arrive one after another within the linger time share a transaction', async () => {
    const q = new HookAuditQueue(store.audit, { lingerMs: 200 });
    const spy = vi.spyOn(store.audit, 'writeHookInvocations');
    const first = q.enqueue(call(1));
    await new Promise((r) => setTimeout(r, 20));
    const second = q.enqueue(call(2));
    await Promise.all([first, second]);
    expect(spy.mock.calls.map((c) => c[0].length)).toEqual([2]);
    spy.mockRestore();
  });

  it('rejects an invalid record at once, without holding up the others', async () => {
    const q = new HookAuditQueue(store.audit);
    await expect(q.enqueue({ ...call(1), recordedAt: 'now' })).rejects.toThrow();
    await expect(q.enqueue(call(2))).resolves.toMatchObject({ seq: expect.any(Number) });
  });

  it('flush waits for everything enqueued', async () => {
    const q = new HookAuditQueue(store.audit);
    const before = (await store.db.query<{ n: number }>('select count(*)::int as n from audit_log'))[0]!.n;
    for (let i = 0; i < 20; i++) void q.enqueue(call(i));
    await q.flush();
    const after = (await store.db.query<{ n: number }>('select count(*)::int as n from audit_log'))[0]!.n;
    expect(after - before).toBe(20);
    expect(q.size).toBe(0);
    expect([q.written, q.failed]).toEqual([20, 0]);
  });

  it('writes the good records of a batch the store refused one by one; only the bad one fails (counted for /metrics)', async () => {
    await store.db.exec(`create function ow_test_refuse_q() returns trigger language plpgsql as $$
      begin if new.patient_id = 'refuse-me' then raise exception 'refused by test'; end if; return new; end $$`);
    await store.db.exec(
      'create trigger ow_test_refuse_q before insert on hook_invocation for each row execute function ow_test_refuse_q()',
    );
    const q = new HookAuditQueue(store.audit, { lingerMs: 50 });
    const outcomes = await Promise.allSettled([q.enqueue(call(1)), q.enqueue({ ...call(2), patientId: 'refuse-me' })]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect([q.written, q.failed]).toEqual([1, 1]);
    await store.db.exec('drop trigger ow_test_refuse_q on hook_invocation');
    await expect(q.enqueue(call(3))).resolves.toMatchObject({ seq: expect.any(Number) });
    expect([q.written, q.failed]).toEqual([2, 1]);
  });
});
