/**
 * What the Task server does to a run. Unreachable (down, or the demo's own HTTP server closing during a
 * shutdown): the batch's attempt fails, to be retried with backoff. Refusing (401, 403), or still unreachable on
 * the last attempt: the worklist entries are stored all the same, each with why its Task was not written, the
 * patients are not errors, and the run counts and lists the Tasks not written. A run cancelled while a batch
 * writes its Tasks writes no more of them and stores nothing of the batch. A resolved entry whose Task could not
 * be completed is carried to the next run, which tries again.
 */
import type { ImagingStudy, Task } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRow } from '../../src/surveillance/runStore.ts';
import type { Surveillance } from '../../src/surveillance/service.ts';
import { FORBIDDEN, fhirStub } from '../helpers/fhirStub.ts';
import type { RunningServer } from '../helpers/server.ts';
import { AS_OF, cohort, demoServer, type EngineStore, engines, surveillanceFor } from './harness.ts';

describe('Task server unreachable or refusing', () => {
  let server: RunningServer;
  const dbs: EngineStore[] = [];
  const stops: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    server = await demoServer(cohort(12));
  }, 60_000);
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    for (const db of dbs) await db.dispose();
    await server?.close();
  });

  /** A run from start to end, each step taken here (no queue worker: the steps' order is the test's). */
  async function runThrough(s: Surveillance): Promise<RunRow> {
    const { runId } = await s.runner.create({ trigger: 'api', asOf: AS_OF });
    for (const b of await s.runner.load(runId)) await s.runner.batch(runId, b, { lastAttempt: false });
    expect(await s.runner.finishIfDone(runId)).toBe(true);
    return (await s.run(runId))!;
  }

  async function surveillance(taskFhirUrl: string): Promise<Surveillance> {
    const db = await engines()[0]!.open();
    dbs.push(db);
    const s = surveillanceFor(server, db, { taskFhirUrl, workers: 0 }, { work: false });
    await s.start();
    stops.push(() => s.stop());
    return s;
  }

  it('unreachable: the attempt fails (nothing stored) until the last one, which stores the entries without Tasks', async () => {
    // Port 9 (discard): nothing listens, every connection is refused.
    const s = await surveillance('http://127.0.0.1:9/fhir');
    const { runId } = await s.runner.create({ trigger: 'api', asOf: AS_OF });
    const [batchNo] = await s.runner.load(runId);
    const batch = (await s.store.batch(runId, batchNo!))!;
    await expect(s.runner.batch(runId, batchNo!, { lastAttempt: false })).rejects.toThrow(
      /Task server could not be reached/,
    );
    expect((await s.store.evaluated(runId, batch.patientIds)).size).toBe(0);
    expect((await s.store.batch(runId, batchNo!))?.done).toBe(false);

    await s.runner.batch(runId, batchNo!, { lastAttempt: true });
    expect((await s.store.batch(runId, batchNo!))?.done).toBe(true);
    expect((await s.store.evaluated(runId, batch.patientIds)).size).toBe(batch.patientIds.length);
    expect(await s.store.erredPatients(runId)).toEqual(new Set());
    const entries = await s.store.worklistOf(runId, batch.patientIds);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.taskRef === null && /Task server could not be reached/.test(e.taskError!))).toBe(
      true,
    );
    const errors = await s.store.errorsOf(runId);
    expect(errors).toHaveLength(entries.length);
    expect(errors.every((e) => /^Task not written \(.+\): the Task server could not be reached/.test(e.message))).toBe(
      true,
    );
  }, 120_000);

  it('refusing (403): the run succeeds with every due patient on the worklist, its Tasks counted as not written', async () => {
    const stub = await fhirStub(async () => ({ status: 403, body: FORBIDDEN }));
    stops.push(stub.close);
    const s = await surveillance(stub.url);
    const run = await runThrough(s);
    const runId = run.runId;
    expect(run.status).toBe('succeeded');

    // The same run against a Task server that takes every Task: the worklist a refusal must not shrink.
    const ok = await surveillance(server.fhirUrl);
    const okRun = await runThrough(ok);
    const expected = (await ok.store.worklist({ runId: okRun.runId, limit: 1000 })).items;
    const got = (await s.store.worklist({ runId, limit: 1000 })).items;
    expect(expected.length).toBeGreaterThan(0);
    expect(got.map((e) => `${e.patientId} ${e.rule} ${e.dueDate}`)).toEqual(
      expected.map((e) => `${e.patientId} ${e.rule} ${e.dueDate}`),
    );
    expect(got.every((e) => e.taskRef === null)).toBe(true);
    expect(
      got.every(
        (e) =>
          e.taskError === 'the Task server answered 403 to POST ServiceRequest: scope system/Task.c not granted' ||
          e.taskError === 'the Task server answered 403 to POST Task: scope system/Task.c not granted',
      ),
    ).toBe(true);
    expect(run.counts.errors).toBe(0);
    expect(run.counts.inCohort).toBe(okRun.counts.inCohort);
    expect(run.counts.tasks).toBe(0);
    expect(run.counts.taskErrors).toBe(got.length);
    expect(run.errors.length).toBe(Math.min(50, got.length));
    // A refusal of who we are is not retried, and not repeated: the first Task of each batch is sent (a
    // ServiceRequest first where an order is suggested), the batch's others carry the same reason unsent.
    const batches = (await s.store.pendingBatches(runId)).length + (run.batches ?? 0);
    expect(stub.requests.length).toBeGreaterThan(0);
    expect(stub.requests.length).toBeLessThanOrEqual(batches);
    expect(stub.requests.every((r) => r.startsWith('POST /fhir/'))).toBe(true);
  }, 180_000);

  it('a run cancelled while its batch writes Tasks writes no more of them and keeps nothing of the batch', async () => {
    let s: Surveillance | undefined;
    let runId = '';
    const written: string[] = [];
    // The demo server behind a relay that cancels the run at the first Task write it carries.
    const relay = await fhirStub(async (method, url) => {
      if (method !== 'GET') {
        written.push(`${method} ${url}`);
        if (written.length === 1) await s!.cancel(runId, 'test');
      }
      return { status: 403, body: FORBIDDEN };
    });
    stops.push(relay.close);
    s = await surveillance(relay.url);
    ({ runId } = await s.runner.create({ trigger: 'api', asOf: AS_OF }));
    const batches = await s.runner.load(runId);
    expect(batches.length).toBeGreaterThan(0);
    for (const b of batches) await s.runner.batch(runId, b, { lastAttempt: true });
    expect(written).toHaveLength(1);
    const run = (await s.run(runId))!;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/cancelled by test/);
    expect(run.done).toBe(0);
    expect(await s.store.worklistOf(runId)).toEqual([]);
  }, 120_000);

  it('a resolved entry whose Task the server would not complete says so, and the run counts it', async () => {
    const db = await engines()[0]!.open();
    dbs.push(db);
    const first = surveillanceFor(server, db, { taskFhirUrl: server.fhirUrl, workers: 0 }, { work: false });
    await first.start();
    stops.push(() => first.stop());
    const before = await runThrough(first);
    const due = (await first.store.worklist({ runId: before.runId, limit: 1000, rules: ['screening-due'] })).items[0]!;
    expect(due.taskRef).toMatch(/^Task\//);
    await server.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy',
      status: 'available',
      subject: { reference: `Patient/${due.patientId}` },
      started: `${AS_OF}T09:00:00Z`,
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MR' }],
      procedureCode: [{ coding: [{ system: 'http://loinc.org', code: '46358-8' }], text: 'MR Whole body' }],
    });
    // The next run's Task server refuses everything, the completion of the resolved entry's Task too.
    const stub = await fhirStub(async () => ({ status: 403, body: FORBIDDEN }));
    stops.push(stub.close);
    const second = surveillanceFor(server, db, { taskFhirUrl: stub.url, workers: 0 }, { work: false });
    await second.start();
    stops.push(() => second.stop());
    const run = await runThrough(second);
    expect(run.status).toBe('succeeded');
    const resolved = (await second.store.worklist({ runId: run.runId, limit: 1000, changes: ['resolved'] })).items;
    expect(resolved).toEqual([
      expect.objectContaining({
        patientId: due.patientId,
        rule: 'screening-due',
        taskRef: due.taskRef,
        taskError:
          'the Task could not be completed: the Task server answered 403 to GET Task: scope system/Task.c not granted',
      }),
    ]);
    const open = (await second.store.worklist({ runId: run.runId, limit: 1000, changes: ['new', 'still-due'] })).items;
    expect(run.counts.taskErrors).toBe(open.length + 1);
    expect((await second.store.errorsOf(run.runId, 1000)).map((e) => e.message)).toContain(
      `Task not completed (screening-due, due ${due.dueDate}): the Task could not be completed: the Task server answered 403 to GET Task: scope system/Task.c not granted`,
    );

    // The next run, the server still refusing: the entry is carried, resolved, still saying why its Task is open.
    const third = await runThrough(second);
    const carried = (await second.store.worklist({ runId: third.runId, limit: 1000, changes: ['resolved'] })).items;
    expect(carried).toEqual([
      expect.objectContaining({
        patientId: due.patientId,
        rule: 'screening-due',
        summary: resolved[0]!.summary,
        taskError: resolved[0]!.taskError,
      }),
    ]);
    // Resolved once, by the run that resolved it; its Task still open is this run's error too.
    expect(third.counts.resolved).toBe(0);
    expect(third.counts.taskErrors).toBeGreaterThanOrEqual(1);

    // The server answering again: the Task is completed in the EHR, and the entry is carried no more.
    const fourth = surveillanceFor(server, db, { taskFhirUrl: server.fhirUrl, workers: 0 }, { work: false });
    await fourth.start();
    stops.push(() => fourth.stop());
    const last = await runThrough(fourth);
    const [, taskId] = due.taskRef!.split('/');
    expect((await server.repo.readResource<Task>('Task', taskId!)).status).toBe('completed');
    expect((await fourth.store.worklist({ runId: last.runId, limit: 1000, changes: ['resolved'] })).items).toEqual([]);
    expect((await fourth.store.errorsOf(last.runId, 1000)).map((e) => e.message)).not.toContainEqual(
      expect.stringMatching(/^Task not completed/),
    );
  }, 240_000);
});
