/**
 * Cohort surveillance as the service and the CLI run it: the FHIR source (crawl or bulk) with its
 * authentication, the Task publisher, the runner and the job queue, and the schedule (node-cron, in a time
 * zone). A scheduled run is named after its scheduled minute, so the schedule can fire in every instance and
 * still make one run; a run missed while no instance was up is caught up at start.
 */

import { setFlagsFromString } from 'node:v8';
import { CronExpressionParser } from 'cron-parser';
import type { JWK } from 'jose';
import { type ScheduledTask, schedule } from 'node-cron';
import type { AuditLog } from '../audit/auditLog.ts';
import type { SurveillanceConfig } from '../config/surveillance.ts';
import { OsteoWatchError } from '../errors.ts';
import type { ExposureConfig } from '../exposure/index.ts';
import { backendServicesAuth, type FhirAuth, noAuth, staticBearer } from '../fhir/fhirAuth.ts';
import type { FhirLimits } from '../fhir/patientRecords.ts';
import type { Logger } from '../log/logger.ts';
import type { SurveillanceMetrics } from '../metrics/metrics.ts';
import type { ScreeningConfig } from '../screening/rules.ts';
import type { Db } from '../store/db.ts';
import { bulkSource } from './bulkSource.ts';
import { crawlSource } from './crawlSource.ts';
import { workerEvaluator } from './evaluationPool.ts';
import { SurveillanceJobs } from './jobs.ts';
import { recordUnrecordedRuns } from './runAudit.ts';
import { SurveillanceRunner } from './runner.ts';
import { type RunRow, RunStore, type RunTrigger } from './runStore.ts';
import { TaskPublisher } from './tasks.ts';

// A run streams a gigabyte of NDJSON at 100,000 patients through the heap, and most of it outlives a young-generation
// collection (lines wait in their batch's buffer; a batch's records wait for their patient). What is live stays
// small (35–60 MB after each full collection, --trace-gc), but V8 let the old generation grow to four or five times
// that before collecting it, and the slack was the run's RSS: 420–450 MB at 100,000 patients, over the 400 MB the
// service is sized for. Growing by half the live size instead keeps a run at 300–340 MB (264–300 MB at 10,000)
// for about a tenth more time in the load (`npm run bench`). Process-wide, taken at the next collection, by every
// process that loads the surveillance (the service, whether or not a schedule is set; the CLI); a value given on
// the command line (`node --heap-growing-percent=N`; NODE_OPTIONS may not carry it) is left as it is.
const HEAP_GROWING = /^--heap[-_]growing[-_]percent\b/;
if (!process.execArgv.some((a) => HEAP_GROWING.test(a))) setFlagsFromString('--heap-growing-percent=50');

export interface SurveillanceOptions {
  config: SurveillanceConfig;
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  db: Db;
  databaseUrl?: string;
  /** The job queue's schema (pg-boss); tests that share a database give each store its own. */
  jobSchema?: string;
  audit?: AuditLog;
  logger?: Logger;
  /** The FHIR server read when the configuration names none (the demo's own /fhir, known once it listens). */
  defaultFhirBaseUrl: string | (() => string);
  /** The Group exported when the configuration names none (the demo's cohort Group). */
  defaultGroupId?: string;
  /** The demo's own Backend Services client, used when the configuration names none. */
  defaultBackendServices?: { clientId: string; privateJwk: JWK; scope: string };
  fhirLimits: FhirLimits;
  metrics?: SurveillanceMetrics;
  now?: () => Date;
  /** Whether this process works the queue (the service, the CLI's `surveil run`) or only enqueues and reads. */
  work?: boolean;
}

/** Whether two FHIR base URLs name the same server: compared as parsed URLs (host case, default port), trailing slashes aside. */
export function sameFhirBase(a: string, b: string): boolean {
  const norm = (u: string) => {
    const url = new URL(u);
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  };
  return norm(a) === norm(b);
}

export class Surveillance {
  readonly store: RunStore;
  private parts?: { runner: SurveillanceRunner; jobs: SurveillanceJobs; fhirBaseUrl: string };
  private readonly o: SurveillanceOptions;
  private cron?: ScheduledTask;
  private readonly now: () => Date;

  constructor(o: SurveillanceOptions) {
    this.o = o;
    this.now = o.now ?? (() => new Date());
    this.store = new RunStore(o.db);
  }

  get runner(): SurveillanceRunner {
    return this.built().runner;
  }
  get jobs(): SurveillanceJobs {
    return this.built().jobs;
  }
  get fhirBaseUrl(): string {
    return this.built().fhirBaseUrl;
  }

  /** Built on first use: the demo's FHIR base URL is known only once the service listens. */
  private built(): { runner: SurveillanceRunner; jobs: SurveillanceJobs; fhirBaseUrl: string } {
    if (this.parts) return this.parts;
    const o = this.o;
    const c = o.config;
    const fallback = typeof o.defaultFhirBaseUrl === 'function' ? o.defaultFhirBaseUrl() : o.defaultFhirBaseUrl;
    const fhirBaseUrl = (c.fhirBaseUrl ?? fallback).replace(/\/+$/, '');
    const auth = this.auth(fhirBaseUrl);
    const groupId = c.groupId ?? o.defaultGroupId;
    if (c.mode === 'bulk' && !groupId)
      throw new OsteoWatchError(
        'config',
        'OSTEOWATCH_SURVEILLANCE_GROUP_ID is required in bulk mode (the Group to export; or OSTEOWATCH_SURVEILLANCE_MODE=crawl)',
      );
    const source =
      c.mode === 'bulk'
        ? bulkSource({
            fhirBaseUrl: fhirBaseUrl,
            groupId: groupId!,
            auth,
            store: this.store,
            maxWaitSeconds: c.exportWaitSeconds,
            retryAfterCapSeconds: 120,
            onBadLine: (file, line, problem) => o.logger?.warn({ file, line, problem }, 'bulk export: line skipped'),
          })
        : crawlSource({
            fhirBaseUrl: fhirBaseUrl,
            auth,
            limits: o.fhirLimits,
            maxConditionPages: 100_000,
            concurrency: c.concurrency,
          });
    const taskBase = c.taskFhirUrl === 'none' ? undefined : (c.taskFhirUrl ?? fhirBaseUrl).replace(/\/+$/, '');
    const tasks = taskBase
      ? new TaskPublisher({
          fhirBaseUrl: taskBase,
          auth: this.taskAuth(taskBase, fhirBaseUrl, auth),
          timeoutMs: o.fhirLimits.timeoutMs,
        })
      : undefined;
    const runner = new SurveillanceRunner({
      store: this.store,
      source,
      tasks,
      audit: o.audit,
      exposure: o.exposure,
      screening: o.screening,
      fhirBaseUrl: fhirBaseUrl,
      batchSize: c.batchSize,
      now: this.now,
      timeZone: c.clinicTimeZone ?? c.timezone,
      logger: o.logger,
      metrics: o.metrics,
      evaluator: c.workers ? workerEvaluator(c.workers) : undefined,
    });
    const jobs = new SurveillanceJobs(runner, {
      db: o.db,
      databaseUrl: o.databaseUrl,
      schema: o.jobSchema,
      settings: runner.settings,
      heartbeatSeconds: c.heartbeatSeconds,
      superviseIntervalSeconds: Math.max(1, Math.min(30, Math.floor(c.heartbeatSeconds / 2))),
      logger: o.logger,
    });
    this.parts = { runner, jobs, fhirBaseUrl };
    return this.parts;
  }

  /**
   * As whom Tasks are written: the Task server's own token when one is configured; the read server's
   * credentials when it is the same server (however its URL is spelled: case of the host, default port, trailing
   * slash); otherwise none, said once at start, since the read server's token is never sent to another server.
   */
  private taskAuth(taskBase: string, fhirBaseUrl: string, readAuth: FhirAuth): FhirAuth {
    const c = this.o.config;
    if (c.taskToken) return staticBearer(c.taskToken);
    if (sameFhirBase(taskBase, fhirBaseUrl)) return readAuth;
    this.o.logger?.warn(
      { taskServer: new URL(taskBase).origin },
      'Tasks are written without credentials: the Task server is not the FHIR server read, and OSTEOWATCH_TASK_FHIR_TOKEN is not set',
    );
    return noAuth;
  }

  private auth(fhirBaseUrl: string): FhirAuth {
    const c = this.o.config;
    const bs = c.backendServices ?? this.o.defaultBackendServices;
    if (c.staticToken) return staticBearer(c.staticToken);
    if (bs)
      return backendServicesAuth({
        fhirBaseUrl,
        clientId: bs.clientId,
        privateJwk: bs.privateJwk as JWK,
        scope: bs.scope,
        tokenUrl: c.backendServices?.tokenUrl,
        timeoutMs: this.o.fhirLimits.timeoutMs,
      });
    return noAuth;
  }

  /** Starts the queue (and, with a schedule, the cron), resumes unfinished runs, catches up a missed one. */
  async start(): Promise<void> {
    await this.jobs.start({ work: this.o.work !== false });
    if (this.o.work === false) return;
    if (this.o.audit) {
      const recorded = await recordUnrecordedRuns(this.store, this.o.audit);
      if (recorded.length)
        this.o.logger?.info({ runs: recorded }, 'ended surveillance runs recorded in the audit trail');
    }
    const resumed = await this.jobs.resumeUnfinished();
    if (resumed.length) this.o.logger?.info({ runs: resumed }, 'surveillance runs resumed');
    const c = this.o.config;
    if (!c.cron) return;
    await this.catchUp();
    // A tick never throws into node-cron: a run that could not be started is logged.
    const tick = async (at: Date) => {
      try {
        await this.tick(at);
      } catch (err) {
        this.o.logger?.error({ err: (err as Error).message }, 'scheduled surveillance run could not be started');
      }
    };
    this.cron = schedule(c.cron, () => tick(this.now()), {
      timezone: c.timezone,
      name: 'osteowatch-surveillance',
      noOverlap: true,
    });
    // node-cron skips a slot whose timer fires more than a moment late (the process busy: a run's evaluation, GC, a
    // paused VM) and says so with this event: that slot's run is made now, as its tick would have made it, rather
    // than waiting for the next start's catch-up.
    this.cron.on('execution:missed', (ctx) => tick(ctx.date));
  }

  /** The scheduled fire time at or before `at` (cron-parser, in the configured time zone). */
  lastFireTime(at: Date): Date | undefined {
    const c = this.o.config;
    if (!c.cron) return undefined;
    const it = CronExpressionParser.parse(c.cron, { tz: c.timezone, currentDate: new Date(at.getTime() + 1000) });
    return it.prev().toDate();
  }

  /**
   * What the schedule does when it fires (`at`: when the callback runs): the run of the scheduled minute at or
   * before `at`, as of the clinic's day of that minute — a tick at 23:59 whose callback runs just after midnight
   * is still that day's run.
   */
  tick(at: Date): Promise<string | undefined> {
    return this.scheduled(at, 'schedule');
  }

  private async scheduled(at: Date, trigger: RunTrigger): Promise<string | undefined> {
    const fire = this.lastFireTime(at);
    if (!fire) return undefined;
    const runId = `scheduled-${fire.toISOString().slice(0, 16).replace(/[-:]/g, '')}`;
    // A catch-up (the tick missed while no instance was up) is as of today: what is due now.
    const asOf = trigger === 'schedule' ? this.runner.dayOf(fire) : this.runner.today();
    let created: boolean;
    try {
      ({ created } = await this.runner.create({ runId, trigger, asOf }));
    } catch (err) {
      // A run still in progress at the next tick (runs go one at a time): this tick is skipped, not queued.
      if (!(err instanceof OsteoWatchError && err.kind === 'conflict')) throw err;
      this.o.logger?.warn({ runId, reason: err.message }, 'scheduled surveillance run skipped');
      return undefined;
    }
    // Sent in every instance that shares the run's settings (the queue keeps one: stately, keyed by the run id);
    // one with other settings leaves it to them.
    const run = await this.store.getRun(runId);
    if (!run || !this.runner.owns(run)) {
      this.o.logger?.warn({ runId }, 'the scheduled surveillance run was made under other settings: left to them');
      return undefined;
    }
    await this.jobs.sendRun(runId);
    if (created) this.o.logger?.info({ runId }, 'scheduled surveillance run queued');
    return runId;
  }

  /** The last scheduled run that should have happened, if it did not (no instance was up then). */
  async catchUp(): Promise<string | undefined> {
    // The same run id as the tick it stands for (an instance up at that time made it already, or makes one now),
    // told apart in the history by who started it.
    return this.scheduled(this.now(), 'catch-up');
  }

  /** Starts a run now (API, CLI); its id. */
  async startRun(trigger: RunTrigger, asOf?: string): Promise<string> {
    const { runId } = await this.runner.create({ trigger, asOf: asOf ?? this.runner.today() });
    await this.jobs.sendRun(runId);
    return runId;
  }

  /** Ends a run in progress (runner.cancel); false when it had already ended. */
  cancel(runId: string, by: string): Promise<boolean> {
    return this.runner.cancel(runId, by);
  }

  run(runId: string): Promise<RunRow | undefined> {
    return this.store.getRun(runId);
  }

  async stop(): Promise<void> {
    await this.cron?.stop();
    if (this.parts) {
      await this.parts.jobs.stop();
      await this.parts.runner.d.evaluator?.close();
    }
  }
}
