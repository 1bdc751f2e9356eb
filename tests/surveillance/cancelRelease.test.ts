/**
 * A run that ends without succeeding (cancelled by an operator, or failed) releases what it holds: its Bulk Data
 * export job is deleted on the FHIR server (which limits the jobs a client keeps: cancelled runs' jobs left behind
 * refused every later export) and its staged records are dropped; a run cancelled while its export is being read
 * stops reading it. Bulk mode over HTTP against the demo server, PGlite and PostgreSQL.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
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

  const start = async (maxJobs?: number, size = 60) => {
    const demo = await bulkDemoServer(cohort(size), { maxJobs });
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
    // 300 patients: an export staged in several inserts (about half a megabyte each).
    const { s, db } = await start(undefined, 300);
    const stage = s.store.stageChunks.bind(s.store);
    let calls = 0;
    let cancelAt = 1;
    let runId = '';
    s.store.stageChunks = async (id, chunks) => {
      if (++calls === cancelAt) await s.cancel(runId, 'test');
      return stage(id, chunks);
    };
    runId = await s.startRun('api', '2026-06-30');
    expect((await finished(s, runId)).status).toBe('failed');
    // The load ends after the cancel (its next check), then releases: wait for it.
    const until = Date.now() + 30_000;
    while ((await stagedRows(db, runId)) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await stagedRows(db, runId)).toBe(0);
    expect((await s.run(runId))?.error).toBe('cancelled by test');
    // It stopped: at most the insert already in flight beside the first (two at once), where a whole load of the
    // same export (the next run, not cancelled) makes several more.
    const cancelled = calls;
    expect(cancelled).toBeLessThanOrEqual(2);
    calls = 0;
    cancelAt = 0;
    const full = await s.startRun('api', '2026-06-30');
    expect((await finished(s, full)).status).toBe('succeeded');
    expect(calls).toBeGreaterThan(cancelled + 2);
  }, 120_000);

  it("only an instance of the run's settings deletes its export job; another drops the staging and sends nothing", async () => {
    // The run's "FHIR server" for its export job: a listener that records what is sent to it.
    const seen: string[] = [];
    const jobServer = createServer((req: IncomingMessage, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.statusCode = 202;
      res.end();
    });
    await new Promise<void>((r) => jobServer.listen(0, '127.0.0.1', r));
    const jobUrl = `http://127.0.0.1:${(jobServer.address() as AddressInfo).port}/$export-status/`;
    try {
      const demo = await bulkDemoServer(cohort(5));
      server = demo.server;
      db = await engine.open();
      const owner = surveillanceFor(server, db, { mode: 'bulk' }, { ...demo.surveillance, ...WALL_CLOCK });
      // Another instance on the same store, its settings changed since (crawl mode).
      const other = surveillanceFor(server, db, { mode: 'crawl' }, WALL_CLOCK);
      const loadingRun = async (day: string) => {
        const { runId } = await owner.runner.create({ trigger: 'api', asOf: day });
        await owner.store.update(runId, { status: 'loading', exportStatusUrl: `${jobUrl}${runId}` });
        await owner.store.stageChunks(runId, [{ batchNo: 0, lines: 'p1\t\t{}' }]);
        expect(await stagedRows(db!, runId)).toBe(1);
        return runId;
      };
      const first = await loadingRun('2026-06-29');
      expect(await other.cancel(first, 'test')).toBe(true);
      expect(await stagedRows(db, first)).toBe(0);
      expect(seen).toEqual([]);
      const second = await loadingRun('2026-06-30');
      expect(await owner.cancel(second, 'test')).toBe(true);
      expect(await stagedRows(db, second)).toBe(0);
      expect(seen.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([`DELETE /$export-status/${second}`]);
    } finally {
      jobServer.close();
    }
  }, 120_000);
});
