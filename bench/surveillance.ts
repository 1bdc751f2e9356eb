/**
 * Cohort surveillance benchmark, bulk mode, for BENCH_SURVEILLANCE_SIZES patients (default 10000;
 * `BENCH_SURVEILLANCE_SIZES=10000,100000` adds the large cohort, about six minutes more on two cores). For each
 * size: the synthetic cohort written by the real CLI as one NDJSON file per resource type (`cohort generate
 * --format ndjson --split`), served by a minimal Bulk Data server in this process (kick-off, status with the
 * manifest, files streamed from disk, DELETE), then, each in a child process of its own so that its peak RSS is
 * its own (process.resourceUsage().maxRSS):
 *
 * - parse: every file read through the client's NDJSON reader (ndjsonResources), resources counted: the rate the
 *   surveillance cannot beat, since it reads the same files the same way; measured BENCH_SURVEILLANCE_REPEAT times
 *   (default 3), each time just before a one-instance run, so that each ratio compares two runs made under the same
 *   load of a shared machine (the median printed, the range beside it);
 * - in memory (up to 20,000 patients): the files parsed into memory, grouped by patient, and every patient
 *   evaluated there, nothing stored: the ceiling of any surveillance with this engine on one thread;
 * - one instance: Surveillance in bulk mode on PostgreSQL (a fresh schema, jobs in `<schema>_jobs`), batches of
 *   BENCH_SURVEILLANCE_BATCH (500), no Task server (taskFhirUrl 'none': publishing Tasks is not what is
 *   measured), from the run's start to succeeded, with its phases (load = export read and staged; evaluation =
 *   the batches; finishing = counts and the audit record) and its RSS in each;
 * - two instances on one schema, one of them starting the run: every patient evaluated once (results counted
 *   against the cohort; each instance counts the batches and patients it evaluated), and the time beside one.
 *
 * Each reports its CPU time (process.cpuUsage: every thread of it), and PostgreSQL's is sampled from /proc while
 * a run goes on (when the server runs on this machine): a run cannot end before the two together, spread over
 * every core, which bounds what more threads could give on this machine (printed as a time and a ratio).
 *
 * Every child runs with the Node flags of `npm start` (the service's young generation capped: see README) and, as
 * every process that loads the surveillance, its heap growth setting (src/surveillance/service.ts).
 *
 * Targets: surveillance ≥ 0.5 × the parse rate; peak RSS < 400 MB and about the same at every size. Needs
 * DATABASE_URL (two instances share a queue only on PostgreSQL). Prints figures; passes or fails nothing.
 *
 * Diagnostics: BENCH_SURVEILLANCE_QUICK=1 (only the pairs: no in-memory ceiling, no two instances);
 * BENCH_SURVEILLANCE_CPU_PROF=DIR (each child writes a V8 CPU profile there);
 * BENCH_SURVEILLANCE_SQL=1 (each instance prints its SQL statements by total wall time, which includes the
 * instance's own event-loop delay); BENCH_SURVEILLANCE_NODE_FLAGS (Node flags for the children, e.g.
 * `--max-old-space-size=200`); BENCH_SURVEILLANCE_WORKERS (evaluation threads per instance).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { openAuditStore } from '../src/audit/store.ts';
import { runCli } from '../src/cli/main.ts';
import { loadSurveillanceConfig } from '../src/config/surveillance.ts';
import { resolveExposureConfig } from '../src/exposure/config.ts';
import { kickOff, ndjsonResources, waitForManifest } from '../src/fhir/bulkExport.ts';
import { noAuth } from '../src/fhir/fhirAuth.ts';
import { DEFAULT_FHIR_LIMITS } from '../src/fhir/patientRecords.ts';
import { createLogger } from '../src/log/logger.ts';
import type { PatientRecords } from '../src/screening/assess.ts';
import type { Queryable } from '../src/store/db.ts';
import { stagingOf } from '../src/surveillance/bulkSource.ts';
import { evaluatePatient } from '../src/surveillance/evaluate.ts';
import { Surveillance } from '../src/surveillance/service.ts';
import { emptyRecords, KEY_OF } from '../src/surveillance/stagedRecords.ts';
import { START_FLAGS } from '../tests/reliability/service.ts';

const SIZES = (process.env.BENCH_SURVEILLANCE_SIZES ?? '10000').split(',').map((s) => Number(s.trim()));
const BATCH_SIZE = Number(process.env.BENCH_SURVEILLANCE_BATCH ?? 500);
/**
 * Pairs of (parse, one instance) measured one after the other, so that each ratio compares runs made under the
 * same load of a shared machine (its parse rate alone varied 1.5× between runs of an hour); the median is the
 * figure, the range printed beside it.
 */
const REPEAT = Number(process.env.BENCH_SURVEILLANCE_REPEAT ?? 3);
if (!Number.isInteger(REPEAT) || REPEAT < 1)
  throw new Error(
    `BENCH_SURVEILLANCE_REPEAT must be a whole number of pairs, 1 or more (not "${process.env.BENCH_SURVEILLANCE_REPEAT}")`,
  );
/** BENCH_SURVEILLANCE_QUICK=1: only the pairs (no in-memory ceiling, no two instances), for trying a change. */
const QUICK = process.env.BENCH_SURVEILLANCE_QUICK === '1';
/** Evaluation worker threads per instance; by default what OSTEOWATCH_SURVEILLANCE_WORKERS defaults to here. */
const WORKERS = process.env.BENCH_SURVEILLANCE_WORKERS
  ? Number(process.env.BENCH_SURVEILLANCE_WORKERS)
  : (loadSurveillanceConfig({}).workers ?? 0);
const AS_OF = '2026-06-30';
/** The in-memory ceiling holds the whole cohort: measured up to this size. */
const IN_MEMORY_MAX = 20_000;
const NOW = new Date(`${AS_OF}T12:00:00Z`);
const SELF = new URL(import.meta.url).pathname;
const MB = 2 ** 20;

// ---- The Bulk Data server (parent process).

export interface BulkServer {
  /** The FHIR base, …/fhir. */
  base: string;
  close(): Promise<void>;
}

/**
 * `GET [base]/Group/[id]/$export` over the NDJSON files of `dir` (Bulk Data Access IG v2.0.0): kick-off 202 with
 * Content-Location, status 200 with the manifest (requiresAccessToken false), files streamed from disk, DELETE
 * 202. No authorization, no _type or _typeFilter handling: every file is in every export.
 */
export async function bulkServer(dir: string): Promise<BulkServer> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ndjson'));
  const jobs = new Map<string, string>();
  let origin = '';
  let next = 0;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', origin).pathname;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const notFound = () =>
      json(404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
    if (req.method === 'GET' && /^\/fhir\/Group\/[^/]+\/\$export$/.test(path)) {
      const id = String(++next);
      jobs.set(id, `${origin}${req.url}`);
      res.writeHead(202, { 'content-location': `${origin}/fhir/$export-status/${id}` });
      res.end();
      return;
    }
    const status = /^\/fhir\/\$export-status\/(\d+)$/.exec(path);
    if (status) {
      const request = jobs.get(status[1]!);
      if (!request) return notFound();
      if (req.method === 'DELETE') {
        jobs.delete(status[1]!);
        res.writeHead(202);
        res.end();
        return;
      }
      return json(200, {
        transactionTime: new Date().toISOString(),
        request,
        requiresAccessToken: false,
        output: files.map((f) => ({ type: f.slice(0, -'.ndjson'.length), url: `${origin}/files/${f}` })),
        error: [],
      });
    }
    const file = /^\/files\/([A-Za-z]+\.ndjson)$/.exec(path);
    if (req.method === 'GET' && file && files.includes(file[1]!)) {
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
      createReadStream(join(dir, file[1]!)).pipe(res);
      return;
    }
    notFound();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { base: `${origin}/fhir`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// ---- Child processes and what they report.

interface GenerateReport {
  ms: number;
  maxRssMb: number;
}
interface ParseReport {
  ms: number;
  /** CPU time of the process (every thread: the garbage collector's too) over the same span, ms. */
  cpuMs: number;
  resources: number;
  patients: number;
  maxRssMb: number;
}
/** The ceiling: the same files parsed into memory and every patient evaluated there, nothing stored. */
interface InMemoryReport {
  parseMs: number;
  evaluateMs: number;
  patients: number;
  maxRssMb: number;
}
/** One surveillance instance. Times are epoch ms (the instances share the machine's clock). */
interface SurveilReport {
  runId: string;
  status: string;
  /** When this instance started the run (the starting instance only). */
  startedAt?: number;
  /** The load, when this instance did it. */
  loadStartedAt?: number;
  loadEndedAt?: number;
  /** The finishing step, when this instance did it (counted by its calls of countsOf, run at finishing only). */
  finishStartedAt?: number;
  finishEndedAt?: number;
  finishings: number;
  batches: number;
  patients: number;
  maxRssMb: number;
  /**
   * CPU time of the process (every thread: evaluation workers and the garbage collector's too), ms, from the run's
   * start (the starting instance) or from ready (the others) to the run's end.
   */
  cpuMs: number;
  /** The largest RSS sampled (every 100 ms) before the run and in each phase, MB. */
  rss: { start: number; load: number; evaluation: number; finishing: number };
}
type Message = { type: 'ready' } | { type: 'report'; report: unknown };

interface Child {
  proc: ChildProcess;
  next<T>(type: Message['type']): Promise<T>;
  /** Resolves when the process has exited (a CPU profile is written on the way out). */
  exited: Promise<void>;
}

function child(role: string, env: Record<string, string>): Child {
  const profile = process.env.BENCH_SURVEILLANCE_CPU_PROF;
  const flags = [
    ...START_FLAGS,
    ...(process.env.BENCH_SURVEILLANCE_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${role}-${Date.now()}.cpuprofile`] : []),
  ];
  const proc = spawn(process.execPath, [...flags, SELF, role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: Message[] = [];
  const waiting: Array<() => void> = [];
  let exited: Error | undefined;
  proc.on('message', (m: Message) => {
    inbox.push(m);
    for (const w of waiting.splice(0)) w();
  });
  const done = new Promise<void>((resolve) =>
    proc.on('exit', (code, signal) => {
      exited = new Error(`bench ${role} process exited (${signal ?? code})`);
      for (const w of waiting.splice(0)) w();
      resolve();
    }),
  );
  return {
    proc,
    exited: done,
    async next<T>(type: Message['type']): Promise<T> {
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) {
          const [m] = inbox.splice(i, 1);
          return (m!.type === 'report' ? m!.report : undefined) as T;
        }
        if (exited) throw exited;
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
  };
}

const maxRssMb = () => process.resourceUsage().maxRSS / 1024;
const send = (m: Message) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

async function generateChild(): Promise<void> {
  const started = performance.now();
  const args = ['--size', process.env.BENCH_SIZE!, '--seed', '42', '--as-of', AS_OF];
  const code = await runCli([
    'cohort',
    'generate',
    ...args,
    '--format',
    'ndjson',
    '--split',
    '--out',
    process.env.BENCH_DIR!,
  ]);
  if (code !== 0) throw new Error(`cohort generate exited ${code}`);
  const report: GenerateReport = { ms: performance.now() - started, maxRssMb: maxRssMb() };
  await send({ type: 'report', report });
}

const cpuMsSince = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
};

async function parseChild(base: string): Promise<void> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const statusUrl = await kickOff({ fhirBaseUrl: base, groupId: 'bench', types: [], auth: noAuth });
  const manifest = await waitForManifest(statusUrl, { auth: noAuth, maxWaitSeconds: 60, retryAfterCapSeconds: 1 });
  let resources = 0;
  let patients = 0;
  for (const f of manifest.output)
    for await (const r of ndjsonResources(f.url, { auth: noAuth, requiresAccessToken: false })) {
      resources++;
      if (r.resourceType === 'Patient') patients++;
    }
  const report: ParseReport = {
    ms: performance.now() - started,
    cpuMs: cpuMsSince(cpu),
    resources,
    patients,
    maxRssMb: maxRssMb(),
  };
  await send({ type: 'report', report });
}

/**
 * Parse and evaluate with nothing between them: every record held in memory, grouped by patient as the bulk
 * source stages them (stagingOf: the type filter, the record's patient, its referenced Medications), then each
 * patient through evaluatePatient. No store, no batches, no worklist written: the fastest any surveillance over these
 * files could be with this engine on one thread, and a memory use no run could afford at 100,000 patients.
 */
async function inMemoryChild(base: string): Promise<void> {
  const started = performance.now();
  const statusUrl = await kickOff({ fhirBaseUrl: base, groupId: 'bench', types: [], auth: noAuth });
  const manifest = await waitForManifest(statusUrl, { auth: noAuth, maxWaitSeconds: 60, retryAfterCapSeconds: 1 });
  const byPatient = new Map<string, { records: PatientRecords; refs: Set<string> }>();
  const medications = new Map<string, Resource>();
  const patient = (id: string) => {
    let p = byPatient.get(id);
    if (!p) {
      p = { records: emptyRecords(), refs: new Set() };
      byPatient.set(id, p);
    }
    return p;
  };
  for (const f of manifest.output)
    for await (const r of ndjsonResources(f.url, { auth: noAuth, requiresAccessToken: false })) {
      const resource = r as unknown as Resource;
      if (resource.resourceType === 'Medication' && resource.id) medications.set(`Medication/${resource.id}`, resource);
      else if (resource.resourceType === 'Patient' && resource.id) patient(resource.id);
      else {
        // Where the load stages it (bulkSource.ts): the same records reach the same patients.
        const staging = stagingOf(r);
        if (!staging) continue;
        const p = patient(staging.patientId);
        p.records[KEY_OF[resource.resourceType]!]!.push(resource);
        if (staging.medication) p.refs.add(staging.medication);
      }
    }
  const parsed = performance.now();
  const exposure = resolveExposureConfig({});
  for (const [id, { records, refs }] of byPatient) {
    records.medications = [...refs].flatMap((ref) => medications.get(ref) ?? []);
    evaluatePatient(id, records, { asOf: AS_OF, exposure });
  }
  const report: InMemoryReport = {
    parseMs: parsed - started,
    evaluateMs: performance.now() - parsed,
    patients: byPatient.size,
    maxRssMb: maxRssMb(),
  };
  await send({ type: 'report', report });
}

/** SQL wall time by statement (BENCH_SURVEILLANCE_SQL), wrapped around the store's query and transactions. */
function timeSql(db: Queryable & { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }) {
  const times = new Map<string, { n: number; ms: number }>();
  const timed =
    (q: Queryable['query']): Queryable['query'] =>
    async (sql, params, options) => {
      const t = performance.now();
      try {
        return await q(sql, params, options);
      } finally {
        const k = sql.replace(/\s+/g, ' ').slice(0, 90);
        const e = times.get(k) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += performance.now() - t;
        times.set(k, e);
      }
    };
  db.query = timed(db.query.bind(db));
  const transaction = db.transaction.bind(db);
  db.transaction = (fn) => transaction((tx) => fn({ ...tx, query: timed(tx.query.bind(tx)) }));
  return () =>
    `  SQL wall time in instance ${process.pid}, by statement:\n${[...times]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 12)
      .map(([k, v]) => `    ${(v.ms / 1000).toFixed(2).padStart(7)} s ${String(v.n).padStart(6)} ×  ${k}`)
      .join('\n')}\n`;
}

/** One surveillance instance working the queue; BENCH_START=1: this one starts the run when told. */
async function surveilChild(base: string): Promise<void> {
  const env = process.env;
  const schema = env.BENCH_SCHEMA!;
  const store = await openAuditStore({ databaseUrl: env.DATABASE_URL!, schema });
  const sqlReport = env.BENCH_SURVEILLANCE_SQL ? timeSql(store.db) : undefined;
  const s = new Surveillance({
    config: {
      mode: 'bulk',
      fhirBaseUrl: base,
      groupId: 'bench',
      timezone: 'UTC',
      batchSize: BATCH_SIZE,
      heartbeatSeconds: 30,
      concurrency: 4,
      workers: WORKERS,
      exportWaitSeconds: 600,
      taskFhirUrl: 'none',
    },
    exposure: resolveExposureConfig({}),
    db: store.db,
    databaseUrl: env.DATABASE_URL,
    jobSchema: `${schema}_jobs`,
    audit: store.audit,
    defaultFhirBaseUrl: base,
    fhirLimits: DEFAULT_FHIR_LIMITS,
    now: () => NOW,
    work: true,
    logger: createLogger('warn', process.stderr),
  });
  // What this instance did, counted by wrapping the source and the runner of this process.
  const r: Omit<SurveilReport, 'runId' | 'status' | 'maxRssMb' | 'rss' | 'cpuMs'> = {
    finishings: 0,
    batches: 0,
    patients: 0,
  };
  const source = s.runner.d.source;
  const load = source.load.bind(source);
  source.load = async (run, o) => {
    r.loadStartedAt = Date.now();
    const cohort = await load(run, o);
    r.loadEndedAt = Date.now();
    return cohort;
  };
  const records = source.records.bind(source);
  source.records = (ids, run, batchNo) => {
    r.batches++;
    r.patients += ids.length;
    return records(ids, run, batchNo);
  };
  const store_ = s.runner.d.store;
  const countsOf = store_.countsOf.bind(store_);
  store_.countsOf = (runId) => {
    r.finishings++;
    return countsOf(runId);
  };
  const finishIfDone = s.runner.finishIfDone.bind(s.runner);
  // The calls in flight: the run is seen succeeded before the call that finished it has returned (its
  // transaction still committing), and the report waits for them.
  const finishCalls = new Set<Promise<boolean>>();
  s.runner.finishIfDone = (runId) => {
    const call = timedFinish(runId);
    finishCalls.add(call);
    call.finally(() => finishCalls.delete(call)).catch(() => undefined);
    return call;
  };
  const timedFinish = async (runId: string) => {
    const at = Date.now();
    const before = r.finishings;
    const done = await finishIfDone(runId);
    if (r.finishings > before) {
      r.finishStartedAt ??= at;
      r.finishEndedAt = Date.now();
    }
    return done;
  };
  await s.start();
  const samples: Array<[number, number]> = [];
  const sample = () => samples.push([Date.now(), process.memoryUsage().rss / MB]);
  sample();
  const sampler = setInterval(sample, 100);
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  let cpu = process.cpuUsage();
  await send({ type: 'ready' });
  let runId: string | undefined;
  if (env.BENCH_START === '1') {
    await go;
    cpu = process.cpuUsage();
    r.startedAt = Date.now();
    runId = await s.startRun('cli', AS_OF);
  }
  let status: string;
  for (;;) {
    // A light query (getRun counts the run's results each time), a few times a second.
    const [row] = await store.db.query<{ run_id: string; status: string; error: string | null }>(
      `select run_id, status, error from surveillance_runs where $1::text is null or run_id = $1 order by seq desc limit 1`,
      [runId ?? null],
    );
    runId ??= row?.run_id;
    if (row?.status === 'succeeded' || row?.status === 'failed') {
      status = row.status === 'failed' ? `failed: ${row.error}` : row.status;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await Promise.allSettled([...finishCalls]);
  const cpuMs = cpuMsSince(cpu);
  clearInterval(sampler);
  sample();
  const peakIn = (from = 0, to = Number.POSITIVE_INFINITY) =>
    Math.max(0, ...samples.filter(([t]) => t >= from && t <= to).map(([, v]) => v));
  const end = r.finishEndedAt ?? Date.now();
  const report: SurveilReport = {
    ...r,
    runId: runId!,
    status,
    maxRssMb: maxRssMb(),
    cpuMs,
    rss: {
      start: samples[0]![1],
      load: r.loadStartedAt ? peakIn(r.loadStartedAt, r.loadEndedAt) : 0,
      evaluation: peakIn(r.loadEndedAt ?? samples[0]![0], r.finishStartedAt ?? end),
      finishing: r.finishStartedAt ? peakIn(r.finishStartedAt, end) : 0,
    },
  };
  await s.stop();
  await store.close();
  if (sqlReport) process.stderr.write(sqlReport());
  await send({ type: 'report', report });
}

// ---- The benchmark (parent process).

interface Surveyed {
  reports: SurveilReport[];
  /** CPU time of this machine's PostgreSQL processes while the run went on, ms; undefined when it has none. */
  postgresCpuMs: number | undefined;
  /** Results stored for the run, distinct patients among them, worklist entries, audit records of the run. */
  results: number;
  distinct: number;
  worklist: number;
  auditRecords: number;
}

interface Row {
  size: number;
  resources: number;
  ndjsonMb: number;
  generate: GenerateReport;
  /** The pairs, each parse measured just before its one-instance run. */
  pairs: Array<{ parse: ParseReport; one: Surveyed }>;
  inMemory?: InMemoryReport;
  two?: Surveyed;
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks a second. */
const TICKS_PER_SECOND = 100;

/**
 * The CPU time this machine's PostgreSQL processes use from now to stop(), ms (undefined when none is seen: the
 * server runs elsewhere, or /proc cannot be read). Sampled every 100 ms from /proc/<pid>/stat (utime + stime), a
 * backend's time from its first sample (0 for one started meanwhile) to its last: what a backend used in the
 * last 100 ms before it exited is missed. The run's own share of the machine's PostgreSQL, in a bench that runs
 * nothing else on it.
 */
function postgresCpu(): { stop(): number | undefined } {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const notPostgres = new Set<string>();
  const ticksOf = (pid: string): number | undefined => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') return undefined;
      // After "pid (comm) ": state is field 3, utime 14 and stime 15.
      const fields = stat.slice(close + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  };
  let started = false;
  /** The CPU time of processes whose pid was taken by another since. */
  let carried = 0;
  const sample = () => {
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n) && !notPostgres.has(n));
    } catch {
      return;
    }
    for (const pid of pids) {
      const ticks = ticksOf(pid);
      if (ticks === undefined) {
        if (!last.has(pid)) notPostgres.add(pid);
        continue;
      }
      // A pid seen again with less CPU time is another process (the pid reused): counted from 0.
      const before = last.get(pid);
      if (!first.has(pid) || (before !== undefined && ticks < before)) {
        if (before !== undefined) carried += before - first.get(pid)!;
        first.set(pid, started ? 0 : ticks);
      }
      last.set(pid, ticks);
    }
    started = true;
  };
  sample();
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      if (!last.size) return undefined;
      let ticks = carried;
      for (const [pid, t] of last) ticks += t - first.get(pid)!;
      return (ticks / TICKS_PER_SECOND) * 1000;
    },
  };
}

async function surveil(base: string, url: string, instances: number): Promise<Surveyed> {
  const schema = `ow_survbench_${randomBytes(4).toString('hex')}`;
  // Migrated here, once, before the instances open it.
  const store = await openAuditStore({ databaseUrl: url, schema });
  const children: Child[] = [];
  try {
    const env = { BENCH_FHIR: base, BENCH_SCHEMA: schema, DATABASE_URL: url };
    for (let i = 0; i < instances; i++) {
      // One at a time, so that the queue's own schema is created by the first.
      const c = child('surveil', { ...env, BENCH_START: i === 0 ? '1' : '0' });
      await c.next('ready');
      children.push(c);
    }
    const postgres = postgresCpu();
    let reports: SurveilReport[];
    let postgresCpuMs: number | undefined;
    try {
      children[0]!.proc.send({ type: 'start' });
      reports = await Promise.all(children.map((c) => c.next<SurveilReport>('report')));
    } finally {
      postgresCpuMs = postgres.stop();
    }
    await Promise.all(children.map((c) => c.exited));
    const [q] = await store.db.query<Record<string, string>>(
      `select (select count(*) from surveillance_results where run_id = $1) as results,
              (select count(distinct patient_id) from surveillance_results where run_id = $1) as distinct_,
              (select count(*) from worklist_entries where run_id = $1) as worklist,
              (select count(*) from surveillance_run where run_id = $1) as audit`,
      [reports[0]!.runId],
    );
    return {
      reports,
      postgresCpuMs,
      results: Number(q!.results),
      distinct: Number(q!.distinct_),
      worklist: Number(q!.worklist),
      auditRecords: Number(q!.audit),
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
    await store.db.exec(`drop schema if exists ${schema} cascade; drop schema if exists ${schema}_jobs cascade`);
    await store.close();
  }
}

async function benchSize(size: number, url: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'ow-survbench-'));
  try {
    const generator = child('generate', { BENCH_SIZE: String(size), BENCH_DIR: dir });
    const generate = await generator.next<GenerateReport>('report');
    await generator.exited;
    const ndjsonMb = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0) / 1e6;
    const server = await bulkServer(dir);
    try {
      const pairs: Row['pairs'] = [];
      for (let i = 0; i < REPEAT; i++) {
        const parser = child('parse', { BENCH_FHIR: server.base });
        const parse = await parser.next<ParseReport>('report');
        await parser.exited;
        pairs.push({ parse, one: await surveil(server.base, url, 1) });
      }
      let inMemory: InMemoryReport | undefined;
      if (size <= IN_MEMORY_MAX && !QUICK) {
        const c = child('in-memory', { BENCH_FHIR: server.base });
        inMemory = await c.next<InMemoryReport>('report');
        await c.exited;
      }
      const two = QUICK ? undefined : await surveil(server.base, url, 2);
      return { size, resources: pairs[0]!.parse.resources, ndjsonMb, generate, pairs, inMemory, two };
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A run's phases, ms, from the reports of its instances. */
function phases(s: Surveyed) {
  const started = s.reports.find((r) => r.startedAt !== undefined)!.startedAt!;
  const loader = s.reports.find((r) => r.loadEndedAt !== undefined)!;
  const finisher = s.reports
    .filter((r) => r.finishStartedAt !== undefined)
    .sort((a, b) => a.finishStartedAt! - b.finishStartedAt!)[0]!;
  return {
    total: finisher.finishEndedAt! - started,
    load: loader.loadEndedAt! - loader.loadStartedAt!,
    evaluation: finisher.finishStartedAt! - loader.loadEndedAt!,
    finishing: finisher.finishEndedAt! - finisher.finishStartedAt!,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const CORES = availableParallelism();
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const perSec = (n: number, ms: number) => n / (ms / 1000);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** "0.41 (0.38–0.44)": the median, and the range when there is more than one. */
const spread = (xs: number[], f: (n: number) => string): string =>
  xs.length > 1 ? `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})` : f(xs[0]!);

const parseRate = (p: ParseReport) => perSec(p.patients, p.ms);
const ratioOf = (r: Row, pair: Row['pairs'][number]) => perSec(r.size, phases(pair.one).total) / parseRate(pair.parse);
/** The pair whose ratio is the median (the lower middle one of an even count): its phases are printed. */
const middlePair = (r: Row) =>
  [...r.pairs].sort((a, b) => ratioOf(r, a) - ratioOf(r, b))[Math.floor((r.pairs.length - 1) / 2)]!;

function print(rows: Row[]): void {
  const line = (label: string, cell: (r: Row) => string) =>
    console.log(`  ${label.padEnd(44)}${rows.map((r) => cell(r).padStart(30)).join('')}`);
  const each = (s: Surveyed, f: (r: SurveilReport) => string) => s.reports.map(f).join(' / ');
  const two = (f: (r: Row, s: Surveyed) => string) => (r: Row) => (r.two ? f(r, r.two) : 'not measured');
  line('patients', (r) => fmt(r.size));
  line('resources, NDJSON', (r) => `${fmt(r.resources)}, ${fmt(r.ndjsonMb)} MB`);
  line('cohort generate --split: time, peak RSS', (r) => `${sec(r.generate.ms)}, ${fmt(r.generate.maxRssMb)} MB`);
  line('pairs (parse, then 1 instance)', (r) => String(r.pairs.length));
  line('parse (ndjsonResources): patients/s', (r) =>
    spread(
      r.pairs.map((p) => parseRate(p.parse)),
      fmt,
    ),
  );
  line('  peak RSS', (r) => `${fmt(Math.max(...r.pairs.map((p) => p.parse.maxRssMb)))} MB`);
  line('  CPU time (every thread of the process)', (r) =>
    spread(
      r.pairs.map((p) => p.parse.cpuMs),
      sec,
    ),
  );
  const ceiling = (m: InMemoryReport) => perSec(m.patients, m.parseMs + m.evaluateMs);
  line('in memory, nothing stored: parse / evaluate', (r) =>
    r.inMemory ? `${sec(r.inMemory.parseMs)} / ${sec(r.inMemory.evaluateMs)}` : 'not measured',
  );
  line('  patients/s, ÷ median parse rate (ceiling)', (r) =>
    r.inMemory
      ? `${fmt(ceiling(r.inMemory))}, ${(ceiling(r.inMemory) / median(r.pairs.map((p) => parseRate(p.parse)))).toFixed(2)}`
      : QUICK
        ? 'not measured'
        : `above ${fmt(IN_MEMORY_MAX)} patients`,
  );
  line('  peak RSS', (r) => (r.inMemory ? `${fmt(r.inMemory.maxRssMb)} MB` : '–'));
  line('1 instance: run status', (r) => [...new Set(r.pairs.map((p) => p.one.reports[0]!.status))].join(', '));
  line('  run time (start → succeeded)', (r) =>
    spread(
      r.pairs.map((p) => phases(p.one).total),
      sec,
    ),
  );
  line('  load / evaluation / finishing (median run)', (r) => {
    const p = phases(middlePair(r).one);
    return `${sec(p.load)} / ${sec(p.evaluation)} / ${sec(p.finishing)}`;
  });
  line('  patients/s', (r) =>
    spread(
      r.pairs.map((p) => perSec(r.size, phases(p.one).total)),
      fmt,
    ),
  );
  line('  ÷ parse rate of its pair (target ≥ 0.5)', (r) =>
    spread(
      r.pairs.map((p) => ratioOf(r, p)),
      (n) => n.toFixed(2),
    ),
  );
  line('  peak RSS (target < 400 MB)', (r) =>
    spread(
      r.pairs.map((p) => p.one.reports[0]!.maxRssMb),
      (n) => `${fmt(n)} MB`,
    ),
  );
  line('  RSS start / load / eval. / finishing (median run)', (r) => {
    const m = middlePair(r).one.reports[0]!.rss;
    return [m.start, m.load, m.evaluation, m.finishing].map(fmt).join(' / ');
  });
  line('  worklist entries', (r) => [...new Set(r.pairs.map((p) => fmt(p.one.worklist)))].join(', '));
  // CPU time, the figure that tells what more cores could give: a run cannot end before its CPU time (its own
  // process and PostgreSQL's) spread over every core of the machine, whatever its threads.
  const cpuOf = (s: Surveyed) => s.reports[0]!.cpuMs + (s.postgresCpuMs ?? 0);
  const postgresCpuText = (s: Surveyed) =>
    s.postgresCpuMs === undefined ? 'not on this machine' : sec(s.postgresCpuMs);
  line('  CPU time, the instance / PostgreSQL (median run)', (r) => {
    const s = middlePair(r).one;
    return `${sec(s.reports[0]!.cpuMs)} / ${postgresCpuText(s)}`;
  });
  // The least run time that CPU time allows, every core busy throughout, and the ratio that would give: of the
  // same (median) run, so that the three lines add up.
  line(`    if all ${CORES} cores were busy: time, ratio`, (r) => {
    const p = middlePair(r);
    const floor = cpuOf(p.one) / CORES;
    return `${sec(floor)}, ${(perSec(r.size, floor) / parseRate(p.parse)).toFixed(2)}`;
  });
  line(
    '2 instances: run status',
    two((_, s) => s.reports[0]!.status),
  );
  line(
    '  run time (start → succeeded)',
    two((_, s) => sec(phases(s).total)),
  );
  line(
    '  patients/s (1 instance: above)',
    two((r, s) => fmt(perSec(r.size, phases(s).total))),
  );
  line(
    '  evaluation phase, 1 (median run) → 2 instances',
    two((r, s) => `${sec(phases(middlePair(r).one).evaluation)} → ${sec(phases(s).evaluation)}`),
  );
  line(
    '  batches A / B',
    two((_, s) => each(s, (x) => fmt(x.batches))),
  );
  line(
    '  patients evaluated A / B',
    two((_, s) => each(s, (x) => fmt(x.patients))),
  );
  line(
    '  results stored, distinct (cohort)',
    two((r, s) => `${fmt(s.results)}, ${fmt(s.distinct)} (${fmt(r.size)})`),
  );
  line(
    '  each patient evaluated once',
    two((r, s) =>
      s.results === r.size && s.distinct === r.size && s.reports.reduce((n, x) => n + x.patients, 0) === r.size
        ? 'yes'
        : 'NO',
    ),
  );
  line(
    '  finishing steps A / B, audit records',
    two((_, s) => `${each(s, (x) => String(x.finishings))}, ${s.auditRecords}`),
  );
  line(
    '  CPU time A / B / PostgreSQL',
    two((_, s) => `${each(s, (x) => sec(x.cpuMs))} / ${postgresCpuText(s)}`),
  );
  line(
    '  peak RSS A / B',
    two((_, s) => `${each(s, (x) => fmt(x.maxRssMb))} MB`),
  );
}

export async function runSurveillanceBench(): Promise<void> {
  const url = process.env.DATABASE_URL;
  console.log(
    `\nCohort surveillance, bulk mode: Bulk Data export from a local server, PostgreSQL store, batches of ${BATCH_SIZE}, ${WORKERS} evaluation worker(s) per instance, no Task server`,
  );
  if (!url) {
    console.log('  not run: needs PostgreSQL (DATABASE_URL); two instances share a queue only there');
    return;
  }
  const rows: Row[] = [];
  for (const size of SIZES) {
    const started = performance.now();
    rows.push(await benchSize(size, url));
    console.log(`  (${fmt(size)} patients measured in ${sec(performance.now() - started)})`);
  }
  print(rows);
  if (!process.env.BENCH_SURVEILLANCE_SIZES)
    console.log('  (BENCH_SURVEILLANCE_SIZES=10000,100000 adds 100,000 patients: about six minutes more)');
}

if (import.meta.main) {
  const role = process.argv[2];
  if (role) {
    // A child whose parent went away (an error there, Ctrl-C) stops rather than work on alone.
    process.on('disconnect', () => process.exit(1));
    if (role === 'generate') await generateChild();
    else if (role === 'parse') await parseChild(process.env.BENCH_FHIR!);
    else if (role === 'in-memory') await inMemoryChild(process.env.BENCH_FHIR!);
    else await surveilChild(process.env.BENCH_FHIR!);
  } else await runSurveillanceBench();
  process.exit(0);
}
