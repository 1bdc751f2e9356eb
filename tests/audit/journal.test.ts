/**
 * The hook audit journal: records fsynced (in groups) before the answer, replayed into the store at start
 * exactly once, segments deleted once stored.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HookJournal, journalDir } from '../../src/audit/journal.ts';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import { type HookInvocation, type HookInvocationInput, hookInvocationSchema } from '../../src/audit/records.ts';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';

const call = (i: number): HookInvocationInput => ({
  recordedAt: new Date(Date.UTC(2026, 5, 1, 10, 0, i)).toISOString(),
  service: 'osteonecrosis-screening',
  hook: 'patient-view',
  hookInstance: randomUUID(),
  patientId: `j${i}`,
  cards: [{ uuid: randomUUID(), indicator: 'info', summary: `call ${i}` }],
});

let store: AuditStore;
beforeAll(async () => {
  store = await openAuditStore({ memory: true });
});
afterAll(() => store.close());

const stored = async (ids: string[]) =>
  (
    await store.db.query<{ hook_instance: string }>(
      'select hook_instance from hook_invocation where hook_instance = any($1::text[])',
      [ids],
    )
  ).map((r) => r.hook_instance);

describe('hook audit journal', { timeout: 60_000 }, () => {
  it('replays what a crash left, once: records already stored are skipped, a torn last line ignored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ow-journal-'));
    const crashed = HookJournal.open(dir);
    const records: HookInvocation[] = Array.from({ length: 10 }, (_, i) => hookInvocationSchema.parse(call(i)));
    await Promise.all(records.map((r) => crashed.append(r)));
    // Four were written to the store before the crash, the journal not yet truncated.
    await store.audit.recordHookInvocations(records.slice(0, 4));
    const segments = readdirSync(journalDir(dir));
    expect(segments).toHaveLength(1);
    appendFileSync(join(journalDir(dir), segments[0]!), '{"record":{"recordedAt":"2026-06-01T1');

    const restarted = HookJournal.open(dir);
    expect(await restarted.replay(store.audit)).toEqual({ replayed: 6, skipped: 4, unreadable: 1, failed: 0 });
    const ids = records.map((r) => r.hookInstance);
    expect((await stored(ids)).sort()).toEqual([...ids].sort());
    expect(readdirSync(journalDir(dir))).toEqual([]);
    // Replaying again writes nothing.
    expect(await HookJournal.open(dir).replay(store.audit)).toEqual({
      replayed: 0,
      skipped: 0,
      unreadable: 0,
      failed: 0,
    });
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('a queue with a journal: record() resolves once fsynced, in groups; the segment goes once stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ow-journal-'));
    const journal = HookJournal.open(dir);
    const q = new HookAuditQueue(store.audit, { journal });
    const calls = Array.from({ length: 40 }, (_, i) => call(i));
    await Promise.all(calls.map((c) => q.record(c)));
    expect(journal.syncs).toBeLessThan(40);
    await q.flush();
    expect(journal.outstanding).toBe(0);
    expect(q.written).toBe(40);
    await journal.close();
    expect(readdirSync(journalDir(dir))).toEqual([]);
    expect(await stored(calls.map((c) => c.hookInstance))).toHaveLength(40);
  });
});
