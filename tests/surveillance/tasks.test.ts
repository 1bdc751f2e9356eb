/**
 * The worklist's Tasks on a real FHIR server (the demo's, over HTTP): one per patient, rule and due date
 * whatever the number of runs, a follow-up that has become overdue updates its Task instead of leaving it "due",
 * and a Task this service resolved is opened again when its reason is back (a clinician's closing is theirs).
 */
import type { Bundle, Task } from '@medplum/fhirtypes';
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
});
