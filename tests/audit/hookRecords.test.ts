/**
 * Hook records written in batches as one statement, with content-addressed contribution sets — against
 * every store engine (PGlite always, PostgreSQL when DATABASE_URL is set).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contributionRef } from '../../src/audit/contributionSets.ts';
import { patientHistory, thresholdCrossings } from '../../src/audit/queries.ts';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import type { HookInvocationInput } from '../../src/audit/records.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { storeTargets } from '../helpers/store.ts';

const contributions = (n: number, mg = 100) =>
  Array.from({ length: n }, (_, i) => ({
    source: `MedicationStatement/ms-${i}`,
    resourceType: 'MedicationStatement',
    ingredient: 'prednisone',
    route: 'oral',
    mg,
    ingredientMg: mg,
    days: 14,
    firstDay: '2025-01-01',
    lastDay: '2025-01-14',
    status: 'counted',
  }));

function hook(patientId: string, over: Partial<HookInvocationInput> = {}, n = 40, mg = 100): HookInvocationInput {
  return {
    recordedAt: '2026-05-01T10:00:00.000Z',
    service: 'osteonecrosis-screening',
    hook: 'patient-view',
    hookInstance: randomUUID(),
    patientId,
    clientIss: 'https://ehr.example',
    cards: [{ uuid: randomUUID(), indicator: 'warning', summary: 'WB-MRI screening due' }],
    exposure: {
      asOf: '2026-05-01',
      cumulativeMg: n * mg,
      cumulativeIsLowerBound: false,
      currentDailyMg: 5,
      threshold: { mg: 3000, crossedOn: n * mg >= 3000 ? '2026-01-10' : null, projectedOn: null },
      contributions: contributions(n, mg),
      issues: [],
    },
    dataSources: contributions(n, mg).map((c) => c.source),
    ...over,
  };
}

describe.each(storeTargets())('hook records on $name', (target) => {
  let store: AuditStore & { dispose: () => Promise<void> };
  beforeAll(async () => {
    store = await target.open();
  });
  afterAll(() => store.dispose());

  const count = async (table: string, where = 'true') =>
    Number((await store.db.query<{ n: number }>(`select count(*)::int as n from ${table} where ${where}`))[0]!.n);

  it('stores a contribution list once however often a chart is opened with the same data', async () => {
    const first = hook('p-same');
    await store.audit.recordHookInvocation(first);
    await store.audit.recordHookInvocations([hook('p-same'), hook('p-same')]);
    await store.audit.recordHookInvocation(hook('p-same', {}, 40, 200)); // the dose changed: a new list
    expect(await count('hook_invocation', `patient_id = 'p-same'`)).toBe(4);
    expect(await count('contribution_set')).toBe(2);
    const payloads = await store.db.query<{ payload: { exposure: Record<string, unknown> } }>(
      `select payload from audit_log where patient_id = 'p-same' order by seq`,
    );
    const refs = payloads.map((p) => p.payload.exposure.contributionsRef);
    expect(refs[0]).toBe(contributionRef(JSON.stringify(first.exposure!.contributions)));
    expect(new Set(refs).size).toBe(2);
    expect(payloads[0]!.payload.exposure.contributions).toBeUndefined();
    expect(payloads[0]!.payload.exposure.contributionCount).toBe(40);
    // Readers see the snapshot as it was recorded, contributions included.
    const h = await patientHistory(store.db, 'p-same');
    expect(h.invocations.items).toHaveLength(4);
    expect(h.invocations.items[3]!.exposure!.contributions).toEqual(first.exposure!.contributions);
    expect(h.invocations.items[0]!.exposure!.contributions[0]!.mg).toBe(200);
    expect(h.invocations.items[0]!.exposure).not.toHaveProperty('contributionsRef');
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('writes a batch in one go: every record, card, snapshot and first crossing, in order', async () => {
    const queue = new HookAuditQueue(store.audit, { lingerMs: 50 });
    const study = { date: '2026-02-02' };
    const inputs = Array.from({ length: 25 }, (_, i) =>
      hook(`p-batch-${i % 5}`, { wbmriStudies: [study], hookInstance: `batch-${i}` }),
    );
    const appended = await Promise.all(inputs.map((i) => queue.enqueue(i)));
    const seqs = appended.map((a) => a.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(25);
    expect(await count('hook_invocation', `hook_instance like 'batch-%'`)).toBe(25);
    expect(await count('card', `patient_id like 'p-batch-%'`)).toBe(25);
    expect(await count('exposure_snapshot', `patient_id like 'p-batch-%'`)).toBe(25);
    // Five patients, one study each, one crossing each — first seen by each patient's first record.
    expect(await count('wbmri_study', `patient_id like 'p-batch-%'`)).toBe(5);
    const crossings = await store.db.query<{ patient_id: string; first_seen_seq: number }>(
      `select patient_id, first_seen_seq from threshold_crossing where patient_id like 'p-batch-%' order by patient_id`,
    );
    expect(crossings.map((c) => c.first_seen_seq)).toEqual(seqs.slice(0, 5));
    const report = await thresholdCrossings(store.db, { thresholdMg: 3000, from: '2026-01-01', to: '2026-02-01' });
    const batch = report.items.filter((r) => r.patient.startsWith('p-batch-'));
    expect(batch).toHaveLength(5);
    expect(batch[0]).toEqual({
      patient: 'p-batch-0',
      crossedOn: '2026-01-10',
      firstWbMri: '2026-02-02',
      daysToImaging: 23,
    });
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('a NUL character from a client is stored as U+FFFD, not refused, by every writer', async () => {
    const a = await store.audit.recordHookInvocation(hook('p-nul', { userRef: 'Practitioner/a\u0000b' }));
    const rows = await store.db.query<{ actor: string; user_ref: string }>(
      'select l.actor, h.user_ref from audit_log l join hook_invocation h using (seq) where seq = $1',
      [a.seq],
    );
    expect(rows[0]).toEqual({ actor: 'Practitioner/a\ufffdb', user_ref: 'Practitioner/a\ufffdb' });
    // Not only the payload: the patient id is a column of its own.
    await store.audit.recordHookInvocation(hook('p-nul\u0000x'));
    expect(await count('hook_invocation', `patient_id = 'p-nul\ufffdx'`)).toBe(1);
    // Every other writer too: feedback from a CDS client, a write-back.
    const card = randomUUID();
    await store.audit.recordFeedback({
      recordedAt: '2026-05-01T10:05:00.000Z',
      service: 'osteonecrosis-screening',
      card,
      outcome: 'overridden',
      outcomeTimestamp: '2026-05-01T10:05:00.000Z',
      overrideReason: { userComment: 'see\u0000note' },
    });
    const fb = await store.db.query<{ user_comment: string }>(
      'select user_comment from card_feedback where card_uuid = $1',
      [card],
    );
    expect(fb[0]!.user_comment).toBe('see\ufffdnote');
    await store.audit.recordWriteBack({
      recordedAt: '2026-05-01T10:06:00.000Z',
      patientId: 'p-nul',
      resourceRefs: ['Observation/a\u0000'],
    });
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('after a failed write the chain continues from what was committed', async () => {
    // A real fault inside the store: a trigger that refuses one record, so its whole batch rolls back.
    await store.db.exec(`create function ow_test_refuse() returns trigger language plpgsql as $$
      begin if new.hook_instance = 'refuse-me' then raise exception 'refused by test'; end if; return new; end $$`);
    await store.db.exec(
      'create trigger ow_test_refuse before insert on hook_invocation for each row execute function ow_test_refuse()',
    );
    const before = await count('audit_log');
    await expect(
      store.audit.recordHookInvocations([hook('p-fail'), hook('p-fail', { hookInstance: 'refuse-me' })]),
    ).rejects.toThrow(/refused by test/);
    expect(await count('audit_log')).toBe(before);
    await store.db.exec('drop trigger ow_test_refuse on hook_invocation');
    const next = await store.audit.recordHookInvocation(hook('p-fail'));
    expect(next.seq).toBe(before + 1);
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('writers running at once all land in one unbroken chain', async () => {
    const queue = new HookAuditQueue(store.audit, { lingerMs: 1, maxBatch: 3 });
    const results = await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => queue.enqueue(hook(`p-conc-${i % 3}`))),
      ...Array.from({ length: 4 }, (_, i) =>
        store.audit.recordWriteBack({
          recordedAt: '2026-05-02T08:00:00.000Z',
          patientId: `p-conc-${i}`,
          actor: 'osteowatch-ingest',
          resourceRefs: [`Observation/o-${i}`],
        }),
      ),
      ...Array.from({ length: 4 }, (_, i) =>
        store.audit.recordAuditQuery({ recordedAt: '2026-05-02T09:00:00.000Z', actor: 'auditor', query: `q${i}` }),
      ),
    ]);
    expect(new Set(results.map((r) => r.seq)).size).toBe(20);
    const v = await store.audit.verify();
    expect(v).toMatchObject({ ok: true });
    expect(v.lastSeq).toBe(await count('audit_log'));
  });

  it('verification finds an altered or a missing contribution set', async () => {
    const a = await store.audit.recordHookInvocation(hook('p-tamper', {}, 7, 11));
    const ref = contributionRef(JSON.stringify(hook('p-tamper', {}, 7, 11).exposure!.contributions));
    await store.db.exec('alter table contribution_set disable trigger contribution_set_append_only');
    await store.db.query(`update contribution_set set body = replace(body, '"mg":11', '"mg":1') where hash = $1`, [
      ref,
    ]);
    let v = await store.audit.verify();
    expect(v.ok).toBe(false);
    expect(v.firstBroken!.seq).toBe(a.seq);
    expect(v.firstBroken!.reason).toMatch(/exposure contributions .* do not match their hash/);
    await store.db.query('delete from contribution_set where hash = $1', [ref]);
    await store.db.exec('alter table contribution_set enable trigger contribution_set_append_only');
    v = await store.audit.verify();
    expect(v.firstBroken).toEqual({
      seq: a.seq,
      reason: expect.stringMatching(/exposure contributions .* are missing/),
    });
    await expect(store.db.query('delete from contribution_set')).rejects.toThrow(/append-only/);
  });
});
