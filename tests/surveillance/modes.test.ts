/**
 * The two ways of reading the cohort agree: over one demo FHIR server, a crawl (FHIR search) and a bulk run
 * (Bulk Data export with a Backend Services token) give the same decisions and the same worklist. And an
 * export that cannot be had is reported on the run (failed, with the reason), after its retries.
 */

import type { Group } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSummary } from '../../src/cli/surveil.ts';
import { COHORT_GROUP_ID } from '../../src/demo/cohortGroup.ts';
import { runView } from '../../src/server/surveillanceRoutes.ts';
import type { Surveillance } from '../../src/surveillance/service.ts';
import type { RunningServer } from '../helpers/server.ts';
import { bulkDemoServer, cohort, engines, finished, surveillanceFor } from './harness.ts';

describe('crawl and bulk', () => {
  let server: RunningServer;
  let bulkOptions: Awaited<ReturnType<typeof bulkDemoServer>>['surveillance'];
  const stores: Array<Awaited<ReturnType<ReturnType<typeof engines>[0]['open']>>> = [];
  const instances: Surveillance[] = [];
  beforeAll(async () => {
    const demo = await bulkDemoServer(cohort(40));
    server = demo.server;
    bulkOptions = demo.surveillance;
  }, 120_000);
  afterAll(async () => {
    for (const s of instances) await s.stop();
    for (const d of stores) await d.dispose();
    await server?.close();
  }, 60_000);

  async function run(mode: 'crawl' | 'bulk', groupId?: string) {
    const db = await engines()[0]!.open();
    stores.push(db);
    const s = surveillanceFor(
      server,
      db,
      { mode, taskFhirUrl: 'none', ...(groupId ? { groupId } : {}) },
      mode === 'bulk' ? bulkOptions : {},
    );
    instances.push(s);
    await s.start();
    const runId = await s.startRun('api');
    return { s, db, run: await finished(s, runId, 240_000) };
  }

  it('give the same decisions and the same worklist', async () => {
    const crawl = await run('crawl');
    const bulk = await run('bulk');
    expect(crawl.run.status).toBe('succeeded');
    expect(bulk.run.status).toBe('succeeded');
    expect(bulk.run.mode).toBe('bulk');
    const decisions = async (x: typeof crawl) =>
      (
        await x.db.store.db.query<{ patient_id: string; decision: string; cumulative_mg: number | null }>(
          `select patient_id, decision, cumulative_mg from surveillance_results
           where run_id = $1 and decision <> 'not-in-cohort' order by patient_id`,
          [x.run.runId],
        )
      ).map((r) => `${r.patient_id} ${r.decision} ${r.cumulative_mg}`);
    const crawled = await decisions(crawl);
    expect(crawled.length).toBeGreaterThan(10);
    expect(await decisions(bulk)).toEqual(crawled);
    const worklist = async (x: typeof crawl) =>
      (await x.s.store.worklist({ runId: x.run.runId, limit: 1000 })).items.map(
        (e) => `${e.patientId} ${e.rule} ${e.dueDate} ${e.overdueFrom} ${e.cumulativeMg} ${e.summary}`,
      );
    expect(await worklist(bulk)).toEqual(await worklist(crawl));
    expect(bulk.run.counts).toEqual(crawl.run.counts);
  }, 600_000);

  it('a Group member the server could not export is reported on the run, and the rest of the cohort evaluated', async () => {
    const group = await server.repo.readResource<Group>('Group', COHORT_GROUP_ID);
    await server.repo.updateResource<Group>({
      ...group,
      id: 'with-a-ghost',
      member: [...(group.member ?? []), { entity: { reference: 'Patient/ghost-1' } }],
    });
    const { run: r } = await run('bulk', 'with-a-ghost');
    expect(r.status).toBe('succeeded');
    expect(r.total).toBe(group.member!.length);
    expect(r.loadIssues).toEqual({
      total: 1,
      items: [{ severity: 'error', file: 'error', message: 'Group member Patient/ghost-1 was not found' }],
    });
    // The run shows it wherever it is shown: the API's view, the CLI's summary, the audit record.
    expect(runView(r, new Date()).loadIssues).toEqual(r.loadIssues);
    expect(runSummary(runView(r, new Date()))).toContain(
      'Export issues (1):\n  error error: Group member Patient/ghost-1 was not found',
    );
  }, 300_000);

  it('an export refused (no such Group: 404) fails the run at once, with the reason: a retry would get the same', async () => {
    const started = Date.now();
    const { run: failed } = await run('bulk', 'no-such-group');
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(
      /^the cohort could not be read: Bulk Data kick-off for Group\/no-such-group refused: HTTP 404/,
    );
    expect(failed.finishedAt).not.toBeNull();
    // Not after the queue's three attempts with backoff (about 24 s): on the first.
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 300_000);

  it('a staged export that is gone (PostgreSQL emptied its unlogged tables) fails the run, never evaluates patients as if without records', async () => {
    const db = await engines()[0]!.open();
    stores.push(db);
    // No workers: this test drives the state machine itself, step by step.
    const s = surveillanceFor(server, db, { mode: 'bulk', taskFhirUrl: 'none' }, { ...bulkOptions, work: false });
    instances.push(s);
    await s.start();
    const { runId } = await s.runner.create({ trigger: 'api', asOf: '2026-06-30' });
    const pending = await s.runner.load(runId);
    expect(pending.length).toBeGreaterThan(1);
    // Staged as the NDJSON lines received, each prefixed with its patient, in its batch's rows; with the marker.
    const staged = await db.store.db.query<{ batch_no: number; lines: string }>(
      'select batch_no, lines from surveillance_staged where run_id = $1',
      [runId],
    );
    expect(staged.filter((r) => r.batch_no === -1)).toHaveLength(1);
    const chunk = staged.find((r) => r.batch_no === pending[0])!;
    const [patientId, , text] = chunk.lines.split('\n')[0]!.split('\t');
    expect(JSON.parse(text!).subject.reference).toBe(`Patient/${patientId}`);
    const batch = (
      await db.store.db.query<{ patient_ids: string[] }>(
        'select patient_ids from surveillance_batches where run_id = $1 and batch_no = $2',
        [runId, pending[0]],
      )
    )[0]!;
    expect(batch.patient_ids).toContain(patientId);
    // One batch evaluated normally, then the staging vanishes as after a database crash.
    await s.runner.batch(runId, pending[0]!);
    const before = await db.store.db.query('select 1 from surveillance_results where run_id = $1', [runId]);
    expect(before.length).toBeGreaterThan(0);
    await db.store.db.exec('truncate surveillance_staged');
    await s.runner.batch(runId, pending[1]!, { lastAttempt: false });
    const run = (await s.run(runId))!;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/staged export of run .* is gone/);
    const after = await db.store.db.query('select 1 from surveillance_results where run_id = $1', [runId]);
    expect(after.length).toBe(before.length);
  }, 300_000);
});
