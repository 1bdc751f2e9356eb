/**
 * The audit trail against every store engine: PGlite always, PostgreSQL when DATABASE_URL is set.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardResponses, patientHistory, thresholdCrossings } from '../../src/audit/queries.ts';
import type { HookInvocationInput } from '../../src/audit/records.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { storeTargets } from '../helpers/store.ts';

function invocation(
  over: Partial<HookInvocationInput> & { patientId: string },
  crossedOn: string | null,
  cumulativeMg = 3200,
): HookInvocationInput {
  return {
    recordedAt: '2026-03-01T10:00:00.000Z',
    service: 'osteonecrosis-screening',
    hook: 'patient-view',
    hookInstance: randomUUID(),
    userRef: 'Practitioner/dr-1',
    tenant: 'hospital-a',
    clientIss: 'https://ehr.example',
    latencyMs: 12.5,
    cards: [{ uuid: randomUUID(), indicator: 'warning', summary: `WB-MRI screening due: ${cumulativeMg} mg` }],
    exposure: {
      asOf: '2026-03-01',
      cumulativeMg,
      cumulativeIsLowerBound: false,
      currentDailyMg: 10,
      threshold: { mg: 3000, crossedOn, projectedOn: null },
      contributions: [{ source: 'MedicationStatement/ms1', ingredient: 'prednisolone', mg: cumulativeMg }],
      issues: [],
    },
    ...over,
  };
}

describe.each(storeTargets())('audit trail on $name', (target) => {
  let store: AuditStore & { dispose: () => Promise<void> };
  beforeAll(async () => {
    store = await target.open();
  });
  afterAll(() => store.dispose());

  it('records a hook invocation with its cards and exposure snapshot, and keeps no tokens', async () => {
    const input = {
      ...invocation({ patientId: 'p-hist' }, '2026-02-20'),
      fhirAuthorization: { access_token: 'SECRET-TOKEN', token_type: 'Bearer' },
      jwt: 'eyJhbGciOiJFUzM4NCJ9.SECRET',
    } as HookInvocationInput;
    const a = await store.audit.recordHookInvocation(input);
    expect(a.seq).toBeGreaterThan(0);
    const raw = JSON.stringify(await store.db.query('select * from audit_log'));
    expect(raw).not.toContain('SECRET');
    const h = await patientHistory(store.db, 'p-hist');
    expect(h.invocations.items).toHaveLength(1);
    const inv = h.invocations.items[0]!;
    expect(inv).toMatchObject({
      service: 'osteonecrosis-screening',
      hook: 'patient-view',
      userRef: 'Practitioner/dr-1',
      tenant: 'hospital-a',
      latencyMs: 12.5,
    });
    expect(inv.cards[0]!.uuid).toBe(input.cards![0]!.uuid);
    expect(inv.exposure!.contributions[0]!.source).toBe('MedicationStatement/ms1');
    expect(h.exposureByDate).toEqual([
      { asOf: '2026-03-01', cumulativeMg: 3200, lowerBound: false, currentDailyMg: 10, crossedOn: '2026-02-20' },
    ]);
  });

  it('stores feedback once however often it is sent', async () => {
    const inv = invocation({ patientId: 'p-fb' }, null, 1000);
    await store.audit.recordHookInvocation(inv);
    const fb = {
      recordedAt: '2026-03-01T10:05:00.000Z',
      service: 'osteonecrosis-screening',
      card: inv.cards![0]!.uuid,
      outcome: 'overridden' as const,
      outcomeTimestamp: '2026-03-01T10:04:00.000Z',
      overrideReason: {
        reason: { code: 'already-imaged', display: 'MRI done elsewhere' },
        userComment: 'outside hospital',
      },
    };
    const first = await store.audit.recordFeedback(fb);
    const again = await store.audit.recordFeedback(fb);
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ seq: first.seq, duplicate: true });
    const h = await patientHistory(store.db, 'p-fb');
    expect(h.invocations.items[0]!.cards[0]!.feedback).toEqual([
      {
        outcome: 'overridden',
        outcomeTimestamp: '2026-03-01T10:04:00.000Z',
        overrideReason: { code: 'already-imaged', display: 'MRI done elsewhere' },
        userComment: 'outside hospital',
      },
    ]);
  });

  it('rejects invalid records with a message', async () => {
    await expect(
      store.audit.recordFeedback({
        recordedAt: 'yesterday',
        service: 's',
        card: 'c',
        outcome: 'accepted',
        outcomeTimestamp: '2026-01-01T00:00:00Z',
      }),
    ).rejects.toThrow(/ISO 8601/);
  });

  it('pages a patient history with a cursor', async () => {
    for (let i = 0; i < 5; i++)
      await store.audit.recordHookInvocation(
        invocation({ patientId: 'p-page', recordedAt: `2026-03-0${i + 1}T09:00:00.000Z` }, null, 100 * i),
      );
    const p1 = await patientHistory(store.db, 'p-page', { limit: 2 });
    const p2 = await patientHistory(store.db, 'p-page', { limit: 2, cursor: p1.invocations.nextCursor });
    const p3 = await patientHistory(store.db, 'p-page', { limit: 2, cursor: p2.invocations.nextCursor });
    const seqs = [...p1.invocations.items, ...p2.invocations.items, ...p3.invocations.items].map((i) => i.seq);
    expect(new Set(seqs).size).toBe(5);
    expect(p3.invocations.nextCursor).toBeNull();
  });

  it('reports threshold crossings with the time to the WB-MRI that followed', async () => {
    await store.audit.recordHookInvocation(invocation({ patientId: 'x-imaged' }, '2026-01-10'));
    await store.audit.recordHookInvocation(
      invocation({ patientId: 'x-imaged', recordedAt: '2026-03-02T10:00:00.000Z' }, '2026-01-10', 3500),
    );
    await store.audit.recordWriteBack({
      recordedAt: '2026-02-15T12:00:00.000Z',
      patientId: 'x-imaged',
      studyUid: '2.25.1',
      studyDate: '2026-02-09',
      resourceRefs: ['Observation/o1/_history/1'],
    });
    await store.audit.recordHookInvocation(invocation({ patientId: 'x-waiting' }, '2026-01-20'));
    await store.audit.recordHookInvocation(
      invocation({ patientId: 'x-old-mri', wbmriStudies: [{ date: '2025-06-01' }] }, '2026-01-25'),
    );
    await store.audit.recordHookInvocation(invocation({ patientId: 'x-outside' }, '2025-12-31'));
    const r = await thresholdCrossings(store.db, { from: '2026-01-01', to: '2026-02-01', thresholdMg: 3000 });
    const rows = r.items.filter((i) => i.patient.startsWith('x-'));
    expect(rows).toEqual([
      { patient: 'x-imaged', crossedOn: '2026-01-10', firstWbMri: '2026-02-09', daysToImaging: 30 },
      { patient: 'x-old-mri', crossedOn: '2026-01-25', firstWbMri: null, daysToImaging: null },
      { patient: 'x-waiting', crossedOn: '2026-01-20', firstWbMri: null, daysToImaging: null },
    ]);
    expect(r.summary.imaged).toBeGreaterThanOrEqual(1);
    const paged = await thresholdCrossings(store.db, {
      from: '2026-01-01',
      to: '2026-02-01',
      thresholdMg: 3000,
      limit: 1,
    });
    expect(paged.items).toHaveLength(1);
    expect(paged.nextCursor).not.toBeNull();
  });

  it('summarises cards shown and responses by service and period', async () => {
    const a = invocation(
      {
        patientId: 'c-1',
        service: 'glucocorticoid-order-sign',
        hook: 'order-sign',
        recordedAt: '2026-04-01T08:00:00.000Z',
      },
      null,
    );
    const b = invocation(
      {
        patientId: 'c-2',
        service: 'glucocorticoid-order-sign',
        hook: 'order-sign',
        recordedAt: '2026-04-02T08:00:00.000Z',
      },
      null,
    );
    const c = invocation(
      {
        patientId: 'c-3',
        service: 'glucocorticoid-order-sign',
        hook: 'order-sign',
        recordedAt: '2026-04-03T08:00:00.000Z',
      },
      null,
    );
    for (const x of [a, b, c]) await store.audit.recordHookInvocation(x);
    await store.audit.recordFeedback({
      recordedAt: '2026-04-01T08:01:00.000Z',
      service: 'glucocorticoid-order-sign',
      card: a.cards![0]!.uuid,
      outcome: 'accepted',
      outcomeTimestamp: '2026-04-01T08:01:00.000Z',
      acceptedSuggestions: [{ id: randomUUID() }],
    });
    await store.audit.recordFeedback({
      recordedAt: '2026-04-02T08:01:00.000Z',
      service: 'glucocorticoid-order-sign',
      card: b.cards![0]!.uuid,
      outcome: 'overridden',
      outcomeTimestamp: '2026-04-02T08:01:00.000Z',
      overrideReason: { reason: { code: 'patient-declined', display: 'Patient declined' } },
    });
    const r = await cardResponses(store.db, {
      from: '2026-04-01',
      to: '2026-05-01',
      service: 'glucocorticoid-order-sign',
      limit: 2,
    });
    expect(r.byService).toEqual([
      { service: 'glucocorticoid-order-sign', shown: 3, accepted: 1, overridden: 1, noResponse: 1 },
    ]);
    expect(r.overrideReasons).toEqual([
      { service: 'glucocorticoid-order-sign', code: 'patient-declined', display: 'Patient declined', count: 1 },
    ]);
    expect(r.items.map((i) => i.response)).toEqual(['none', 'overridden']);
    const next = await cardResponses(store.db, {
      from: '2026-04-01',
      to: '2026-05-01',
      service: 'glucocorticoid-order-sign',
      limit: 2,
      cursor: r.nextCursor,
    });
    expect(next.items.map((i) => i.response)).toEqual(['accepted']);
    expect(next.nextCursor).toBeNull();
  });

  it('records surveillance runs and audit queries in the same chain, and the chain verifies', async () => {
    await store.audit.recordSurveillanceRun({
      recordedAt: '2026-04-05T02:00:00.000Z',
      runId: 'run-1',
      startedAt: '2026-04-05T02:00:00.000Z',
      finishedAt: '2026-04-05T02:03:00.000Z',
      summary: { patients: 300 },
    });
    await store.audit.recordAuditQuery({
      recordedAt: '2026-04-05T09:00:00.000Z',
      actor: 'static-token',
      query: 'patient p-hist',
      patientId: 'p-hist',
    });
    const v = await store.audit.verify(7);
    expect(v.ok).toBe(true);
    expect(v.checked).toBe(v.lastSeq);
    expect(v.checked).toBeGreaterThan(15);
  });

  it('refuses to update or delete audit records', async () => {
    await expect(store.db.query(`update audit_log set actor = 'mallory' where seq = 1`)).rejects.toThrow(/append-only/);
    await expect(store.db.query('delete from audit_log where seq = 1')).rejects.toThrow(/append-only/);
    await expect(store.db.query(`delete from card_feedback`)).rejects.toThrow(/append-only/);
  });

  it('detects tampering: verification names the first broken record', async () => {
    // Someone with database rights disables the guard and edits a record.
    await store.db.exec('alter table audit_log disable trigger audit_log_append_only');
    await store.db.query(`update audit_log set payload = jsonb_set(payload, '{latencyMs}', '1') where seq = 3`);
    await store.db.exec('alter table audit_log enable trigger audit_log_append_only');
    const v = await store.audit.verify();
    expect(v.ok).toBe(false);
    expect(v.firstBroken).toEqual({ seq: 3, reason: 'its content does not match its hash (the record was altered)' });
    expect(v.checked).toBe(2);
  });
});
