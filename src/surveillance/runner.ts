/**
 * One surveillance run, as a small state machine over the run store: queued → loading (read or stage the
 * cohort, cut it into batches) → evaluating (batches, by any instance) → finishing (entries that went away
 * are resolved and their Tasks completed, counts, audit record) → succeeded | failed. Every step is idempotent
 * and starts from what the store says, so a step retried after a crash or taken up by another instance
 * carries on from the last completed batch.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/auditLog.ts';
import { OsteoWatchError, RefusedError } from '../errors.ts';
import { dayIn } from '../exposure/dates.ts';
import type { ExposureConfig } from '../exposure/index.ts';
import type { Logger } from '../log/logger.ts';
import type { SurveillanceMetrics } from '../metrics/metrics.ts';
import type { CohortDefinition } from '../screening/cohort.ts';
import { DEFAULT_SCREENING_CONFIG, type ScreeningConfig } from '../screening/rules.ts';
import { changeOf, workFamilyOf, worklistKey } from '../screening/worklist.ts';
import { type Evaluator, inlineEvaluator, type PatientInput } from './evaluationPool.ts';
import { recordFailedRun, recordRun } from './runAudit.ts';
import type { ResultRow, RunCounts, RunRow, RunStore, RunTrigger, WorklistRow } from './runStore.ts';
import { type CohortSource, RunEndedError, StagingLostError } from './source.ts';
import { failsTheRest, type TaskPublisher, TaskServerError } from './tasks.ts';

export interface RunnerDeps {
  store: RunStore;
  source: CohortSource;
  /** Where Tasks are published; none: the worklist only. */
  tasks?: TaskPublisher;
  audit?: AuditLog;
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  cohorts?: CohortDefinition[];
  fhirBaseUrl: string;
  batchSize: number;
  now: () => Date;
  /** The clinic's IANA time zone: what "today" is for a run (today()); UTC when not said. */
  timeZone?: string;
  logger?: Logger;
  metrics?: SurveillanceMetrics;
  /** Where patients are evaluated (a pool of worker threads); absent: in the batch's own thread. */
  evaluator?: Evaluator;
  /** Patients per page when the finishing step compares the worklist with the last run's (default 1000). */
  resolvePageSize?: number;
}

const INLINE = inlineEvaluator();

/** The list cut in order into slices of `size` (the last one shorter). */
const slices = <T>(list: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

/** The rules configuration's hash: runs made under different rules are told apart in the history. */
export function rulesHash(d: Pick<RunnerDeps, 'exposure' | 'screening' | 'cohorts'>): string {
  const text = JSON.stringify({
    exposure: d.exposure,
    screening: d.screening ?? DEFAULT_SCREENING_CONFIG,
    cohorts: d.cohorts ?? 'myositis',
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * What a run is worked under: how the cohort is read (mode, FHIR server) and the rules' hash. Instances share a
 * run's jobs only when they share these (jobs.ts names its queues by it): an instance in another mode, or with
 * other rules, would read a bulk run's staging that is not there, or mix two rule sets in one run.
 */
export function settingsKey(r: { mode: string; fhirBase: string; rulesHash: string }): string {
  return createHash('sha256').update(`${r.mode}\n${r.fhirBase}\n${r.rulesHash}`).digest('hex').slice(0, 12);
}

/**
 * Completes the Tasks of resolved entries (Runner.completion): of each it could not complete, why; of each whose
 * Task it found, the Task.
 */
interface Completion {
  complete(
    entries: WorklistRow[],
  ): Promise<{ notCompleted: Map<WorklistRow, string>; found: Map<WorklistRow, string> }>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class SurveillanceRunner {
  readonly d: RunnerDeps;
  constructor(d: RunnerDeps) {
    this.d = d;
  }

  /**
   * Today in the clinic's time zone (OSTEOWATCH_TZ), as the cards count it: a 07:00 run in Tokyo or Sydney is for
   * that morning, not the UTC day before, and agrees with the card shown then.
   */
  today(): string {
    return this.dayOf(this.d.now());
  }

  /** The clinic's day at an instant. */
  dayOf(at: Date): string {
    return dayIn(at, this.d.timeZone);
  }

  /** This instance's settingsKey: the runs it may work on. */
  get settings(): string {
    return settingsKey({ mode: this.d.source.mode, fhirBase: this.d.fhirBaseUrl, rulesHash: rulesHash(this.d) });
  }

  /** Whether this instance may work on the run (it was made under the same settings). */
  owns(run: RunRow): boolean {
    return settingsKey(run) === this.settings;
  }

  /**
   * Creates a run (idempotent on its id: a scheduled run is named after its minute, so N instances make one).
   * Refused (`conflict`, with the reason) while another run is in progress — each run compares its worklist with
   * the last one, so they go one at a time — and for a day after today or before the worklist's day: a run moves
   * the worklist and its Tasks forward, and a run for 1800 would complete every open Task. Earlier days are the
   * audit trail's to answer (`GET /surveillance/due?date=`).
   */
  async create(o: { runId?: string; trigger: RunTrigger; asOf: string }): Promise<{ runId: string; created: boolean }> {
    const now = this.d.now();
    const today = dayIn(now, this.d.timeZone);
    if (o.asOf > today)
      throw new OsteoWatchError(
        'invalid',
        `asOf ${o.asOf} is after today (${today}): a run is for a day that has come`,
      );
    const last = await this.d.store.lastAsOf();
    if (last && o.asOf < last)
      throw new OsteoWatchError(
        'conflict',
        `asOf ${o.asOf} is before the current worklist's day (${last}): runs move the worklist and its Tasks forward; ask the audit trail who was due on an earlier day`,
      );
    const runId =
      o.runId ?? `${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${Math.random().toString(36).slice(2, 6)}`;
    const created = await this.d.store.createRun({
      runId,
      trigger: o.trigger,
      mode: this.d.source.mode,
      fhirBase: this.d.fhirBaseUrl,
      asOf: o.asOf,
      rulesHash: rulesHash(this.d),
      now,
    });
    if (!created && !(await this.d.store.getRun(runId))) {
      const active = await this.d.store.activeRun();
      throw new OsteoWatchError(
        'conflict',
        active
          ? `run ${active.runId} is in progress (${active.status}, ${active.done}/${active.total ?? '?'} patients): one run at a time, each compared with the last (if no instance is working on it, \`osteowatch surveil cancel ${active.runId}\` ends it)`
          : 'another run was starting at the same moment: try again',
      );
    }
    return { runId, created };
  }

  /**
   * Loads the cohort and cuts it into batches; returns the batch numbers to process. A failure is thrown to be
   * retried (the run stays loading); on the last attempt the run is marked failed, with the reason.
   */
  async load(runId: string, o: { lastAttempt: boolean } = { lastAttempt: true }): Promise<number[]> {
    const { store } = this.d;
    let run = await this.mustGet(runId);
    if (run.status === 'queued') {
      await store.update(runId, { status: 'loading', startedAt: this.d.now() }, ['queued']);
      run = await this.mustGet(runId);
    }
    if (run.status === 'loading') {
      // The evaluation threads load the engine while the cohort loads.
      this.d.evaluator?.warm();
      try {
        const cohort = await this.d.source.load(run, { batchSize: this.d.batchSize });
        const saved = await store.saveBatches(runId, cohort.batches ?? slices(cohort.patientIds, this.d.batchSize));
        const loaded = await store.update(
          runId,
          {
            status: 'evaluating',
            // Fixed now, so that every batch (and the finish) compares with the same run, whatever else runs.
            previousRunId: (await store.previousRun(runId)) ?? null,
            total: cohort.patientIds.length,
            batches: saved,
            transactionTime: cohort.transactionTime,
            ...(cohort.issues ? { loadIssues: cohort.issues } : {}),
          },
          ['loading'],
        );
        if (!loaded) return this.loadOvertaken(runId);
      } catch (err) {
        // The load stopped on it, or its export was deleted under it: nothing to retry.
        if (err instanceof RunEndedError || (await store.statusOf(runId).catch(() => 'loading')) !== 'loading')
          return this.loadOvertaken(runId);
        // Retried with backoff, unless the server refused (401, 403, no such Group): that answer will not change.
        if (!o.lastAttempt && !(err instanceof RefusedError)) throw err;
        await this.fail(runId, `the cohort could not be read: ${message(err)}`);
        this.d.logger?.error({ runId, err: message(err) }, 'surveillance run failed');
        return [];
      }
    }
    return store.pendingBatches(runId);
  }

  /**
   * Evaluates one batch: each patient once (those a crashed attempt stored are skipped), worklist, Tasks. A
   * patient whose records did not come in time (the FHIR server slow or down) fails the attempt, to be retried
   * with backoff; on the last attempt it is recorded as that patient's error and the run goes on.
   */
  async batch(runId: string, batchNo: number, o: { lastAttempt: boolean } = { lastAttempt: true }): Promise<void> {
    const { store } = this.d;
    const run = await this.mustGet(runId);
    if (run.status !== 'evaluating') return;
    const batch = await store.batch(runId, batchNo);
    if (!batch || batch.done) return;
    const done = await store.evaluated(runId, batch.patientIds);
    const todo = batch.patientIds.filter((id) => !done.has(id));
    let data: Awaited<ReturnType<CohortSource['records']>>;
    try {
      data = await this.d.source.records(todo, run, batchNo);
    } catch (err) {
      // A batch that cannot be read at all: retried with backoff, unless retrying cannot help (the staged export
      // is gone) or this was the last attempt; then the run fails with the reason rather than wait forever.
      if (!(err instanceof StagingLostError) && !o.lastAttempt) throw err;
      await this.fail(runId, `batch ${batchNo} could not be read: ${message(err)}`);
      this.d.logger?.error({ runId, batchNo, err: message(err) }, 'surveillance run failed');
      return;
    }
    const transient = [...data.values()].find((r) => r instanceof OsteoWatchError && r.kind === 'unavailable');
    if (transient && !o.lastAttempt) throw transient;
    const previous = run.previousRunId;
    const previousKeys = new Set(
      previous ? (await store.worklistOf(previous, todo)).filter((e) => e.change !== 'resolved').map(worklistKey) : [],
    );
    const results: ResultRow[] = [];
    const entries: WorklistRow[] = [];
    const inputs: PatientInput[] = [];
    for (const patientId of todo) {
      const records = data.get(patientId);
      if (!records || records instanceof Error)
        results.push({
          patientId,
          decision: 'error',
          cumulativeMg: null,
          lowerBound: false,
          error: records ? message(records) : 'no records returned',
        });
      else inputs.push([patientId, records]);
    }
    const evaluations = await (this.d.evaluator ?? INLINE).evaluate(inputs, {
      asOf: run.asOf,
      exposure: this.d.exposure,
      screening: this.d.screening,
      cohorts: this.d.cohorts,
    });
    // Statuses of the Tasks not written, for one log line per batch: the count and the HTTP status, never the
    // server's text (it may quote the Task, and with it the patient).
    const notWritten = new Map<string, number>();
    // Once the server has refused who we are (401, 403), or cannot be reached on the last attempt, the batch's
    // other Tasks would fare alike: they are not sent (70,000 refused writes at an EHR), each entry saying why.
    let giveUp: string | undefined;
    // Each evaluation's entries (their Tasks still to write), made once.
    const evaluated = evaluations.map(({ result, items }) => ({
      result,
      rows: items.map((item) => {
        const { suggestsOrder: _, ...entry } = item;
        const row: WorklistRow = {
          ...entry,
          runId,
          change: changeOf(item, previousKeys),
          taskRef: null,
          taskError: null,
        };
        return { item, row };
      }),
    }));
    // The Tasks about to be written for entries new since the last succeeded run, recorded first, whatever becomes
    // of the run: one that fails keeps none of its entries, and the next succeeded one completes those whose reason
    // has gone by then (resolveOrphans). A still-due entry's Task is on the last succeeded run's worklist already.
    // Recorded before any is sent (a process killed half-way leaves none unrecorded); one not sent in the end costs
    // that run a search that finds nothing.
    if (this.d.tasks) {
      const toPublish = evaluated.flatMap((e) => e.rows.map((r) => r.row)).filter((row) => row.change === 'new');
      if (toPublish.length) await store.recordTasksToPublish(runId, toPublish);
    }
    for (const { result, rows } of evaluated) {
      for (const { item, row } of rows) {
        let taskRef: string | null = null;
        let taskError: string | null = null;
        // A run cancelled meanwhile (an operator's word, or failed by another instance) writes no more Tasks: its
        // status read again before each one (a primary-key read, next to an HTTP conditional create).
        if (this.d.tasks && (await store.statusOf(runId)) !== 'evaluating') return;
        if (this.d.tasks && giveUp) taskError = giveUp;
        else if (this.d.tasks)
          try {
            taskRef = await this.d.tasks.publish(item, run.asOf, item.summary);
          } catch (err) {
            // A Task server down (or this process's own demo server closing) fails the attempt: the batch is
            // retried with backoff, its Tasks idempotent, nothing of it stored yet. A refusal (401, 403, 422), or
            // the last attempt, leaves the entry on the worklist without its Task and says why: the patient is
            // still due, and the next run publishes the Task again.
            const unavailable = err instanceof OsteoWatchError && err.kind === 'unavailable';
            if (unavailable && !o.lastAttempt) throw err;
            taskError = message(err);
            if (failsTheRest(err)) giveUp = taskError;
            const status = err instanceof TaskServerError && err.status ? String(err.status) : 'no answer';
            notWritten.set(status, (notWritten.get(status) ?? 0) + 1);
          }
        entries.push({ ...row, taskRef, taskError });
      }
      results.push(result);
    }
    if (notWritten.size)
      this.d.logger?.warn(
        { runId, batchNo, notWritten: Object.fromEntries(notWritten), skipped: giveUp ? 'the rest of the batch' : 0 },
        'worklist entries stored without their Task',
      );
    this.d.metrics?.patientsEvaluated(results.length, results.filter((r) => r.error).length);
    // Stored only while the run is still evaluating (checked under the run's row lock): a run cancelled while
    // this batch worked keeps nothing of it.
    await store.completeBatch(runId, batchNo, results, entries, this.d.now());
  }

  /** Calls of finishIfDone by run, chained: two batches of this instance ending together finish the run once. */
  private readonly finishing = new Map<string, Promise<boolean>>();

  /** Finishes the run when every batch is done; true when this call (or an earlier one) finished it. */
  finishIfDone(runId: string): Promise<boolean> {
    const before = this.finishing.get(runId) ?? Promise.resolve(false);
    const call = before.catch(() => false).then(() => this.finishNow(runId));
    this.finishing.set(runId, call);
    const forget = () => {
      if (this.finishing.get(runId) === call) this.finishing.delete(runId);
    };
    call.then(forget, forget);
    return call;
  }

  /**
   * One finisher across instances: on PostgreSQL a session advisory lock held while finishing, on a connection
   * left idle meanwhile rather than a transaction held open through the Task server's answers (a
   * second instance whose last batch ends at the same moment leaves it to the holder; if the holder dies, the
   * lock goes with its connection and its batch job, retried, finishes the run). The embedded store serves one
   * process, where the chain in finishIfDone is enough.
   */
  private async finishNow(runId: string): Promise<boolean> {
    if ((await this.d.store.pendingBatches(runId)).length) return false;
    const finished = await this.d.store.db.exclusively(`osteowatch-surveillance-finish:${runId}`, () =>
      this.finishLocked(runId),
    );
    return finished.held && finished.value;
  }

  private async finishLocked(runId: string): Promise<boolean> {
    const { store } = this.d;
    await store.update(runId, { status: 'finishing' }, ['evaluating']);
    const run = await this.mustGet(runId);
    if (run.status === 'succeeded') return true;
    if (run.status !== 'finishing') return false;
    if (!(await this.resolveGone(run))) return false;
    const counts: RunCounts = await store.countsOf(runId);
    const errors = await store.errorsOf(runId);
    const finishedAt = this.d.now();
    await this.d.source.finish(run).catch(() => undefined);
    // Succeeded only from finishing: cancelled meanwhile, it stays failed (and was recorded so). Then the audit
    // record, which says what the history says; a process dying between the two leaves a succeeded run without
    // its record, written by the next instance to start (recordUnrecordedRuns).
    if (!(await store.update(runId, { status: 'succeeded', finishedAt, counts, errors }, ['finishing']))) return false;
    if (this.d.audit)
      await recordRun(store, this.d.audit, run, { status: 'succeeded', counts, finishedAt }).catch((err: unknown) =>
        this.d.logger?.error({ runId, err: message(err) }, 'the surveillance run could not be audited yet'),
      );
    // The Tasks recorded for failed runs before it are settled (resolveOrphans): no later run looks back past it.
    await store
      .forgetTasksBefore(runId)
      .catch((err: unknown) =>
        this.d.logger?.warn({ runId, err: message(err) }, 'the Tasks recorded before the run could not be forgotten'),
      );
    const started = run.startedAt ? Date.parse(run.startedAt) : Number.NaN;
    this.d.metrics?.runEnded('succeeded', Number.isNaN(started) ? null : (finishedAt.getTime() - started) / 1000);
    this.d.logger?.info({ runId, counts }, 'surveillance run finished');
    return true;
  }

  /**
   * Entries of the last run with no counterpart now: resolved (a WB-MRI was done, the patient left the cohort),
   * and their Tasks completed. A patient whose records could not be read this time keeps its entries open. A
   * resolved entry whose Task could not be completed is tried again, and carried until it is. Then the Tasks that
   * runs failed since the last one published for new entries (resolveOrphans).
   */
  private async resolveGone(run: RunRow): Promise<boolean> {
    const { store } = this.d;
    const previous = run.previousRunId;
    const erred = await store.erredPatients(run.runId);
    // As in a batch: once the Task server has refused who we are, or does not answer, the other completions are
    // not sent (a hung server would hold the finishing step for hours), each entry saying why.
    const completion = this.completion(run);
    // A page of the last run's patients at a time: two whole worklists (71k entries each at 100k patients) were
    // the finishing step's memory.
    for (let after = ''; previous; ) {
      const patients = await store.patientsWithOpenEntries(previous, after, this.d.resolvePageSize ?? 1000);
      if (!patients.length) break;
      // Cancelled meanwhile: nothing more completed or written.
      if ((await store.statusOf(run.runId)) !== 'finishing') return false;
      after = patients[patients.length - 1]!;
      const last = await store.worklistOf(previous, patients);
      const before = last.filter((e) => e.change !== 'resolved');
      const current = await this.openFamilies(run, patients);
      const gone = before.filter((e) => !current.has(workFamilyOf(e)) && !erred.has(e.patientId));
      // Resolved by an earlier run whose Task the server would not complete then: completed now, else carried
      // (resolved, saying why its Task is still open) to the next run, which tries again. An EHR's Task list
      // would otherwise keep it open for good. Due again meanwhile, it is the new entry's Task that counts.
      const unfinished = last.filter((e) => e.change === 'resolved' && e.taskError && !current.has(workFamilyOf(e)));
      const completed = await completion.complete([...gone, ...unfinished]);
      const { notCompleted } = completed;
      if (!(await this.storeResolved(run, gone, completed))) return false;
      const carried = await store.insertEntriesWhile(
        run.runId,
        'finishing',
        unfinished.flatMap((e) => {
          const error = notCompleted.get(e);
          return error ? [{ ...e, runId: run.runId, taskError: error }] : [];
        }),
      );
      if (!carried) return false;
      // A patient whose records could not be read this time is not known to be done: the entries stay, still due.
      const kept = before.filter((e) => erred.has(e.patientId) && !current.has(workFamilyOf(e)));
      // Their Task is neither written nor refused by this run: what an earlier run met is not this run's error.
      const keptStored = await store.insertEntriesWhile(
        run.runId,
        'finishing',
        kept.map((e) => ({ ...e, runId: run.runId, change: 'still-due' as const, taskError: null })),
      );
      if (!keptStored) return false;
    }
    return this.resolveOrphans(run, erred, completion);
  }

  /**
   * The Tasks that runs failed since the last succeeded one published for entries new then (recorded before they
   * were sent: a failed run keeps no worklist, so the last run's entries do not show them). Those whose reason has
   * gone by now are completed and written as resolved, like the last run's; those still due are this run's
   * entries' own Tasks (the same identifier); a patient whose records could not be read this time keeps the entry,
   * still due, for the next run to settle.
   */
  private async resolveOrphans(run: RunRow, erred: ReadonlySet<string>, completion: Completion): Promise<boolean> {
    const { store } = this.d;
    for (let after = ''; ; ) {
      const page = await store.publishedByFailedRuns(run.runId, after, this.d.resolvePageSize ?? 1000);
      if (!page.length) return true;
      if ((await store.statusOf(run.runId)) !== 'finishing') return false;
      after = page[page.length - 1]!.key;
      const current = await this.openFamilies(run, [...new Set(page.map((p) => p.entry.patientId))]);
      const orphans = page.map((p) => p.entry).filter((e) => !current.has(workFamilyOf(e)));
      const gone = orphans.filter((e) => !erred.has(e.patientId));
      if (!(await this.storeResolved(run, gone, await completion.complete(gone)))) return false;
      const stillDue = orphans
        .filter((e) => erred.has(e.patientId))
        .map((e) => ({ ...e, runId: run.runId, change: 'still-due' as const, taskError: null }));
      if (!(await store.insertEntriesWhile(run.runId, 'finishing', stillDue))) return false;
    }
  }

  /** The work families of the run's open entries (not resolved) of these patients. */
  private async openFamilies(run: RunRow, patients: string[]): Promise<Set<string>> {
    const now = await this.d.store.worklistOf(run.runId, patients);
    return new Set(now.filter((e) => e.change !== 'resolved').map(workFamilyOf));
  }

  /**
   * Completes Tasks for the finishing step: what could not be completed, by entry, with why. Once the server has
   * refused who we are, or does not answer, the rest are not sent (each saying why).
   */
  private completion(run: RunRow): Completion {
    let giveUp: string | undefined;
    return {
      complete: async (entries) => {
        // A Task the server would not complete stays open in the EHR while the worklist says resolved: said on the
        // entry (taskError), counted and listed with the run's errors, not only logged.
        const notCompleted = new Map<WorklistRow, string>();
        const found = new Map<WorklistRow, string>();
        for (const e of entries) {
          if (this.d.tasks && giveUp) notCompleted.set(e, giveUp);
          else if (this.d.tasks)
            try {
              const task = await this.d.tasks.complete(e, `Resolved in surveillance run ${run.runId}`);
              if (task) found.set(e, task);
            } catch (err) {
              notCompleted.set(e, `the Task could not be completed: ${message(err)}`);
              if (failsTheRest(err)) giveUp = notCompleted.get(e);
              const status = err instanceof TaskServerError ? err.status : undefined;
              this.d.logger?.warn({ runId: run.runId, status }, 'a resolved Task could not be completed');
            }
        }
        return { notCompleted, found };
      },
    };
  }

  /** Writes these entries as resolved by this run (false when it is no longer finishing: nothing written). */
  private async storeResolved(
    run: RunRow,
    gone: WorklistRow[],
    { notCompleted, found }: Awaited<ReturnType<Completion['complete']>>,
  ) {
    if (!gone.length) return true;
    // A resolved entry shows the WB-MRI that resolved it (the patient's last one as this run saw it).
    const scanned = await this.d.store.lastStudies(
      run.runId,
      gone.map((e) => e.patientId),
    );
    return this.d.store.insertEntriesWhile(
      run.runId,
      'finishing',
      gone.map((e) => {
        // Resolved by a WB-MRI when this run saw one after the entry's last; else it left the worklist for
        // another reason (the patient left the cohort, a record was corrected). Said, not left to guess.
        const study = scanned.get(e.patientId);
        const newer = study && (!e.lastStudy || study > e.lastStudy) ? study : undefined;
        return {
          ...e,
          runId: run.runId,
          change: 'resolved' as const,
          // The Task completed, when the entry did not know it (recorded before it was written).
          taskRef: e.taskRef ?? found.get(e) ?? null,
          lastStudy: newer ?? e.lastStudy,
          summary: newer
            ? `Resolved by the WB-MRI of ${newer}. Was: ${e.summary}`
            : `Resolved: no longer due (no new WB-MRI seen). Was: ${e.summary}`,
          taskError: notCompleted.get(e) ?? null,
        };
      }),
    );
  }

  /** Ends a run in progress at an operator's word (RunStore.cancel); false when it had already ended. */
  async cancel(runId: string, by: string): Promise<boolean> {
    return this.ended(runId, await this.d.store.cancel(runId, by, this.d.now()));
  }

  async fail(runId: string, error: string): Promise<boolean> {
    return this.ended(runId, await this.d.store.fail(runId, error, this.d.now()));
  }

  /**
   * A run that has just failed: counted, recorded in the audit trail as every ended run is, and its export job
   * and staged records released (a FHIR server limits the export jobs a client holds: cancelled runs' jobs left
   * behind refused every later export).
   */
  private async ended(runId: string, failed: boolean): Promise<boolean> {
    if (!failed) return false;
    this.d.metrics?.runEnded('failed', null);
    // The run has ended whatever the audit trail does; a record that could not be written is said loudly.
    await recordFailedRun(this.d.store, this.d.audit, runId).catch((err: unknown) =>
      this.d.logger?.error({ runId, err: message(err) }, 'the failed surveillance run could not be audited'),
    );
    await this.release(runId);
    return true;
  }

  /**
   * A load whose run moved on without it. Ended (cancelled, failed): what the load staged after the run's cleanup
   * goes too, and there are no batches. Loaded by another attempt (a retry beside a stalled one): its batches stand,
   * nothing of them touched.
   */
  private async loadOvertaken(runId: string): Promise<number[]> {
    if ((await this.d.store.statusOf(runId).catch(() => undefined)) !== 'failed')
      return this.d.store.pendingBatches(runId);
    await this.release(runId);
    return [];
  }

  /**
   * Deletes an ended run's export job and staged records (source.finish), read afresh: the status URL is saved
   * while the run loads. The job only by an instance of the run's settings: another (its FHIR server or mode
   * changed since) would send its own credentials to the run's server; it drops the staged records alone, and the
   * job expires there. Best effort, said in the log when it fails.
   */
  private async release(runId: string): Promise<void> {
    try {
      const run = await this.d.store.getRun(runId);
      if (!run) return;
      if (this.owns(run)) await this.d.source.finish(run);
      else {
        await this.d.store.clearStaging(runId);
        if (run.exportStatusUrl)
          this.d.logger?.warn(
            { runId },
            'the ended run was made under other settings: its export job is left to expire',
          );
      }
    } catch (err) {
      this.d.logger?.warn({ runId, err: message(err) }, 'the ended run could not release its export');
    }
  }

  private async mustGet(runId: string): Promise<RunRow> {
    const run = await this.d.store.getRun(runId);
    if (!run) throw new Error(`no surveillance run ${runId}`);
    return run;
  }
}
