/**
 * The worklist's Tasks on a real FHIR server (the demo's, over HTTP): one per patient, rule and due date
 * whatever the number of runs, a follow-up that has become overdue updates its Task instead of leaving it "due",
 * and a Task this service resolved is opened again when its reason is back (a clinician's closing is theirs).
 */
import type { Bundle, ServiceRequest, Task } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noAuth } from '../../src/fhir/fhirAuth.ts';
import type { WorklistItem } from '../../src/screening/worklist.ts';
import { TaskPublisher } from '../../src/surveillance/tasks.ts';
import type { RunningServer } from '../helpers/server.ts';
import { demoServer } from './harness.ts';

describe('worklist Tasks', () => {
  let server: RunningServer;
  let tasks: TaskPublisher;
  beforeAll(async () => {
    server = await demoServer([]);
    tasks = new TaskPublisher({ fhirBaseUrl: server.fhirUrl, auth: noAuth, timeoutMs: 30_000 });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  const item = (rule: WorklistItem['rule']): WorklistItem => ({
    patientId: 'ow-0001',
    rule,
    dueDate: '2026-03-01',
    overdueFrom: '2026-06-01',
    daysOverdue: rule === 'follow-up-overdue' ? 29 : null,
    cumulativeMg: 9000,
    lowerBound: false,
    lastStudy: '2025-12-01',
    summary: `Follow-up STIR WB-MRI ${rule === 'follow-up-due' ? 'due' : 'overdue'}`,
    suggestsOrder: true,
  });
  const all = async () =>
    ((await (await fetch(`${server.fhirUrl}/Task?_count=100`)).json()) as Bundle<Task>).entry?.map(
      (e) => e.resource!,
    ) ?? [];

  it('a due follow-up, then the same follow-up overdue: one Task, updated to overdue and urgent', async () => {
    const first = await tasks.publish(item('follow-up-due'), '2026-04-01', 'reason');
    expect(await tasks.publish(item('follow-up-due'), '2026-04-02', 'reason')).toBe(first);
    let held = await all();
    expect(held).toHaveLength(1);
    expect(held[0]!.businessStatus?.text).toBe('due');
    expect(held[0]!.priority).toBe('routine');

    expect(await tasks.publish(item('follow-up-overdue'), '2026-06-30', 'reason')).toBe(first);
    held = await all();
    expect(held).toHaveLength(1);
    expect(held[0]!.businessStatus?.text).toBe('overdue');
    expect(held[0]!.priority).toBe('urgent');
    expect(held[0]!.status).toBe('ready');
  }, 60_000);

  it('a Task this service resolved is opened again when its reason is back; one a clinician closed stays closed', async () => {
    const screening: WorklistItem = {
      ...item('follow-up-due'),
      patientId: 'ow-0002',
      rule: 'screening-due',
      overdueFrom: null,
      summary: 'Baseline STIR WB-MRI due',
    };
    const ref = await tasks.publish(screening, '2026-04-01', 'reason');
    const read = async () => (await (await fetch(`${server.fhirUrl}/${ref}`)).json()) as Task;
    // Resolved (the WB-MRI done), then due again (that WB-MRI entered in error): the same Task, ready again.
    await tasks.complete(screening, 'Resolved in surveillance run r1');
    expect(await read()).toMatchObject({ status: 'completed', businessStatus: { text: 'resolved' } });
    expect(await tasks.publish(screening, '2026-04-03', 'reason')).toBe(ref);
    const reopened = await read();
    expect(reopened).toMatchObject({ status: 'ready', businessStatus: { text: 'due' } });
    expect(reopened.statusReason).toBeUndefined();

    // A clinician completes it (or cancels it) in the EHR: the next runs leave it as they left it.
    for (const status of ['completed', 'cancelled'] as const) {
      await fetch(`${server.fhirUrl}/${ref}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...(await read()), status }),
      });
      expect(await tasks.publish(screening, '2026-04-04', 'reason')).toBe(ref);
      expect((await read()).status).toBe(status);
    }
    expect((await all()).filter((t) => t.for?.reference === 'Patient/ow-0002')).toHaveLength(1);
  }, 60_000);

  it('the draft order this service revoked on resolving is a draft again when the Task reopens; one a clinician revoked stays revoked', async () => {
    const screening = (patientId: string): WorklistItem => ({
      ...item('follow-up-due'),
      patientId,
      rule: 'screening-due',
      overdueFrom: null,
      summary: 'Baseline STIR WB-MRI due',
    });
    const orderOf = async (ref: string) => {
      const task = (await (await fetch(`${server.fhirUrl}/${ref}`)).json()) as Task;
      const sr = task.basedOn?.[0]?.reference;
      expect(sr).toMatch(/^ServiceRequest\//);
      return { task, read: async () => (await (await fetch(`${server.fhirUrl}/${sr}`)).json()) as ServiceRequest };
    };
    const tagged = (sr: ServiceRequest) => (sr.meta?.tag ?? []).map((t) => `${t.system}|${t.code}`);
    const ours = 'http://osteowatch.org/fhir/CodeSystem/surveillance-tag|revoked-as-resolved';

    // Resolved, then due again: the same order, revoked (tagged as ours) and then a draft again, untagged.
    const ref = await tasks.publish(screening('ow-0003'), '2026-04-01', 'reason');
    const { read } = await orderOf(ref);
    expect((await read()).status).toBe('draft');
    await tasks.complete(screening('ow-0003'), 'Resolved in surveillance run r1');
    expect(await read()).toMatchObject({ status: 'revoked' });
    expect(tagged(await read())).toContain(ours);
    expect(await tasks.publish(screening('ow-0003'), '2026-04-03', 'reason')).toBe(ref);
    const { task: reopened } = await orderOf(ref);
    expect(reopened.status).toBe('ready');
    expect((await read()).status).toBe('draft');
    expect(tagged(await read())).not.toContain(ours);

    // A clinician revokes the draft themselves while the Task is open; resolved and due again, the Task reopens
    // and their revocation stands.
    const ref2 = await tasks.publish(screening('ow-0004'), '2026-04-01', 'reason');
    const order2 = await orderOf(ref2);
    await fetch(`${server.fhirUrl}/ServiceRequest/${(await order2.read()).id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ ...(await order2.read()), status: 'revoked' }),
    });
    await tasks.complete(screening('ow-0004'), 'Resolved in surveillance run r1');
    expect(tagged(await order2.read())).not.toContain(ours);
    await tasks.publish(screening('ow-0004'), '2026-04-03', 'reason');
    expect((await orderOf(ref2)).task.status).toBe('ready');
    expect((await order2.read()).status).toBe('revoked');

    // A Task a clinician completed: its order, revoked when the reason went, is not offered again beside it.
    const ref3 = await tasks.publish(screening('ow-0005'), '2026-04-01', 'reason');
    const order3 = await orderOf(ref3);
    await fetch(`${server.fhirUrl}/${ref3}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ ...order3.task, status: 'completed' }),
    });
    await tasks.complete(screening('ow-0005'), 'Resolved in surveillance run r1');
    expect((await order3.read()).status).toBe('revoked');
    await tasks.publish(screening('ow-0005'), '2026-04-03', 'reason');
    expect((await orderOf(ref3)).task.status).toBe('completed');
    expect((await order3.read()).status).toBe('revoked');

    // One order per patient throughout.
    const orders = (await (await fetch(`${server.fhirUrl}/ServiceRequest?_count=100`)).json()) as Bundle;
    for (const p of ['ow-0003', 'ow-0004', 'ow-0005'])
      expect(
        orders.entry?.filter((e) => (e.resource as ServiceRequest).subject?.reference === `Patient/${p}`),
      ).toHaveLength(1);
  }, 60_000);
});
