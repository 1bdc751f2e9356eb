/**
 * A run that ends without succeeding (cancelled by an operator, or failed) releases what it holds: its Bulk Data
 * export job is deleted on the FHIR server (which limits the jobs a client keeps: cancelled runs' jobs left behind
 * refused every later export) and its staged records are dropped; a run cancelled while its export is being read
 * stops reading it. Bulk mode over HTTP against the demo server, PGlite and PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Surveillance } from '../../src/surveillance/service.ts';
import type { RunningServer } from '../helpers/server.ts';
import { bulkDemoServer, cohort, type EngineStore, engines, finished, surveillanceFor, WALL_CLOCK } from './harness.ts';

const stagedRows = async (db: EngineStore, runId: string) =>
  Number(
    (
      await db.store.db.query<{ n: string }>('select count(*) as n from surveillance_staged where run_id = $1', [runId])
    )[0]!.n,
  );

/** Waits until the run has kicked off its export (its status URL saved), while it is still loading. */
async function exporting(s: Surveillance, runId: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const run = await s.run(runId);
    if (run?.exportStatusUrl && run.status === 'loading') return;
    if (run && run.status !== 'queued' && run.status !== 'loading') throw new Error(`run ${runId} ${run.status}`);
    if (Date.now() > until) throw new Error(`run ${runId} did not start its export`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(engines())('an ended run releases its export ($name)', (engine) => {
  let server: RunningServer | undefined;
  let db: EngineStore | undefined;
  let s: Surveillance | undefined;
  afterEach(async () => {
    await s?.stop();
    await db?.dispose();
    await server?.close();
    s = db = server = undefined;
  }, 60_000);

  const start = async (maxJobs?: number) => {
    const demo = await bulkDemoServer(cohort(60), { maxJobs });
    server = demo.server;
    db = await engine.open();
    s = surveillanceFor(server, db, { mode: 'bulk', batchSize: 20 }, { ...demo.surveillance, ...WALL_CLOCK });
    await s.start();
    return { s, db };
  };

  it('runs cancelled while exporting delete their jobs: more of them than the server keeps, and the next run succeeds', async () => {
    const { s } = await start(2);
    for (let i = 0; i < 3; i++) {
      const runId = await s.startRun('api', '2026-06-30');
      await exporting(s, runId);
      expect(await s.cancel(runId, 'test')).toBe(true);
      expect((await finished(s, runId)).status).toBe('failed');
    }
    const runId = await s.startRun('api', '2026-06-30');
    const run = await finished(s, runId);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
  }, 120_000);

  it('a run cancelled while its export is staged stops reading it, and nothing it staged is left', async () => {
    const { s, db } = await start();
    const stage = s.store.stageChunks.bind(s.store);
    let calls = 0;
    let runId = '';
    s.store.stageChunks = async (id, chunks) => {
      if (++calls === 1) await s.cancel(runId, 'test');
      return stage(id, chunks);
    };
    runId = await s.startRun('api', '2026-06-30');
    expect((await finished(s, runId)).status).toBe('failed');
    // The load ends after the cancel (its next check), then releases: wait for it.
    const until = Date.now() + 30_000;
    while ((await stagedRows(db, runId)) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await stagedRows(db, runId)).toBe(0);
    expect(calls).toBe(1);
    expect((await s.run(runId))?.error).toBe('cancelled by test');
  }, 120_000);
});
