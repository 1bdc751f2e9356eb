/**
 * `osteowatch surveil run|runs` and `osteowatch worklist`: cohort surveillance from the command line, against the
 * store itself (DATABASE_URL, or the embedded data directory when no service holds it) or a running service's
 * /surveillance API (--url with a token), as `osteowatch audit` does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { JWK } from 'jose';
import { type AuditStore, openAuditStore } from '../audit/store.ts';
import { loadServiceConfig, type ServiceConfig } from '../config/env.ts';
import { loadSurveillanceConfig } from '../config/surveillance.ts';
import { COHORT_GROUP_ID } from '../demo/cohortGroup.ts';
import {
  SURVEILLANCE_CLIENT_ID,
  SURVEILLANCE_SCOPE,
  type SurveillanceClientKey,
  surveillanceClientFile,
} from '../demo/surveillanceClient.ts';
import { OsteoWatchError } from '../errors.ts';
import { dayFromIso } from '../exposure/dates.ts';
import { totalMg } from '../exposure/format.ts';
import { outcomeText } from '../fhir/outcome.ts';
import { createLogger } from '../log/logger.ts';
import { WORKLIST_RULES } from '../screening/worklist.ts';
import {
  liveRunView,
  type RunView,
  runView,
  WORKLIST_CHANGES,
  type WorklistPage,
  type WorklistParams,
  worklistCsv,
  worklistPage,
  worklistParams,
} from '../server/surveillanceRoutes.ts';
import { StoreLockedError } from '../store/index.ts';
import { loadIssueText } from '../surveillance/loadIssueText.ts';
import { recordFailedRun, verifyRun, type WorklistCheck } from '../surveillance/runAudit.ts';
import { type RunRow, RunStore } from '../surveillance/runStore.ts';
import { Surveillance } from '../surveillance/service.ts';
import { CliExit, storeOptions } from './audit.ts';
import { serviceBase, unreachable } from './serviceUrl.ts';
import { table } from './table.ts';

interface Common {
  url?: string;
  token?: string;
  databaseUrl?: string;
  dataDir: string;
  json?: boolean;
}

/** How often a run's progress is read while it goes on. */
const POLL_MS = 500;
/** Without a terminal, a plain progress line this often. */
const PLAIN_EVERY_MS = 5_000;

/** The running service could not be reached, or refused or failed the request. */
export class SurveilClientError extends OsteoWatchError {
  constructor(message: string) {
    super('upstream', message);
  }
}

/** Where the commands get their answers: the store, or the service's /surveillance API. */
interface SurveilClient {
  startRun(asOf: string | undefined): Promise<RunView>;
  run(id: string): Promise<RunView>;
  /** The run's worklist against the digest its audit record holds. */
  verify(id: string): Promise<WorklistCheck>;
  /** Ends a run in progress; the run as it ended. */
  cancel(id: string): Promise<RunView>;
  /** The history, newest first; `before`: the runs older than that one (the next page). */
  runs(limit: number, before?: string): Promise<RunView[]>;
  worklist(p: WorklistParams): Promise<WorklistPage>;
  /** Every matching row as CSV, header first, written chunk by chunk. */
  worklistCsv(p: WorklistParams, write: (s: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** The environment with empty variables taken as unset (DATABASE_URL= means "no PostgreSQL", not a bad URL). */
const setEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));

async function openStore(o: Common): Promise<AuditStore> {
  try {
    return await openAuditStore(o.databaseUrl ? { databaseUrl: o.databaseUrl } : { dataDir: o.dataDir });
  } catch (err) {
    if (err instanceof StoreLockedError)
      throw new OsteoWatchError(
        'locked',
        `the data directory ${o.dataDir} is in use by process ${err.pid} (a running service?): ask the service instead with --url http://HOST:PORT --token TOKEN (or OSTEOWATCH_URL and OSTEOWATCH_AUDIT_TOKEN), or stop that process`,
      );
    throw err;
  }
}

/** The demo's own Backend Services client, when the demo has written its key to the data directory. */
function demoBackendServices(dataDir: string): { clientId: string; privateJwk: JWK; scope: string } | undefined {
  const file = surveillanceClientFile(dataDir);
  if (!existsSync(file)) return undefined;
  try {
    const key = JSON.parse(readFileSync(file, 'utf8')) as SurveillanceClientKey;
    return { clientId: SURVEILLANCE_CLIENT_ID, privateJwk: key.privateJwk, scope: SURVEILLANCE_SCOPE };
  } catch {
    return undefined;
  }
}

/** The FHIR server the service would read when nothing names one: its own demo /fhir. */
function serviceFhirBase(c: ServiceConfig): string {
  if (c.fhirBaseUrl) return c.fhirBaseUrl;
  if (c.publicUrl) return `${c.publicUrl}/fhir`;
  const host = ['0.0.0.0', '::', ''].includes(c.host) ? '127.0.0.1' : c.host.includes(':') ? `[${c.host}]` : c.host;
  return `http://${host}:${c.port}/fhir`;
}

/**
 * The store's client. With `work`, a Surveillance that works the queue in this process (`surveil run`): the
 * service's exposure configuration and FHIR limits, the surveillance settings, no schedule (the service keeps it).
 */
async function localClient(o: Common, work: boolean): Promise<SurveilClient> {
  let surveillance: Surveillance | undefined;
  let config: { service: ServiceConfig; surveillance: ReturnType<typeof loadSurveillanceConfig> } | undefined;
  if (work) {
    // Configuration first: a bad variable is exit 2 before anything is opened.
    const env = setEnv(process.env);
    config = { service: loadServiceConfig(env), surveillance: loadSurveillanceConfig(env) };
  }
  const store = await openStore(o);
  const now = () => new Date();
  try {
    if (config) {
      const s = config.service;
      surveillance = new Surveillance({
        config: { ...config.surveillance, cron: undefined },
        exposure: s.exposure,
        db: store.db,
        databaseUrl: o.databaseUrl || undefined,
        audit: store.audit,
        // The run's outcome is this command's output; LOG_LEVEL=warn (or info) adds the service's log lines.
        logger: createLogger(process.env.LOG_LEVEL || 'silent', process.stderr),
        defaultFhirBaseUrl: serviceFhirBase(s),
        // The demo's Group and client key only for the demo's own FHIR server (as the service does): another
        // server is read with what its variables name, never with the demo's key.
        ...((config.surveillance.fhirBaseUrl ?? s.fhirBaseUrl)
          ? {}
          : { defaultGroupId: COHORT_GROUP_ID, defaultBackendServices: demoBackendServices(o.dataDir) }),
        fhirLimits: s.fhirLimits,
        work: true,
      });
      await surveillance.start();
    }
  } catch (err) {
    await surveillance?.stop().catch(() => undefined);
    await store.close();
    throw err;
  }
  const runs = surveillance?.store ?? new RunStore(store.db);
  const view = (r: RunRow): Promise<RunView> => liveRunView(runs, r, now());
  const mustGet = async (id: string) => {
    const r = await runs.getRun(id);
    if (!r) throw new OsteoWatchError('not-found', `no surveillance run ${id}`);
    return r;
  };
  return {
    async startRun(asOf) {
      if (!surveillance) throw new Error('not a working client');
      // A run left in progress (Ctrl-C, a killed process) under this command's settings: this process took it up
      // when it started (resumeUnfinished), and following it is what `surveil run` means now, rather than a 409.
      const active = await runs.activeRun();
      if (active && surveillance.runner.owns(active) && (!asOf || asOf === active.asOf)) {
        process.stderr.write(
          `osteowatch: resuming run ${active.runId} (as of ${active.asOf}, ${active.status}, started ${active.startedAt ?? active.createdAt})\n`,
        );
        return view(active);
      }
      return runView(await mustGet(await surveillance.startRun('cli', asOf)), now());
    },
    run: async (id) => view(await mustGet(id)),
    verify: async (id) => verifyRun(runs, (await mustGet(id)).runId),
    async cancel(id) {
      const r = await mustGet(id);
      if (!(await runs.cancel(r.runId, `cli (${userInfo().username})`, now())))
        throw new OsteoWatchError('conflict', `run ${r.runId} has already ended (${r.status})`);
      // Recorded in the audit trail, as every ended run is (the service's own cancel does it in the runner). The
      // run has ended whatever happens here; a record not written now is written when a service next starts.
      await recordFailedRun(runs, store.audit, r.runId).catch((err: unknown) =>
        process.stderr.write(
          `osteowatch: run ${r.runId} is cancelled, but not yet in the audit trail (${(err as Error).message}); it is recorded when the service next starts\n`,
        ),
      );
      // What it staged goes (the staging is in this store); its export job, if any, is left to expire on the FHIR
      // server: this command sends nothing to a server it was not asked to talk to.
      await runs.clearStaging(r.runId).catch(() => undefined);
      return view(await mustGet(r.runId));
    },
    async runs(limit, before) {
      if (before) await mustGet(before);
      return Promise.all((await runs.listRuns(limit, before)).map(view));
    },
    worklist: (p) => worklistPage(runs, p),
    async worklistCsv(p, write) {
      for await (const chunk of (await worklistCsv(runs, p)).chunks) write(chunk);
    },
    async close() {
      try {
        await surveillance?.stop();
      } finally {
        await store.close();
      }
    },
  };
}

function remoteClient(o: { url: string; token: string }): SurveilClient {
  const base = serviceBase(o.url);
  const call = async (
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string | number | undefined> = {},
    body?: unknown,
    accept = 'application/json',
  ): Promise<Response> => {
    const qs = new URLSearchParams(
      Object.entries(params).flatMap(([k, v]): Array<[string, string]> => (v === undefined ? [] : [[k, String(v)]])),
    );
    let res: Response;
    try {
      res = await fetch(`${base}/surveillance${path}${qs.size ? `?${qs}` : ''}`, {
        method,
        headers: {
          authorization: `Bearer ${o.token}`,
          accept,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new SurveilClientError(unreachable(base, err));
    }
    if (res.ok) return res;
    if (res.status === 401) throw new SurveilClientError(`${base} refused the token (401)`);
    const text = outcomeText(await res.json().catch(() => undefined)) ?? res.statusText;
    if (res.status === 404 && text !== 'No such endpoint') throw new OsteoWatchError('not-found', text);
    if (res.status === 404) throw new SurveilClientError(`${base} has no surveillance API (404)`);
    throw new SurveilClientError(`${base} answered ${res.status}: ${text}`);
  };
  const json = async <T>(r: Promise<Response>): Promise<T> => (await (await r).json()) as T;
  const listParams = (p: WorklistParams) => ({
    run: p.run,
    rule: p.rule?.join(','),
    change: p.change?.join(','),
    patient: p.patient,
    limit: p.limit,
    cursor: p.cursor,
  });
  return {
    startRun: (asOf) => json(call('POST', '/runs', {}, asOf ? { asOf } : {})),
    run: (id) => json(call('GET', `/runs/${encodeURIComponent(id)}`)),
    verify: (id) => json(call('GET', `/runs/${encodeURIComponent(id)}/verify`)),
    cancel: (id) => json(call('POST', `/runs/${encodeURIComponent(id)}/cancel`, {}, {})),
    runs: async (limit, before) =>
      (await json<{ runs: RunView[] }>(call('GET', '/runs', { limit, ...(before ? { before } : {}) }))).runs,
    worklist: (p) => json(call('GET', '/worklist', listParams(p))),
    async worklistCsv(p, write) {
      const res = await call('GET', '/worklist', { ...listParams(p), format: 'csv' }, undefined, 'text/csv');
      const decoder = new TextDecoder();
      for await (const bytes of res.body ?? []) write(decoder.decode(bytes, { stream: true }));
      const rest = decoder.decode();
      if (rest) write(rest);
    },
    close: async () => undefined,
  };
}

async function withClient<T>(o: Common, work: boolean, fn: (c: SurveilClient) => Promise<T>): Promise<T> {
  let client: SurveilClient;
  if (o.url) {
    if (!o.token) throw new CliExit(2, '--url needs --token (or OSTEOWATCH_AUDIT_TOKEN)');
    client = remoteClient({ url: o.url, token: o.token });
  } else client = await localClient(o, work);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

// ---- Progress while a run goes on (standard error; standard output keeps the result alone).

const clock = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(h ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h ? `${h}:${mmss}` : mmss;
};

export interface Progress {
  runId: string;
  status: RunView['status'];
  done: number;
  total: number | null;
  /** Patients per second, when known. */
  rate: number | null;
}

/** One progress line: a bar when `width` (a terminal's) is given, plain text otherwise. */
export function progressLine(p: Progress, width?: number): string {
  if (p.total === null) return `run ${p.runId}: ${p.status === 'queued' ? 'queued' : 'reading the cohort'}…`;
  const eta = p.rate ? clock((p.total - p.done) / p.rate) : '?';
  const stats = `${p.done}/${p.total} patients  ${p.rate === null ? '?' : p.rate.toFixed(1)}/s  ETA ${eta}`;
  if (!width) return `run ${p.runId}: ${p.status}, ${stats}`;
  const barWidth = Math.max(10, Math.min(40, width - stats.length - 4));
  const filled = p.total ? Math.min(barWidth, Math.round((barWidth * p.done) / p.total)) : barWidth;
  return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${stats}`;
}

const FINAL = new Set(['succeeded', 'failed']);

/**
 * Follows the run until it succeeds or fails (or the signal says stop), showing its progress on standard error:
 * a bar redrawn in place on a terminal, a plain line every few seconds otherwise. The rate counts the patients
 * evaluated since this command first saw the run's total.
 */
async function follow(client: SurveilClient, first: RunView, signal: AbortSignal): Promise<RunView> {
  const err = process.stderr;
  const tty = !!err.isTTY;
  let run = first;
  let since: { at: number; done: number } | undefined;
  let lastPlain = Date.now();
  let drawn = false;
  while (!FINAL.has(run.status) && !signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    run = await client.run(run.runId);
    if (FINAL.has(run.status)) break;
    const { done, total } = run.progress;
    if (total !== null && !since) since = { at: Date.now(), done };
    const elapsed = since ? (Date.now() - since.at) / 1000 : 0;
    const rate = since && elapsed >= 1 ? (done - since.done) / elapsed : null;
    const p: Progress = { runId: run.runId, status: run.status, done, total, rate };
    if (tty) {
      err.write(`\r\x1b[2K${progressLine(p, err.columns || 80)}`);
      drawn = true;
    } else if (Date.now() - lastPlain >= PLAIN_EVERY_MS) {
      lastPlain = Date.now();
      err.write(`osteowatch: ${progressLine(p)}\n`);
    }
  }
  if (drawn) err.write('\r\x1b[2K');
  return run;
}

const SUMMARY: Array<[string, (c: RunView['counts']) => number | undefined]> = [
  ['In cohort', (c) => c.inCohort],
  ['Screening due', (c) => c.screeningDue],
  ['Follow-up due', (c) => c.followUpDue],
  ['Follow-up overdue', (c) => c.followUpOverdue],
  ['Findings', (c) => c.findings],
  ['New findings', (c) => c.newFindings],
  ['Unknown exposure', (c) => c.unknownExposure],
  ['Resolved', (c) => c.resolved],
  ['Tasks', (c) => c.tasks],
  ['Task errors', (c) => c.taskErrors],
  ['Errors', (c) => c.errors],
];

const seconds = (s: number | null) => (s === null ? '—' : s < 60 ? `${s.toFixed(1)} s` : clock(s));

export function runSummary(r: RunView): string {
  const lines = [
    `Surveillance run ${r.runId} ${r.status} (as of ${r.asOf}, ${r.mode} from ${r.fhirBase}, ${r.progress.done}/${r.progress.total ?? '?'} patients, ${seconds(r.durationSeconds)})`,
  ];
  if (Object.keys(r.counts).length)
    lines.push(
      '',
      table(
        ['', 'Patients'],
        SUMMARY.map(([label, of]) => [label, String(of(r.counts) ?? '—')]),
      ),
    );
  if (r.errors.length) {
    lines.push('', 'Errors:');
    for (const e of r.errors) lines.push(`  ${e.patientId ?? '-'}: ${e.message}`);
    const more = (r.counts.errors ?? 0) - r.errors.length;
    if (more > 0) lines.push(`  … and ${more} more`);
  }
  // A server's own error files, unreadable lines: the export was not all it seemed.
  const issues = r.loadIssues;
  if (issues?.total) {
    lines.push('', `Export issues (${issues.total}):`);
    for (const i of issues.items) lines.push(`  ${loadIssueText(i)}`);
    if (issues.total > issues.items.length) lines.push(`  … and ${issues.total - issues.items.length} more`);
  }
  if (r.error) lines.push('', `Failed: ${r.error}`);
  return `${lines.join('\n')}\n`;
}

function checkAsOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new Error();
    dayFromIso(value);
  } catch {
    throw new CliExit(2, `--as-of must be a calendar date YYYY-MM-DD, got "${value}"`);
  }
  return value;
}

/** Worklist options checked as the API checks its query parameters; a bad one is a usage error naming it. */
function checkWorklist(input: Record<string, string | undefined>): WorklistParams {
  try {
    return worklistParams(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
  } catch (err) {
    if (err instanceof OsteoWatchError && err.kind === 'invalid')
      throw new CliExit(2, err.message.replace(/(^|; )(\w+): /g, '$1--$2 '));
    throw err;
  }
}

function checkLimit(value: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max)
    throw new CliExit(2, `--limit must be a whole number from 1 to ${max}, got "${value}"`);
  return n;
}

// Said in UTC, and said so: a clinic in Tokyo reads 11:32 UTC as what it is.
const when = (iso: string | null) => (iso ? `${iso.replace('T', ' ').slice(0, 19)} UTC` : '—');

export function addSurveilCommands(program: Command, out: (s: string) => void): void {
  const common = storeOptions;

  const surveil = program
    .command('surveil')
    .description('Cohort surveillance: screening and follow-up due across the whole cohort, as a worklist');

  common(
    surveil
      .command('run')
      .description(
        'Run cohort surveillance now and wait for it: exit 0 when it succeeded, 1 when it failed (OSTEOWATCH_SURVEILLANCE_* configure it)',
      ),
  )
    .option('--as-of <date>', 'evaluate as of this day, YYYY-MM-DD (default: today)')
    .action(async (o: Common & { asOf?: string }) => {
      const asOf = checkAsOf(o.asOf);
      // Ctrl-C once: stop following, let the batch in hand finish and close the store; twice: leave now.
      const stop = new AbortController();
      const interrupt = () => {
        if (stop.signal.aborted) process.exit(130);
        process.stderr.write('\nosteowatch: stopping after the batch in hand (Ctrl-C again to leave now)\n');
        stop.abort();
      };
      process.on('SIGINT', interrupt);
      try {
        const run = await withClient(o, true, async (c) => follow(c, await c.startRun(asOf), stop.signal));
        if (stop.signal.aborted && !FINAL.has(run.status))
          throw new CliExit(
            130,
            `interrupted: run ${run.runId} is ${run.status}; ${o.url ? 'the service carries on with it' : 'it is resumed when the service or the next `surveil run` starts'}`,
          );
        out(o.json ? `${JSON.stringify(run, null, 2)}\n` : runSummary(run));
        if (run.status !== 'succeeded')
          throw new CliExit(1, `surveillance run ${run.runId} failed: ${run.error ?? 'no reason recorded'}`);
      } finally {
        process.removeListener('SIGINT', interrupt);
      }
    });

  common(surveil.command('cancel').description('Ends a run in progress that no instance will finish'))
    .argument('<run>', 'the run id')
    .action(async (runId: string, o: Common) => {
      const run = await withClient(o, false, (c) => c.cancel(runId));
      out(o.json ? `${JSON.stringify(run, null, 2)}\n` : runSummary(run));
    });

  common(surveil.command('verify').description("Checks a run's worklist against the digest in its audit record"))
    .argument('<run>', 'the run id')
    .action(async (runId: string, o: Common) => {
      const check = await withClient(o, false, (c) => c.verify(runId));
      if (o.json) out(`${JSON.stringify(check, null, 2)}\n`);
      else if (check.ok)
        out(
          `Run ${runId} is what its audit record says: ${check.now.entries} worklist entries, sha256 ${check.now.sha256}; its day, rules, status and counts\n`,
        );
      else if (!check.audited) process.stderr.write(`Run ${runId} has no audit record yet (it has not ended)\n`);
      else {
        const worklistOk = check.audited.entries === check.now.entries && check.audited.sha256 === check.now.sha256;
        if (!worklistOk)
          process.stderr.write(
            `The worklist of run ${runId} does NOT match its audit record: recorded ${check.audited.entries} entries, sha256 ${check.audited.sha256}; now ${check.now.entries} entries, sha256 ${check.now.sha256}\n`,
          );
        if (check.mismatches.length)
          process.stderr.write(
            `The run history of run ${runId} does NOT match its audit record:\n${check.mismatches.map((m) => `  ${m}\n`).join('')}`,
          );
      }
      if (!check.ok) throw new CliExit(1);
    });

  common(surveil.command('runs').description('The history of surveillance runs, newest first'))
    .option('--limit <n>', 'runs to show (1–100)', '20')
    .option('--before <run>', 'the runs older than this one (the next page)')
    .action(async (o: Common & { limit: string; before?: string }) => {
      const limit = checkLimit(o.limit, 100);
      const runs = await withClient(o, false, (c) => c.runs(limit, o.before));
      const next = runs.length === limit ? runs[runs.length - 1]!.runId : null;
      if (o.json) return out(`${JSON.stringify({ runs, next }, null, 2)}\n`);
      if (next) process.stderr.write(`Older runs: --before ${next}\n`);
      out(
        `${table(
          [
            'Run',
            'Trigger',
            'Status',
            'As of',
            'Started',
            'Duration',
            'Patients',
            'Due',
            'Overdue',
            'Findings',
            'Task errors',
            'Errors',
          ],
          runs.map((r) => [
            r.runId,
            r.trigger,
            r.status,
            r.asOf,
            when(r.startedAt ?? r.createdAt),
            seconds(r.durationSeconds),
            `${r.progress.done}/${r.progress.total ?? '?'}`,
            String((r.counts.screeningDue ?? 0) + (r.counts.followUpDue ?? 0)),
            String(r.counts.followUpOverdue ?? 0),
            String(r.counts.findings ?? 0),
            String(r.counts.taskErrors ?? 0),
            // A failed run's reason is its error (cancelled, unreadable cohort): shown, not "0".
            r.status === 'failed'
              ? `failed: ${r.error ?? 'no reason recorded'}`
              : String(r.counts.errors ?? r.errors.length),
          ]),
        )}\n`,
      );
    });

  common(
    program
      .command('worklist')
      .description(
        'The surveillance worklist of the latest succeeded run (or --run): who is due for what, and since when',
      ),
  )
    .option('--rule <rules>', `${WORKLIST_RULES.join(', ')} (comma-separated)`)
    .option('--change <changes>', `${WORKLIST_CHANGES.join(', ')} (comma-separated)`)
    .option('--patient <prefix>', 'patients whose id starts so')
    .option('--run <id>', 'a run other than the latest succeeded one')
    .option('--limit <n>', 'entries per page (1–1000); --csv prints every entry', '100')
    .option('--cursor <cursor>', 'next page')
    .option('--csv', 'print every matching entry as CSV')
    .action(
      async (
        o: Common & {
          rule?: string;
          change?: string;
          patient?: string;
          run?: string;
          limit: string;
          cursor?: string;
          csv?: boolean;
        },
      ) => {
        const p = checkWorklist({
          rule: o.rule,
          change: o.change,
          patient: o.patient?.replace(/^Patient\//, ''),
          run: o.run,
          limit: String(checkLimit(o.limit, 1000)),
          cursor: o.cursor,
        });
        if (o.csv) return withClient(o, false, (c) => c.worklistCsv(p, out));
        const page = await withClient(o, false, (c) => c.worklist(p));
        if (o.json) return out(`${JSON.stringify(page, null, 2)}\n`);
        if (!page.runId)
          return out('No surveillance run has succeeded yet: start one with `osteowatch surveil run`.\n');
        const lines = [
          `Worklist of run ${page.runId}`,
          '',
          table(
            ['Patient', 'Rule', 'Change', 'Due', 'Overdue from', 'Last WB-MRI', 'Cumulative mg', 'Task'],
            page.items.map((i) => [
              i.patientId,
              i.rule,
              i.change,
              i.dueDate ?? '—',
              i.overdueFrom ? `${i.overdueFrom}${i.daysOverdue ? ` (+${i.daysOverdue} d)` : ''}` : '—',
              i.lastStudy ?? '—',
              totalMg({ cumulativeMg: i.cumulativeMg, cumulativeIsLowerBound: i.lowerBound }),
              i.taskRef ?? (i.taskError ? 'not written' : '—'),
            ]),
          ),
        ];
        if (page.next) lines.push(`(more: --cursor ${page.next})`);
        out(`${lines.join('\n')}\n`);
      },
    );
}
