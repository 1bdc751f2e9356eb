/**
 * The two ways of reading the cohort agree: over one demo FHIR server, a crawl (FHIR search) and a bulk run
 * (Bulk Data export with a Backend Services token) give the same decisions and the same worklist. And an
 * export that cannot be had is reported on the run (failed, with the reason), after its retries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('an export that cannot be had fails the run, with the reason, after its retries', async () => {
    const { run: failed } = await run('bulk', 'no-such-group');
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/cohort could not be read/);
    expect(failed.finishedAt).not.toBeNull();
  }, 300_000);
});
