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
import { type SurveillanceRunner, settingsKey } from './runner.ts';

export const RUN_QUEUE = 'osteowatch-surveillance-run';
export const BATCH_QUEUE = 'osteowatch-surveillance-batch';
/** The run and batch queues of a settingsKey (runner.ts): instances share jobs only under the same settings. */
const queuesOf = (settings: string): [string, string] => [`${RUN_QUEUE}-${settings}`, `${BATCH_QUEUE}-${settings}`];

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
  /**
   * The instance's settingsKey (runner.ts): its queues are named by it, so that instances share a run's jobs only
   * when they would read and judge the cohort alike.
   */
  settings: string;
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
  /** This instance's queues: RUN_QUEUE and BATCH_QUEUE, each suffixed with its settings' key. */
  readonly runQueue: string;
  readonly batchQueue: string;
  private readonly runner: SurveillanceRunner;
  private readonly o: JobOptions;
  constructor(runner: SurveillanceRunner, o: JobOptions) {
    this.runner = runner;
    this.o = o;
    [this.runQueue, this.batchQueue] = queuesOf(o.settings);
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
    for (const name of [this.runQueue, this.batchQueue]) {
      // Created once; the options are brought up to date on every start (a new version may change them).
      // (the policy is fixed at creation: pg-boss refuses to change it).
      if (!(await this.boss.getQueue(name))) await this.boss.createQueue(name, queue);
      else {
        const { policy: _, ...options } = queue;
        await this.boss.updateQueue(name, options);
      }
    }
    if (options.work === false) return;
    this.runWorker = await this.boss.work<RunJob>(this.runQueue, { pollingIntervalSeconds: 0.5 }, async ([job]) => {
      if (job) await this.runLoad(job.data.runId, job.retryCount >= RETRY_LIMIT);
    });
    // Two batches per fetch, worked at once: one batch's patients are evaluated while the other's records are
    // read or its results written, so that neither the database nor the evaluation threads wait on the other.
    // Burst: while fetches come back full the worker fetches again at once, instead of waiting out the polling
    // interval after every fetch (pg-boss ignores burst at one job per fetch). Each job is settled on its own:
    // a batch that fails is retried without its neighbour.
    this.batchWorker = await this.boss.work<BatchJob>(
      this.batchQueue,
      { pollingIntervalSeconds: 0.5, batchSize: 2, burstWhenBatchFull: true, perJobResults: true },
      async (jobs) => {
        const settled = await Promise.allSettled(
          jobs.map(async (job) => {
            await this.runner.batch(job.data.runId, job.data.batchNo, { lastAttempt: job.retryCount >= RETRY_LIMIT });
            await this.runner.finishIfDone(job.data.runId);
          }),
        );
        return jobs.map((job, i) => {
          const s = settled[i]!;
          if (s.status === 'fulfilled') return { id: job.id, status: 'completed' as const };
          // Logged without its message (it may name a patient); the message is kept on the job.
          this.o.logger?.warn({ runId: job.data.runId, batch: job.data.batchNo }, 'surveillance batch attempt failed');
          return { id: job.id, status: 'failed' as const, output: { message: String(s.reason?.message ?? s.reason) } };
        });
      },
    );
  }

  /** This instance's workers (when it works the queue), woken when it has just sent them a job. */
  private runWorker: string | undefined;
  private batchWorker: string | undefined;

  private async runLoad(runId: string, lastAttempt: boolean): Promise<void> {
    const pending = await this.runner.load(runId, { lastAttempt });
    await this.sendMissingBatches(runId, pending);
    // The batches are this instance's to start on now, not after its next poll (other instances poll).
    if (this.batchWorker) this.boss.notifyWorker(this.batchWorker);
    // An empty cohort, or every batch already done (a retried run job): finish now.
    await this.runner.finishIfDone(runId);
  }

  /** Enqueues a run (again: a run already queued or in flight is not duplicated). */
  async sendRun(runId: string): Promise<void> {
    await this.boss.send(this.runQueue, { runId }, { singletonKey: runId });
    if (this.runWorker) this.boss.notifyWorker(this.runWorker);
  }

  /** As openJobs, in a queue that may not exist (another settings' queue): none there. */
  private async openJobsIn<T extends { runId: string }>(name: string, runId: string): Promise<T[]> {
    if (!(await this.boss.getQueue(name))) return [];
    return this.openJobs<T>(name, runId);
  }

  /** The queue's jobs of a run that are still to be done or being done (created, retry, active). */
  private async openJobs<T extends { runId: string }>(name: string, runId: string): Promise<T[]> {
    const jobs = await this.boss.findJobs<T>(name, { data: { runId }, limit: 100_000 });
    return jobs.filter((j) => j.state === 'created' || j.state === 'retry' || j.state === 'active').map((j) => j.data);
  }

  /**
   * Sends the pending batches that have no open job. `stately` keeps one waiting job per key, but allows one
   * beside an active one: re-sending a batch another instance is working on would queue it a second time.
   * A batch whose worker died is not lost: its job misses its heartbeat and is retried.
   */
  private async sendMissingBatches(runId: string, pending: number[]): Promise<void> {
    if (!pending.length) return;
    const open = new Set((await this.openJobs<BatchJob>(this.batchQueue, runId)).map((j) => j.batchNo));
    const missing = pending.filter((batchNo) => !open.has(batchNo));
    // One statement for all (200 round trips at 100k patients otherwise); the queue's retry and heartbeat
    // settings apply as to send(), and a job already waiting under its key is kept, not doubled (the insert
    // skips a conflict on the stately queue's unique key, as send does).
    for (let i = 0; i < missing.length; i += 1000)
      await this.boss.insert(
        this.batchQueue,
        missing
          .slice(i, i + 1000)
          .map((batchNo) => ({ data: { runId, batchNo }, singletonKey: `${runId}:${batchNo}` })),
      );
  }

  /**
   * At start: unfinished runs go back on the queue — unless another instance is working on them. A run still
   * loading, or whose batches are all done (it stopped while finishing), gets its run job again if it has none
   * open; a run being evaluated gets the batches no job holds (the last one to end finishes the run).
   */
  async resumeUnfinished(): Promise<string[]> {
    const runs = await this.runner.d.store.unfinishedRuns();
    const resumed: string[] = [];
    for (const r of runs) {
      if (!this.runner.owns(r)) {
        // Made under other settings (another mode, server or rules). An instance with those resumes it while its
        // jobs are open; with none open nobody will (the settings changed, its CLI was killed), and as the one
        // run in progress it would refuse every later run: it ends, with the reason.
        const [runQueue, batchQueue] = queuesOf(settingsKey(r));
        const open = [
          ...(await this.openJobsIn<RunJob>(runQueue, r.runId)),
          ...(await this.openJobsIn<BatchJob>(batchQueue, r.runId)),
        ];
        if (open.length)
          this.o.logger?.warn(
            { runId: r.runId },
            'an unfinished surveillance run waits for an instance with its settings',
          );
        else {
          await this.runner.fail(
            r.runId,
            `abandoned: made under other settings (${r.mode} from ${r.fhirBase}, rules ${r.rulesHash}) and no instance holds its jobs`,
          );
          this.o.logger?.warn({ runId: r.runId }, 'an abandoned surveillance run was ended');
        }
        continue;
      }
      const pending =
        r.status === 'queued' || r.status === 'loading' ? [] : await this.runner.d.store.pendingBatches(r.runId);
      if (pending.length) await this.sendMissingBatches(r.runId, pending);
      else if (!(await this.openJobs<RunJob>(this.runQueue, r.runId)).length) await this.sendRun(r.runId);
      else continue;
      resumed.push(r.runId);
    }
    return resumed;
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: 10_000 });
  }
}
