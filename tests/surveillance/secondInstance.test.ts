/**
 * A second instance started during a run does not double it. On PostgreSQL, instance A (its own store pool and
 * its own pg-boss) starts a run over the demo cohort in small batches; once the run is evaluating with some
 * batches done and others not, instance B starts with the same configuration on the same schema and job queue
 * schema, and works the queue too. The run then succeeds once: each patient evaluated once (B taking some of
 * the batches), one Task per worklist entry on the Task server, one audit record, one run in the history; and
 * B's catch-up at start neither puts the run back on the queue nor reads (or stages) the cohort again. In bulk
 * mode (Bulk Data export, staged) and in crawl mode (FHIR search), against the demo FHIR server over HTTP.
 *
 * A is held (its next batch waits) once it has evaluated a few batches, until B has evaluated one: then the run
 * is in the middle of evaluating when B starts, however fast this machine is, and B gets work whatever its
 * start-up time; after that both instances work the remaining batches side by side.
 *
 * And the end of a run, when the last two batches end at once in two instances: each instance's worker then
 * asks to finish the run (jobs.ts); it is finished once. Both are let into the finishing step together, so that
 * what happens now and then at the end of the scenario above happens every time.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import type { SurveillanceMetrics } from '../../src/metrics/metrics.ts';
import type { RunRow } from '../../src/surveillance/runStore.ts';
import type { Surveillance, SurveillanceOptions } from '../../src/surveillance/service.ts';
import { WORKLIST_ENTRY_IDENTIFIER } from '../../src/terminology/systems.ts';
import type { RunningServer } from '../helpers/server.ts';
import {
  AS_OF,
  bulkDemoServer,
  cohort,
  demoServer,
  type EngineStore,
  engines,
  finished,
  serveSurveillance,
  surveillanceFor,
} from './harness.ts';

// PostgreSQL as the other surveillance tests choose it (harness engines(): there when DATABASE_URL is set).
const postgres = engines().find((e) => e.name === 'PostgreSQL');

/** Instance B's own store (its own pool and audit log, as a second process would have) on A's schema. */
async function secondStore(db: EngineStore): Promise<AuditStore> {
  const [{ schema }] = (await db.store.db.query<{ schema: string }>('select current_schema() as schema')) as [
    { schema: string },
  ];
  return openAuditStore({ databaseUrl: db.databaseUrl!, schema });
}

/** The demo cohort's generator (seed 42), smaller: crawl reads each patient by FHIR search, a second or so a batch. */
const COHORT_SIZE = { bulk: 60, crawl: 30 } as const;
/** Small batches: many of them, so that the run is well under way, not over, when B comes. */
const BATCH_SIZE = 2;
/** Batches A evaluates before it is held until B has evaluated one. */
const A_FIRST = 2;
/** How long A is held at most: if B never works the queue, the run still ends and the test says why. */
const HOLD_MS = 60_000;
const TOKEN = 'second-instance-token';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one instance did, counted where the runner and its source are called (as bench/surveillance.ts does). */
interface Probe {
  /** runner.load calls: the run job handled (by this instance). */
  runLoads: number;
  /** source.load calls: the cohort read (crawl) or exported and staged (bulk). */
  cohortLoads: number;
  /** jobs.sendRun calls: the run put on the queue (by startRun or by the catch-up at start). */
  runSends: number;
  /** The patients of each batch this instance evaluated (source.records calls). */
  batches: string[][];
  /** Patients evaluated, and runs ended, as the instance reports them to /metrics. */
  evaluated: number;
  ended: string[];
}

function probe(): { probe: Probe; metrics: SurveillanceMetrics } {
  const p: Probe = { runLoads: 0, cohortLoads: 0, runSends: 0, batches: [], evaluated: 0, ended: [] };
  return {
    probe: p,
    metrics: {
      patientsEvaluated: (n) => {
        p.evaluated += n;
      },
      runEnded: (status) => {
        p.ended.push(status);
      },
    },
  };
}

/**
 * Counts what the instance does (before it starts); `beforeBatch` is awaited before each batch's records are
 * read, `afterBatch` called once they are.
 */
function instrument(
  s: Surveillance,
  p: Probe,
  hooks: { beforeBatch?: (n: number) => Promise<void>; afterBatch?: () => void } = {},
): void {
  const runner = s.runner;
  const load = runner.load.bind(runner);
  runner.load = (runId, o) => {
    p.runLoads++;
    return load(runId, o);
  };
  const source = runner.d.source;
  const cohortLoad = source.load.bind(source);
  source.load = (run, o) => {
    p.cohortLoads++;
    return cohortLoad(run, o);
  };
  const records = source.records.bind(source);
  source.records = async (ids, run, batchNo) => {
    p.batches.push([...ids]);
    await hooks.beforeBatch?.(p.batches.length);
    const out = await records(ids, run, batchNo);
    hooks.afterBatch?.();
    return out;
  };
  const jobs = s.jobs;
  const sendRun = jobs.sendRun.bind(jobs);
  jobs.sendRun = (runId) => {
    p.runSends++;
    return sendRun(runId);
  };
}

/** Polls the run store until the run is evaluating with at least one batch done and at least one not. */
async function midEvaluation(s: Surveillance, runId: string, timeoutMs = 180_000): Promise<RunRow> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await s.run(runId);
    if (run?.status === 'succeeded' || run?.status === 'failed')
      throw new Error(`run ${runId} ${run.status} before the second instance started: ${run.error ?? ''}`);
    if (run?.status === 'evaluating' && run.done > 0 && run.total !== null && run.done < run.total) return run;
    if (Date.now() > until)
      throw new Error(`run ${runId} still ${run?.status} (${run?.done} done) after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Waits until no job of the run is waiting or in flight in the queue (a job sent late would be handled by now). */
async function queueSettled(s: Surveillance, runId: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const jobs = [
      ...(await s.jobs.boss.findJobs(s.jobs.runQueue, { key: runId })),
      ...(await s.jobs.boss.findJobs(s.jobs.batchQueue, { data: { runId } })),
    ];
    const open = jobs.filter((j) => j.state === 'created' || j.state === 'retry' || j.state === 'active');
    if (!open.length) return;
    if (Date.now() > until) throw new Error(`jobs of run ${runId} still open after ${timeoutMs} ms: ${open.length}`);
    await sleep(250);
  }
}

async function search(server: RunningServer, type: string): Promise<Resource[]> {
  const b = (await (await fetch(`${server.fhirUrl}/${type}?_count=1000`)).json()) as Bundle;
  return (b.entry ?? []).map((e) => e.resource!);
}
const worklistKeyOf = (r: Resource) =>
  (r as { identifier?: Array<{ system?: string; value?: string }> }).identifier?.find(
    (i) => i.system === WORKLIST_ENTRY_IDENTIFIER,
  )?.value;

describe.skipIf(!postgres)(
  'a second surveillance instance started during a run does not double it [needs DATABASE_URL: PostgreSQL]',
  () => {
    for (const mode of ['bulk', 'crawl'] as const) {
      describe(`${mode} mode`, () => {
        let server: RunningServer;
        let options: Partial<SurveillanceOptions> = {};
        let db: EngineStore;
        /** B's own store: the same schema through its own pool, as a second process would open it. */
        let storeB: AuditStore;
        const started: Surveillance[] = [];
        const closing: Array<() => Promise<void>> = [];

        beforeAll(async () => {
          const resources = cohort(COHORT_SIZE[mode]);
          if (mode === 'bulk') {
            const demo = await bulkDemoServer(resources);
            server = demo.server;
            options = demo.surveillance;
          } else server = await demoServer(resources);
          db = await postgres!.open();
          storeB = await secondStore(db);
        }, 120_000);

        afterAll(async () => {
          for (const c of closing.reverse()) await c().catch(() => undefined);
          for (const s of started.reverse()) await s.stop().catch(() => undefined);
          await storeB?.close();
          await db?.dispose();
          await server?.close();
        }, 60_000);

        it('evaluates each patient once, B taking some batches; one run, one audit record, no duplicate Task', async () => {
          const config = { mode, batchSize: BATCH_SIZE };
          const a = probe();
          const b = probe();
          const A = surveillanceFor(server, db, config, { ...options, metrics: a.metrics });
          const B = surveillanceFor(
            server,
            { store: storeB, databaseUrl: db.databaseUrl, jobSchema: db.jobSchema },
            config,
            { ...options, metrics: b.metrics },
          );

          // A is held before its batch A_FIRST + 1 until B has evaluated a batch (or HOLD_MS have passed).
          let release!: () => void;
          const released = new Promise<void>((r) => {
            release = r;
          });
          const timer = setTimeout(release, HOLD_MS);
          closing.push(async () => clearTimeout(timer));
          instrument(A, a.probe, { beforeBatch: (n) => (n > A_FIRST ? released : Promise.resolve()) });
          instrument(B, b.probe, { afterBatch: release });

          started.push(A);
          await A.start();
          const runId = await A.startRun('api');
          const before = await midEvaluation(A, runId);
          expect(before.batches).toBeGreaterThan(A_FIRST + 2);
          const pendingBefore = await A.store.pendingBatches(runId);
          expect(pendingBefore.length).toBeGreaterThan(0);
          expect(a.probe.cohortLoads).toBe(1);

          // B: the same configuration, the same schema and job queue schema; it works the queue too.
          started.push(B);
          await B.start();
          const run = await finished(A, runId, 240_000);
          clearTimeout(timer);
          await queueSettled(A, runId);

          // The run: succeeded, once.
          expect(run.status, run.error ?? '').toBe('succeeded');
          expect(run.total).toBeGreaterThan(A_FIRST * BATCH_SIZE + BATCH_SIZE);
          expect(run.done).toBe(run.total);
          expect.soft(run.counts.errors).toBe(0);
          // (That it is finished by one instance only, as /metrics counts runs ended, is the next test's: here
          // it depends on the last two batches ending at the same moment in both instances.)

          // Every patient of the cohort: one result row; read and evaluated once, by one instance or the other.
          const [rows] = await db.store.db.query<{ n: string; distinct: string }>(
            `select count(*) as n, count(distinct patient_id) as distinct from surveillance_results where run_id = $1`,
            [runId],
          );
          expect.soft(Number(rows!.n)).toBe(run.total);
          expect.soft(Number(rows!.distinct)).toBe(run.total);
          const read = [...a.probe.batches, ...b.probe.batches].flat();
          expect.soft(read.length, 'patients read (source.records), both instances').toBe(run.total);
          expect.soft(new Set(read).size).toBe(run.total);
          expect.soft(a.probe.batches.length + b.probe.batches.length, 'batches evaluated').toBe(run.batches);
          expect.soft(a.probe.evaluated + b.probe.evaluated, 'patients evaluated (metrics)').toBe(run.total);
          // B took part: at least one batch, whose results are stored.
          expect.soft(b.probe.batches.length, 'batches evaluated by B').toBeGreaterThan(0);
          const byB = b.probe.batches.flat();
          const stored = await db.store.db.query<{ patient_id: string }>(
            'select patient_id from surveillance_results where run_id = $1 and patient_id = any($2::text[])',
            [runId, byB],
          );
          expect.soft(stored.length).toBe(byB.length);

          // The Task server: one Task per worklist entry, none twice (nor a draft WB-MRI order twice).
          const entries = (await A.store.worklist({ runId, limit: 10_000 })).items;
          expect(entries.length).toBeGreaterThan(0);
          const tasks = await search(server, 'Task');
          const taskKeys = tasks.map(worklistKeyOf);
          expect.soft(new Set(taskKeys).size, 'Tasks by identifier').toBe(taskKeys.length);
          expect.soft(tasks.length).toBe(entries.length);
          const taskRefs = new Set(tasks.map((t) => `Task/${t.id}`));
          expect.soft(entries.filter((e) => !e.taskRef || !taskRefs.has(e.taskRef))).toEqual([]);
          const orderKeys = (await search(server, 'ServiceRequest')).map(worklistKeyOf).filter((k) => k);
          expect.soft(new Set(orderKeys).size, 'draft orders by identifier').toBe(orderKeys.length);

          // One audit record of the run (and no other).
          const audit = await db.store.db.query<{ run_id: string }>('select run_id from surveillance_run');
          expect.soft(audit.map((r) => r.run_id)).toEqual([runId]);

          // One run in the history: in the store, and as B's API lists it.
          expect.soft((await A.store.listRuns(10)).map((r) => r.runId)).toEqual([runId]);
          const api = await serveSurveillance(B, { token: TOKEN });
          closing.push(api.close);
          const listed = (await (
            await fetch(`${api.url}/surveillance/runs`, { headers: { authorization: `Bearer ${TOKEN}` } })
          ).json()) as { runs: Array<{ runId: string; status: string }> };
          expect.soft(listed.runs.map((r) => [r.runId, r.status])).toEqual([[runId, 'succeeded']]);

          // B's catch-up at start: the run not put on the queue again, its loading not restarted (by either).
          expect.soft(b.probe.runSends, 'run jobs sent by B').toBe(0);
          expect
            .soft((await A.jobs.boss.findJobs(A.jobs.runQueue, { key: runId })).length, 'run jobs in the queue')
            .toBe(1);
          expect.soft(a.probe.runLoads + b.probe.runLoads, 'run job handled (runner.load)').toBe(1);
          expect.soft(a.probe.cohortLoads + b.probe.cohortLoads, 'cohort read or staged (source.load)').toBe(1);
          expect.soft(b.probe.cohortLoads).toBe(0);
        }, 300_000);
      });
    }

    describe('the last batches ending at once in both instances', () => {
      let server: RunningServer;
      let db: EngineStore;
      let storeB: AuditStore;
      const started: Surveillance[] = [];
      const timers: NodeJS.Timeout[] = [];
      beforeAll(async () => {
        server = await demoServer(cohort(12));
        db = await postgres!.open();
        storeB = await secondStore(db);
      }, 120_000);
      afterAll(async () => {
        for (const t of timers) clearTimeout(t);
        for (const s of started.reverse()) await s.stop().catch(() => undefined);
        await storeB?.close();
        await db?.dispose();
        await server?.close();
      }, 60_000);

      it('finish the run once: ended once, one audit record, neither worker failing', async () => {
        const config = { batchSize: 4, taskFhirUrl: 'none' as const };
        const a = probe();
        const b = probe();
        // No queue workers: the test drives the state machine as the batch workers would (jobs.ts).
        const A = surveillanceFor(server, db, config, { metrics: a.metrics, work: false });
        const B = surveillanceFor(
          server,
          { store: storeB, databaseUrl: db.databaseUrl, jobSchema: db.jobSchema },
          config,
          { metrics: b.metrics, work: false },
        );
        started.push(A, B);
        await A.start();
        await B.start();
        // The run's batches all done (by A).
        const { runId } = await A.runner.create({ trigger: 'api', asOf: AS_OF });
        for (const n of await A.runner.load(runId)) await A.runner.batch(runId, n);
        expect(await A.store.pendingBatches(runId)).toEqual([]);

        // Each instance that gets as far as counting the run waits there (a few seconds at most) for the other.
        let arrived = 0;
        let together!: () => void;
        const bothThere = new Promise<void>((r) => {
          together = r;
        });
        for (const s of [A, B]) {
          const store = s.runner.d.store;
          const countsOf = store.countsOf.bind(store);
          store.countsOf = async (id) => {
            if (++arrived === 2) together();
            await Promise.race([bothThere, new Promise((r) => timers.push(setTimeout(r, 3000)))]);
            return countsOf(id);
          };
        }
        // What each instance's batch worker does after its batch (jobs.ts), at the same moment.
        const settled = await Promise.allSettled([A.runner.finishIfDone(runId), B.runner.finishIfDone(runId)]);

        const run = (await A.run(runId))!;
        expect(run.status).toBe('succeeded');
        expect(run.done).toBe(run.total);
        const audit = await db.store.db.query<{ run_id: string }>('select run_id from surveillance_run');
        expect.soft(audit.map((r) => r.run_id)).toEqual([runId]);
        // A worker whose finishing throws fails its batch job, to be retried.
        const errors = settled.flatMap((x) => (x.status === 'rejected' ? [String((x.reason as Error).message)] : []));
        expect.soft(errors.join('; '), 'finishIfDone errors').toBe('');
        expect.soft([...a.probe.ended, ...b.probe.ended], 'runs ended, as /metrics counts them').toEqual(['succeeded']);
      }, 120_000);
    });
  },
);
