/**
 * REST under /surveillance: start a cohort surveillance run, its history, the worklist (JSON pages or the whole
 * of it as streamed CSV) and the auditor's question "who was due on that day". Every route needs a bearer token,
 * as the audit API does (auditRoutes.ts); without one the answer is 401 and nothing else.
 */
import { once } from 'node:events';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { AuditLog } from '../audit/auditLog.ts';
import { toCsv } from '../audit/csv.ts';
import { authorise, type BearerOptions, type Principal } from '../auth/bearer.ts';
import { OsteoWatchError, parseInput } from '../errors.ts';
import { WORKLIST_RULES, type WorklistChange, type WorklistRule } from '../screening/worklist.ts';
import { type DuePosition, dueOn, verifyRun } from '../surveillance/runAudit.ts';
import type { RunCounts, RunRow, RunStore, WorklistQuery, WorklistRow } from '../surveillance/runStore.ts';
import type { Surveillance } from '../surveillance/service.ts';
import type { RunView, WorklistEntry, WorklistPage } from '../surveillance/types.ts';
import { FHIR_ID } from '../terminology/fhirId.ts';
import { jsonBody } from './jsonBody.ts';

export type { RunView, WorklistEntry, WorklistPage } from '../surveillance/types.ts';

export const WORKLIST_CHANGES = ['new', 'still-due', 'resolved'] as const satisfies readonly WorklistChange[];

/** The worklist's CSV columns, in order. */
export const WORKLIST_CSV_COLUMNS = [
  'patientId',
  'rule',
  'change',
  'dueDate',
  'overdueFrom',
  'daysOverdue',
  'cumulativeMg',
  'lowerBound',
  'lastStudy',
  'taskRef',
  'taskError',
  'summary',
] as const satisfies ReadonlyArray<keyof WorklistRow>;

/** The CSV columns of "who was due on a day": the worklist's, with when each patient was scanned and by which run. */
export const DUE_CSV_COLUMNS = [...WORKLIST_CSV_COLUMNS, 'scannedOn', 'runId'] as const;

/** Rows per page when the CSV follows the keyset pages itself. */
const CSV_PAGE = 1000;

const date = z.iso.date({ error: 'must be a date YYYY-MM-DD' });
const runId = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: 'must be a surveillance run id' });

/** A comma-separated (or repeated) query parameter whose every value is one of `values`. */
function listOf<T extends string>(values: readonly T[]) {
  return z.union([z.string(), z.array(z.string())]).transform((v, ctx): T[] => {
    const items = (Array.isArray(v) ? v : [v])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
    if (!items.every((s) => (values as readonly string[]).includes(s))) {
      ctx.addIssue({ code: 'custom', message: `must be one or more of ${values.join(', ')}` });
      return z.NEVER;
    }
    return [...new Set(items)] as T[];
  });
}

const limit = (max: number, dflt: number) =>
  z.coerce
    .number({ error: `must be a whole number from 1 to ${max}` })
    .int({ error: `must be a whole number from 1 to ${max}` })
    .min(1, { error: `must be a whole number from 1 to ${max}` })
    .max(max, { error: `must be a whole number from 1 to ${max}` })
    .default(dflt);

const format = z.enum(['json', 'csv'], { error: 'must be json or csv' }).optional();

// Built once: zod schemas are not free to construct, and these run on every request.
const startBody = z
  .object(
    { asOf: date.optional() },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown member ${issue.keys.join(', ')} (only asOf)`
          : 'must be a JSON object',
    },
  )
  .strict();
const runsQuery = z.object({
  limit: limit(100, 20),
  // The history's keyset: the id of the last run of the previous page (the response's `next`).
  before: runId.optional(),
});
const worklistQuery = z.object({
  rule: listOf<WorklistRule>(WORKLIST_RULES).optional(),
  change: listOf<WorklistChange>(WORKLIST_CHANGES).optional(),
  patient: z.string().regex(FHIR_ID, { error: 'must be a patient id or the start of one' }).optional(),
  run: runId.optional(),
  limit: limit(1000, 100),
  cursor: z.string().max(400, { error: 'is not a cursor from this API' }).optional(),
  format,
});
const dueQuery = z.object({
  date,
  limit: limit(1000, 1000),
  cursor: z.string().max(600, { error: 'is not a cursor from this API' }).optional(),
  format,
});

/** The API's cursors: what the next page needs, as base64url JSON. */
const encodeCursorOf = (content: unknown) => Buffer.from(JSON.stringify(content)).toString('base64url');
const badCursor = () =>
  new OsteoWatchError('invalid', 'cursor: is not a cursor from this API', { expression: ['cursor'] });
/** What a cursor carries, still to be checked; a 400 naming the parameter when it is not base64url JSON. */
function cursorContent(cursor: string): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
}

/** The `next` of a "who was due" page: the day asked and where the store's answer goes on (DuePosition). */
const encodeDueCursor = (date: string, from: DuePosition) => encodeCursorOf({ date, ...from });
function decodeDueCursor(cursor: string, date: string): DuePosition {
  const c = dueCursor.safeParse(cursorContent(cursor));
  if (!c.success) throw badCursor();
  if (c.data.date !== date)
    throw new OsteoWatchError('invalid', `cursor: belongs to the answer for ${c.data.date}, not ${date}`, {
      expression: ['cursor'],
    });
  return { upToSeq: c.data.upToSeq, after: c.data.after };
}
// The store recomputes the runs from the day and upToSeq: a cursor cannot name runs of its own. The patient id is a
// bound parameter, whatever it holds (a stored id the API issued must come back accepted).
const dueCursor = z
  .object({
    date,
    upToSeq: z.number().int().nonnegative(),
    after: z.tuple([date, z.string().min(1).max(256), z.enum(WORKLIST_RULES), z.boolean()]),
  })
  .strict();

type Authed = Request & { principal?: Principal };

export interface SurveillanceRouteOptions {
  surveillance: Surveillance;
  auth: BearerOptions;
  /** Where the auditor's "due on" queries are recorded (who asked what). */
  audit?: AuditLog;
  now?: () => Date;
}

const IN_PROGRESS: ReadonlyArray<RunRow['status']> = ['loading', 'evaluating', 'finishing'];

export function runView(r: RunRow, now: Date, liveCounts?: RunCounts): RunView {
  const start = r.startedAt ? Date.parse(r.startedAt) : undefined;
  const end = r.finishedAt ? Date.parse(r.finishedAt) : IN_PROGRESS.includes(r.status) ? now.getTime() : undefined;
  return {
    runId: r.runId,
    trigger: r.trigger,
    status: r.status,
    asOf: r.asOf,
    mode: r.mode,
    fhirBase: r.fhirBase,
    rulesHash: r.rulesHash,
    transactionTime: r.transactionTime,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationSeconds: start !== undefined && end !== undefined ? Math.max(0, (end - start) / 1000) : null,
    progress: { done: r.done, total: r.total, batches: r.batches },
    counts: liveCounts ?? r.counts,
    errors: r.errors,
    loadIssues: r.loadIssues,
    error: r.error,
  };
}

/**
 * The run as runView shows it, with its counts so far while it is in progress: counts are written when a run
 * finishes. The API and the CLI's embedded client alike.
 */
export async function liveRunView(store: RunStore, r: RunRow, now: Date): Promise<RunView> {
  if (!IN_PROGRESS.includes(r.status)) return runView(r, now);
  // Progress from the same snapshot as the counts (a batch's results commit with its done mark).
  const live = await store.liveCountsOf(r.runId);
  return runView({ ...r, done: live.evaluated }, now, live.counts);
}

const entryView = ({ runId: _, ...e }: WorklistRow): WorklistEntry => e;

/** The worklist's filters and page, checked (`worklistParams`). */
export interface WorklistParams {
  run?: string;
  rule?: WorklistRule[];
  change?: WorklistChange[];
  patient?: string;
  limit: number;
  cursor?: string;
  format?: 'json' | 'csv';
}

/** Query parameters (or the CLI's options) checked: an `invalid` error naming the parameter otherwise. */
export const worklistParams = (input: unknown): WorklistParams => parseInput(worklistQuery, input);

/**
 * The API's worklist cursor: the store's keyset cursor with the run it pages, so that following `next` stays on
 * one run even when a newer run succeeds meanwhile.
 */
const encodeCursor = (run: string, after: string) => encodeCursorOf({ run, after });
function decodeCursor(cursor: string): { run: string; after: string } {
  const c = cursorContent(cursor) as { run?: unknown; after?: unknown } | null;
  if (!c || typeof c.run !== 'string' || typeof c.after !== 'string' || !runId.safeParse(c.run).success)
    throw badCursor();
  // The inner keyset cursor is the store's to read: it refuses one it cannot (never "from the start").
  return { run: c.run, after: c.after };
}

/** The store query of checked parameters; a run named (or carried by the cursor) must exist (404). */
async function storeQuery(store: RunStore, p: WorklistParams): Promise<{ query: WorklistQuery; after?: string }> {
  const cursor = p.cursor ? decodeCursor(p.cursor) : undefined;
  if (cursor && p.run && cursor.run !== p.run)
    throw new OsteoWatchError('invalid', 'cursor: belongs to another run than the one asked for', {
      expression: ['cursor'],
    });
  const run = cursor?.run ?? p.run;
  if (run && !(await store.getRun(run))) throw new OsteoWatchError('not-found', `No surveillance run ${run}`);
  return {
    query: { runId: run, rules: p.rule, changes: p.change, patient: p.patient, limit: p.limit },
    after: cursor?.after,
  };
}

/** One page of the worklist (JSON). */
export async function worklistPage(store: RunStore, p: WorklistParams): Promise<WorklistPage> {
  const { query, after } = await storeQuery(store, p);
  const page = await store.worklist({ ...query, cursor: after });
  const run = page.runId ? await store.getRun(page.runId) : undefined;
  return {
    runId: page.runId,
    runStatus: run?.status ?? null,
    asOf: run?.asOf ?? null,
    total: page.total,
    items: page.items.map(entryView),
    next: page.next && page.runId ? encodeCursor(page.runId, page.next) : null,
  };
}

/**
 * The whole worklist as CSV (RFC 4180, audit/csv.ts), from the cursor given or the start, whatever the page size:
 * the keyset pages are read one after the other, each written before the next is read, and all from the run
 * the first page came from. `chunks` yields the header first.
 */
export async function worklistCsv(
  store: RunStore,
  p: WorklistParams,
): Promise<{ runId: string | null; chunks: AsyncGenerator<string> }> {
  const { query, after } = await storeQuery(store, p);
  const first = await store.worklist({ ...query, limit: CSV_PAGE, cursor: after, total: false });
  const pinned = first.runId ?? undefined;
  const chunks = csvOfPages(WORKLIST_CSV_COLUMNS, { rows: first.items, next: pinned && first.next }, async (next) => {
    const page = await store.worklist({ ...query, runId: pinned, limit: CSV_PAGE, cursor: next, total: false });
    return { rows: page.items, next: page.next };
  });
  return { runId: first.runId, chunks };
}

/**
 * CSV (RFC 4180, audit/csv.ts) of keyset pages: the header first, then each page's rows, each page read only once
 * the one before has been taken.
 */
async function* csvOfPages<R extends object, N>(
  columns: ReadonlyArray<keyof R & string>,
  first: { rows: R[]; next?: N | null },
  read: (next: N) => Promise<{ rows: R[]; next?: N | null }>,
): AsyncGenerator<string> {
  const header = `${columns.join(',')}\r\n`;
  yield header;
  let page = first;
  for (;;) {
    if (page.rows.length) yield toCsv(page.rows, [...columns]).slice(header.length);
    if (!page.next) return;
    page = await read(page.next);
  }
}

/** Writes every chunk, then ends the response; stops when the client has gone. */
async function sendChunks(res: Response, chunks: AsyncIterable<string>): Promise<void> {
  for await (const chunk of chunks) if (!(await write(res, chunk))) return;
  res.end();
}

const wantsCsv = (req: Request, format: 'json' | 'csv' | undefined): boolean =>
  format === 'csv' || (!format && req.accepts(['application/json', 'text/csv']) === 'text/csv');

/** Writes, waiting for the socket when its buffer is full; false once the client has gone. */
async function write(res: Response, text: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  return !res.destroyed;
}

export function surveillanceRoutes(o: SurveillanceRouteOptions): Router {
  const router = express.Router();
  const now = o.now ?? (() => new Date());
  const store = o.surveillance.store;
  router.use(async (req: Authed, res: Response, next: NextFunction) => {
    const principal = await authorise(req.headers.authorization, o.auth).catch(() => undefined);
    if (!principal) {
      // RFC 6750 §3: a 401 names the scheme the client must use (https://www.rfc-editor.org/rfc/rfc6750#section-3).
      res.set('WWW-Authenticate', 'Bearer realm="osteowatch-surveillance"');
      throw new OsteoWatchError('unauthorized', 'Authentication required');
    }
    req.principal = principal;
    next();
  });
  router.use(jsonBody('16kb'));

  const view = (r: RunRow): Promise<RunView> => liveRunView(store, r, now());

  const mustGetRun = async (id: string): Promise<RunRow> => {
    const run = await store.getRun(id);
    if (!run) throw new OsteoWatchError('not-found', `No surveillance run ${id}`);
    return run;
  };

  router.post('/runs', async (req: Authed, res) => {
    const body = parseInput(startBody, req.body ?? {});
    const id = await o.surveillance.startRun('api', body.asOf);
    const run = await mustGetRun(id);
    res
      .status(202)
      .location(`${req.baseUrl}/runs/${encodeURIComponent(id)}`)
      .json(runView(run, now()));
  });

  router.get('/runs', async (req: Authed, res) => {
    const q = parseInput(runsQuery, req.query);
    if (q.before && !(await store.getRun(q.before)))
      throw new OsteoWatchError('not-found', `No surveillance run ${q.before}`);
    const runs = await store.listRuns(q.limit, q.before);
    res.json({
      // The run in progress (one at most) with its live counts, as GET /runs/{id} shows it.
      runs: await Promise.all(runs.map(view)),
      next: runs.length === q.limit ? runs[runs.length - 1]!.runId : null,
    });
  });

  // An operator ends a run nobody will finish (its instance gone, its settings changed): it refuses every other.
  router.post('/runs/:id/cancel', async (req: Authed, res) => {
    const run = await mustGetRun(String(req.params.id));
    if (!(await o.surveillance.cancel(run.runId, req.principal!.actor)))
      throw new OsteoWatchError('conflict', `run ${run.runId} has already ended (${run.status})`);
    res.json(await view(await mustGetRun(run.runId)));
  });

  // The run's worklist against its audit record's digest (the rows are append-only; this catches what got past).
  router.get('/runs/:id/verify', async (req: Authed, res) => {
    const run = await mustGetRun(String(req.params.id));
    res.json(await verifyRun(store, run.runId));
  });

  router.get('/runs/:id', async (req: Authed, res) => {
    res.json(await view(await mustGetRun(String(req.params.id))));
  });

  router.get('/worklist', async (req: Authed, res) => {
    const p = worklistParams(req.query);
    if (!wantsCsv(req, p.format)) {
      res.json(await worklistPage(store, p));
      return;
    }
    // Every matching row, page after page, never all in memory.
    const { runId: run, chunks } = await worklistCsv(store, p);
    res
      .status(200)
      .type('text/csv')
      .set('Content-Disposition', `attachment; filename="worklist${run ? `-${run.replace(/:/g, '')}` : ''}.csv"`);
    if (run) res.set('X-Surveillance-Run', run).set('X-Surveillance-Run-Status', (await store.getRun(run))!.status);
    await sendChunks(res, chunks);
  });

  router.get('/due', async (req: Authed, res) => {
    const q = parseInput(dueQuery, req.query);
    if (o.audit)
      await o.audit.recordAuditQuery({
        recordedAt: now().toISOString(),
        actor: req.principal!.actor,
        query: `surveillance: patients due on ${q.date}`,
      });
    // Each entry names its run (runId): on a day with several runs the answer is the union of their worklists.
    const from = q.cursor ? decodeDueCursor(q.cursor, q.date) : undefined;
    if (wantsCsv(req, q.format)) {
      // Every entry from the cursor (or the first), page after page, each written before the next is read.
      const first = await dueOn(store, q.date, { limit: CSV_PAGE, from, total: false });
      res
        .status(200)
        .type('text/csv')
        .set('Content-Disposition', `attachment; filename="due-${q.date}.csv"`)
        .set('X-Surveillance-Runs', first.runs.map((r) => r.runId).join(','))
        .set('X-Surveillance-Run-Day', first.runDay ?? '');
      const pageOf = (d: Awaited<ReturnType<typeof dueOn>>) => ({ rows: d.entries, next: d.next });
      await sendChunks(
        res,
        csvOfPages(DUE_CSV_COLUMNS, pageOf(first), async (next) =>
          pageOf(await dueOn(store, q.date, { limit: CSV_PAGE, from: next, total: false })),
        ),
      );
      return;
    }
    const { runs, runDay, entries, total, next } = await dueOn(store, q.date, { limit: q.limit, from });
    res.json({
      date: q.date,
      runDay,
      run: runs.length ? runView(runs[runs.length - 1]!, now()) : null,
      runs: runs.map((r) => runView(r, now())),
      total,
      entries,
      next: next ? encodeDueCursor(q.date, next) : null,
    });
  });
  return router;
}
