/**
 * The surveillance job queue: pg-boss (https://github.com/timgit/pg-boss) over the store's database — its own
 * pool on PostgreSQL, and its PGlite backend through the store's single connection when embedded. Two queues:
 * a run (load the cohort, enqueue its batches) and a batch (evaluate up to batchSize patients). Both are
 * `stately` with the run's / batch's id as singleton key, so that re-sending a job (a schedule firing in every
 * instance, a restart re-enqueuing what is unfinished) never puts the same work in flight twice, and both
 * carry a heartbeat: a job whose process was killed (kill -9) is retried by another instance (or the restarted
 * one) once its heartbeat is missed.
 */
import { PgBoss } from 'pg-boss';
import type { Logger } from '../log/logger.ts';
import type { Db } from '../store/db.ts';
import type { SurveillanceRunner } from './runner.ts';

export const RUN_QUEUE = 'osteowatch-surveillance-run';
export const BATCH_QUEUE = 'osteowatch-surveillance-batch';
/** Attempts after the first, with exponential backoff: a FHIR server briefly down does not fail the run. */
const RETRY_LIMIT = 3;

export interface JobOptions {
  db: Db;
  /** PostgreSQL connection string: pg-boss gets its own pool. Absent: the embedded store (PGlite). */
  databaseUrl?: string;
  /** Seconds without a heartbeat after which a job held by a dead process is retried (≥ 10). */
  heartbeatSeconds: number;
  /** How often the monitor looks for such jobs. */
  superviseIntervalSeconds: number;
  /** pg-boss's schema (default osteowatch_jobs); one per store that shares a database (tests). */
  schema?: string;
  logger?: Logger;
}

interface RunJob {
  runId: string;
}
interface BatchJob {
  runId: string;
  batchNo: number;
}

export class SurveillanceJobs {
  readonly boss: PgBoss;
  private readonly runner: SurveillanceRunner;
  private readonly o: JobOptions;
  constructor(runner: SurveillanceRunner, o: JobOptions) {
    this.runner = runner;
    this.o = o;
    const common = {
      schema: o.schema ?? 'osteowatch_jobs',
      superviseIntervalSeconds: o.superviseIntervalSeconds,
      monitorIntervalSeconds: o.superviseIntervalSeconds,
      schedule: false,
    };
    this.boss = o.databaseUrl
      ? new PgBoss({ connectionString: o.databaseUrl, max: 4, ...common })
      : new PgBoss({
          db: {
            executeSql: async (text: string, values?: unknown[]) => {
              try {
                return { rows: values?.length ? await o.db.query(text, values) : await o.db.execRows(text) };
              } catch (err) {
                // One connection: a statement that failed inside pg-boss's BEGIN … COMMIT would leave the
                // transaction aborted for every later statement (pg-boss's own PGlite adapter does the same).
                await o.db.exec('rollback').catch(() => undefined);
                throw err;
              }
            },
          },
          backend: 'pglite',
          ...common,
        } as ConstructorParameters<typeof PgBoss>[0]);
    this.boss.on('error', (err: Error) => o.logger?.error({ err: err.message }, 'job queue error'));
  }

  /** Starts the queue and this instance's workers. */
  async start(options: { work?: boolean } = {}): Promise<void> {
    await this.boss.start();
    const queue = {
      policy: 'stately' as const,
      heartbeatSeconds: this.o.heartbeatSeconds,
      retryLimit: RETRY_LIMIT,
      retryDelay: 2,
      retryBackoff: true,
      retryDelayMax: 120,
    };
    for (const name of [RUN_QUEUE, BATCH_QUEUE]) {
      // Created once; the options are brought up to date on every start (a new version may change them).
      // (the policy is fixed at creation: pg-boss refuses to change it).
      if (!(await this.boss.getQueue(name))) await this.boss.createQueue(name, queue);
      else {
        const { policy: _, ...options } = queue;
        await this.boss.updateQueue(name, options);
      }
    }
    if (options.work === false) return;
    await this.boss.work<RunJob>(RUN_QUEUE, { pollingIntervalSeconds: 0.5 }, async ([job]) => {
      if (job) await this.runLoad(job.data.runId, job.retryCount >= RETRY_LIMIT);
    });
    // Two jobs per fetch with burst: while fetches come back full the worker fetches again at once, instead
    // of waiting out the polling interval after every batch (which capped an instance at 2 batches a second).
    await this.boss.work<BatchJob>(
      BATCH_QUEUE,
      { pollingIntervalSeconds: 0.5, batchSize: 2, burstWhenBatchFull: true },
      async (jobs) => {
        for (const job of jobs) {
          await this.runner.batch(job.data.runId, job.data.batchNo, { lastAttempt: job.retryCount >= RETRY_LIMIT });
          await this.runner.finishIfDone(job.data.runId);
        }
      },
    );
  }

  private async runLoad(runId: string, lastAttempt: boolean): Promise<void> {
    const pending = await this.runner.load(runId, { lastAttempt });
    for (const batchNo of pending) await this.sendBatch(runId, batchNo);
    // An empty cohort, or every batch already done (a retried run job): finish now.
    await this.runner.finishIfDone(runId);
  }

  /** Enqueues a run (again: a run already queued or in flight is not duplicated). */
  async sendRun(runId: string): Promise<void> {
    await this.boss.send(RUN_QUEUE, { runId }, { singletonKey: runId });
  }

  private async sendBatch(runId: string, batchNo: number): Promise<void> {
    await this.boss.send(BATCH_QUEUE, { runId, batchNo }, { singletonKey: `${runId}:${batchNo}` });
  }

  /** At start: every unfinished run goes back on the queue (its pending batches with it). */
  async resumeUnfinished(): Promise<string[]> {
    const runs = await this.runner.d.store.unfinishedRuns();
    for (const r of runs) {
      if (r.status === 'evaluating')
        for (const b of await this.runner.d.store.pendingBatches(r.runId)) await this.sendBatch(r.runId, b);
      await this.sendRun(r.runId);
    }
    return runs.map((r) => r.runId);
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: 10_000 });
  }
}
