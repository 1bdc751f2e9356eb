/**
 * The /surveillance API over HTTP, over a real Surveillance (crawl mode, pg-boss on an in-memory PGlite store)
 * reading a small demo FHIR server and writing its Tasks there: a run started by POST and followed to the end,
 * the history, the worklist (filters, keyset paging, streamed CSV), the auditor's "due on" question, and the
 * refusals (401, 400, 404).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { liveRunView, type RunView } from '../../src/server/surveillanceRoutes.ts';
import { RunStore } from '../../src/surveillance/runStore.ts';
import type { Surveillance } from '../../src/surveillance/service.ts';
import { cohort, type SurveillanceApi, serveSurveillance, useTestBed, WALL_CLOCK } from '../surveillance/harness.ts';

const TOKEN = 'surveillance-api-token-0123456789';
const AS_OF = '2026-03-01';
const auth = { authorization: `Bearer ${TOKEN}` };

let apiServer: SurveillanceApi;
let store: AuditStore;
let surveillance: Surveillance;
let api = '';
let runId = '';
let finished: RunView;

async function get(path: string, headers: Record<string, string> = auth) {
  const res = await fetch(`${api}${path}`, { headers });
  const text = await res.text();
  return { res, text, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
}

interface Item {
  patientId: string;
  rule: string;
  change: string;
  dueDate: string | null;
}
const key = (i: Item) => `${i.patientId}:${i.rule}`;

const bed = useTestBed(() => ({ resources: cohort(20, 42, AS_OF), config: { batchSize: 5 }, extra: WALL_CLOCK }));
beforeAll(async () => {
  surveillance = bed.s;
  store = bed.db.store;
  apiServer = await serveSurveillance(surveillance, { token: TOKEN, audit: store.audit });
  api = apiServer.url;
});
afterAll(() => apiServer?.close());

describe('a run started through the API', () => {
  it('POST /surveillance/runs: 202 with Location, then the run is followed to success', async () => {
    const res = await fetch(`${api}/surveillance/runs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ asOf: AS_OF }),
    });
    expect(res.status).toBe(202);
    const run = (await res.json()) as RunView;
    runId = run.runId;
    expect(res.headers.get('location')).toBe(`/surveillance/runs/${encodeURIComponent(runId)}`);
    expect(run).toMatchObject({ trigger: 'api', asOf: AS_OF, mode: 'crawl' });
    expect(['queued', 'loading', 'evaluating']).toContain(run.status);

    const deadline = Date.now() + 90_000;
    let seen: RunView = run;
    while (Date.now() < deadline) {
      const r = await get(res.headers.get('location')!);
      expect(r.res.status).toBe(200);
      seen = r.body as RunView;
      if (seen.status === 'succeeded' || seen.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(seen.error).toBeNull();
    expect(seen.status).toBe('succeeded');
    finished = seen;
    expect(finished.progress.total).toBeGreaterThan(0);
    expect(finished.progress.done).toBe(finished.progress.total);
    expect(finished.progress.batches).toBe(Math.ceil(finished.progress.total! / 5));
    expect(finished.counts).toEqual(await surveillance.store.countsOf(runId));
    expect(finished.counts.inCohort).toBeGreaterThan(0);
    expect(finished.counts.errors).toBe(0);
    expect(finished.errors).toEqual([]);
    expect(finished.durationSeconds).toBeGreaterThanOrEqual(0);
    expect(finished.transactionTime).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(finished.rulesHash).toMatch(/^[0-9a-f]{16}$/);
  }, 120_000);

  it('GET /surveillance/runs: the history, newest first', async () => {
    const r = await get('/surveillance/runs?limit=5');
    expect(r.res.status).toBe(200);
    const runs = r.body.runs as RunView[];
    expect(runs[0]).toMatchObject({
      runId,
      status: 'succeeded',
      mode: 'crawl',
      fhirBase: finished.fhirBase,
      rulesHash: finished.rulesHash,
      transactionTime: finished.transactionTime,
      counts: finished.counts,
      errors: finished.errors,
      progress: finished.progress,
    });
    expect(runs[0]!.startedAt).not.toBeNull();
    expect(runs[0]!.finishedAt).not.toBeNull();
    // Keyset paging of the history: `before` the newest run gives the older ones, never it again.
    const before = await get(`/surveillance/runs?before=${encodeURIComponent(runs[0]!.runId)}`);
    expect(before.res.status).toBe(200);
    expect((before.body.runs as RunView[]).map((x) => x.runId)).not.toContain(runs[0]!.runId);
    expect((before.body.runs as RunView[]).map((x) => x.runId)).toEqual(runs.slice(1).map((x) => x.runId));
    const one = await get('/surveillance/runs?limit=1');
    expect(one.body.next).toBe(runs[0]!.runId);
    expect((await get('/surveillance/runs?before=no-such-run')).res.status).toBe(404);
  });

  it('GET /surveillance/worklist: the latest run, filtered by rule and change', async () => {
    const all = await get('/surveillance/worklist?limit=1000');
    expect(all.res.status).toBe(200);
    expect(all.body.runId).toBe(runId);
    // Which run, of which day, and whether it completed: a worklist asked for by run id may be a failed one's.
    expect(all.body).toMatchObject({ runStatus: 'succeeded', asOf: AS_OF });
    expect(all.body.next).toBeNull();
    const items = all.body.items as Item[];
    expect(items.length).toBeGreaterThan(0);
    // The first run has nothing to compare with: every entry is new.
    expect(new Set(items.map((i) => i.change))).toEqual(new Set(['new']));
    const c = finished.counts;
    expect(items.length).toBe(c.screeningDue! + c.followUpDue! + c.followUpOverdue! + c.findings! + c.unknownExposure!);

    const screening = await get('/surveillance/worklist?rule=screening-due&limit=1000');
    expect((screening.body.items as Item[]).length).toBe(c.screeningDue);
    expect((screening.body.items as Item[]).every((i) => i.rule === 'screening-due')).toBe(true);

    const followUp = await get('/surveillance/worklist?rule=follow-up-due,follow-up-overdue&limit=1000');
    expect((followUp.body.items as Item[]).length).toBe(c.followUpDue! + c.followUpOverdue!);

    const resolved = await get('/surveillance/worklist?change=resolved');
    expect(resolved.body.items).toEqual([]);

    const one = items[0]!;
    const byPatient = await get(`/surveillance/worklist?patient=${one.patientId}&run=${runId}`);
    expect((byPatient.body.items as Item[]).every((i) => i.patientId === one.patientId)).toBe(true);
    expect((byPatient.body.items as Item[]).length).toBeGreaterThan(0);
    // The patient prefix, case aside; the total counts what the filters match, on every page.
    const upper = await get(`/surveillance/worklist?patient=${one.patientId.toUpperCase()}&run=${runId}`);
    expect(upper.body.items).toEqual(byPatient.body.items);
    expect(upper.body.total).toBe((byPatient.body.items as Item[]).length);
    expect(all.body.total).toBe(items.length);
    expect((await get('/surveillance/worklist?limit=1')).body.total).toBe(items.length);

    // The clinic team's order: urgent (overdue follow-ups, findings) first, then routine; by due date within.
    const urgency = (i: Item) =>
      i.change === 'resolved' ? 2 : ['follow-up-overdue', 'findings'].includes(i.rule) ? 0 : 1;
    const order = items.map((i) => `${urgency(i)} ${i.dueDate ?? '9999-12-31'} ${i.patientId} ${i.rule}`);
    expect(order).toEqual(order.toSorted());
    expect(new Set(items.map(urgency)).size).toBe(2);
  });

  it('keyset paging: limit 2, following next to the end, gives every entry once', async () => {
    const all = ((await get('/surveillance/worklist?limit=1000')).body.items as Item[]).map(key);
    expect(all.length).toBeGreaterThan(4);
    const paged: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const r = await get(`/surveillance/worklist?limit=2${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
      expect(r.res.status).toBe(200);
      expect((r.body.items as Item[]).length).toBeLessThanOrEqual(2);
      paged.push(...(r.body.items as Item[]).map(key));
      next = r.body.next;
      pages++;
    } while (next && pages < 1000);
    expect(new Set(paged).size).toBe(paged.length);
    expect(paged).toEqual(all);
    expect(pages).toBe(Math.max(1, Math.ceil(all.length / 2)));
  });

  it('CSV: header and every row, by ?format=csv or Accept: text/csv', async () => {
    const all = (await get('/surveillance/worklist?limit=1000')).body.items as Item[];
    const r = await get('/surveillance/worklist?format=csv&limit=1');
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.res.headers.get('x-surveillance-run')).toBe(runId);
    expect(r.res.headers.get('x-surveillance-run-status')).toBe('succeeded');
    const lines = r.text.split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe(
      'patientId,rule,change,dueDate,overdueFrom,daysOverdue,cumulativeMg,lowerBound,lastStudy,taskRef,taskError,summary',
    );
    // ?limit is the JSON page size: the CSV holds every matching row.
    expect(lines.length - 2).toBe(all.length);
    expect(lines.slice(1, -1).map((l) => l.split(',').slice(0, 2).join(':'))).toEqual(all.map(key));
    const accept = await get('/surveillance/worklist?rule=screening-due', { ...auth, accept: 'text/csv' });
    expect(accept.res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(accept.text.split('\r\n').length - 2).toBe(finished.counts.screeningDue);
    expect(
      accept.text
        .split('\r\n')
        .slice(1, -1)
        .every((l) => l.split(',')[1] === 'screening-due'),
    ).toBe(true);
  });

  it('Tasks were written to the FHIR server for the open entries', async () => {
    const items = (await get('/surveillance/worklist?limit=1000')).body.items as Array<Item & { taskRef: string }>;
    expect(items.every((i) => /^Task\/.+/.test(i.taskRef))).toBe(true);
    expect(finished.counts.tasks).toBe(items.length);
  });

  it('GET /surveillance/due: who was due that day and when last scanned, recorded as an audit query', async () => {
    const r = await get(`/surveillance/due?date=${AS_OF}`);
    expect(r.res.status).toBe(200);
    expect(r.body.run.runId).toBe(runId);
    const all = (await get('/surveillance/worklist?limit=1000')).body.items as Item[];
    expect((r.body.entries as Item[]).map(key).sort()).toEqual(all.map(key).sort());
    expect(Object.keys(r.body.entries[0])).toEqual(
      expect.arrayContaining(['patientId', 'rule', 'dueDate', 'lastStudy']),
    );
    const earlier = await get('/surveillance/due?date=2000-01-01');
    expect(earlier.body).toEqual({
      date: '2000-01-01',
      runDay: null,
      run: null,
      runs: [],
      total: 0,
      entries: [],
      next: null,
    });
    // In pages: following `next` gives the whole answer, once each, in the first page's order.
    expect(r.body.total).toBe(r.body.entries.length);
    expect(r.body.next).toBeNull();
    const paged: Item[] = [];
    let url: string | null = `/surveillance/due?date=${AS_OF}&limit=3`;
    while (url) {
      const page = await get(url);
      expect(page.res.status).toBe(200);
      expect(page.body.total).toBe(r.body.total);
      paged.push(...(page.body.entries as Item[]));
      url = page.body.next ? `/surveillance/due?date=${AS_OF}&limit=3&cursor=${page.body.next}` : null;
    }
    expect(paged).toEqual(r.body.entries);
    const csv = await get(`/surveillance/due?date=${AS_OF}&format=csv`);
    expect(csv.res.headers.get('x-surveillance-runs')).toBe(runId);
    expect(csv.res.headers.get('x-surveillance-run-day')).toBe(AS_OF);
    expect(csv.text.split('\r\n')[0]).toBe(
      'patientId,rule,change,dueDate,overdueFrom,daysOverdue,cumulativeMg,lowerBound,lastStudy,taskRef,taskError,summary,scannedOn,runId',
    );
    // Every entry, one line each (the CSV reads the pages itself), in the JSON's order.
    const lines = csv.text.split('\r\n').slice(1, -1);
    expect(lines.length).toBe(r.body.entries.length);
    expect(lines.map((l) => l.split(',')[0])).toEqual((r.body.entries as Item[]).map((e) => e.patientId));
    const recorded = await store.db.query<{ actor: string; payload: { query: string } }>(
      `select actor, payload from audit_log where kind = 'audit-query' order by seq`,
    );
    // Each request is an access, each page too.
    const pages = Math.ceil(r.body.total / 3);
    expect(recorded.map((x) => [x.actor, x.payload.query])).toEqual([
      ['static-token', `surveillance: patients due on ${AS_OF}`],
      ['static-token', 'surveillance: patients due on 2000-01-01'],
      ...Array.from({ length: pages }, () => ['static-token', `surveillance: patients due on ${AS_OF}`]),
      ['static-token', `surveillance: patients due on ${AS_OF}`],
    ]);
  });
});

describe('refusals', () => {
  it('401 without a token, with WWW-Authenticate and an OperationOutcome', async () => {
    for (const path of ['/surveillance/runs', '/surveillance/worklist', `/surveillance/due?date=${AS_OF}`]) {
      const r = await get(path, {});
      expect(r.res.status).toBe(401);
      expect(r.res.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
      expect(r.body.resourceType).toBe('OperationOutcome');
    }
    const post = await fetch(`${api}/surveillance/runs`, { method: 'POST', headers: { authorization: 'Bearer nope' } });
    expect(post.status).toBe(401);
    const runs = await surveillance.store.listRuns(100);
    expect(runs.length).toBe(1);
  });

  /** An API cursor around a store cursor of our making, on the run of the test. */
  const forged = (after: unknown[]) =>
    Buffer.from(
      JSON.stringify({ run: runId, after: Buffer.from(JSON.stringify(after)).toString('base64url') }),
    ).toString('base64url');
  const dueCursor = (date: string, rule: string, extra: object = {}) =>
    Buffer.from(JSON.stringify({ date, upToSeq: 1, after: ['2026-01-01', 'p1', rule, false], ...extra })).toString(
      'base64url',
    );

  it('400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['/surveillance/worklist?rule=everything', 'rule'],
      ['/surveillance/worklist?rule=screening-due,bogus', 'rule'],
      ['/surveillance/worklist?change=old', 'change'],
      ['/surveillance/worklist?limit=0', 'limit'],
      ['/surveillance/worklist?limit=1001', 'limit'],
      ['/surveillance/worklist?limit=ten', 'limit'],
      ['/surveillance/worklist?cursor=garbage', 'cursor'],
      // Forged inner cursors: an urgency class out of range, a date that is not one (a 400, never a SQL error).
      [`/surveillance/worklist?cursor=${forged([9999999999, '2026-01-01', 'p', 'r', 'c'])}`, 'cursor'],
      [`/surveillance/worklist?cursor=${forged([0, 'not-a-date', 'p', 'r', 'c'])}`, 'cursor'],
      [`/surveillance/worklist?cursor=${forged([0, '2026-02-30x', 'p', 'r', 'c'])}`, 'cursor'],
      ['/surveillance/worklist?patient=%25', 'patient'],
      ['/surveillance/runs?limit=101', 'limit'],
      ['/surveillance/runs?before=not%20a%20run', 'before'],
      ['/surveillance/due', 'date'],
      ['/surveillance/due?date=2026-02-30', 'date'],
      ['/surveillance/due?date=01/03/2026', 'date'],
      [`/surveillance/due?date=${AS_OF}&cursor=garbage`, 'cursor'],
      [`/surveillance/due?date=${AS_OF}&limit=1001`, 'limit'],
      // A cursor of another day's answer, or one forged with a rule that is not one (a 400, never a SQL error).
      [`/surveillance/due?date=${AS_OF}&cursor=${dueCursor('2026-01-01', 'screening-due')}`, 'cursor'],
      [`/surveillance/due?date=${AS_OF}&cursor=${dueCursor(AS_OF, 'drop table')}`, 'cursor'],
      // Members it does not have (a run day of its own choosing), a negative position.
      [
        `/surveillance/due?date=${AS_OF}&cursor=${dueCursor(AS_OF, 'screening-due', { runDay: '2026-01-01' })}`,
        'cursor',
      ],
      [`/surveillance/due?date=${AS_OF}&cursor=${dueCursor(AS_OF, 'screening-due', { upToSeq: -1 })}`, 'cursor'],
    ];
    for (const [path, param] of cases) {
      const r = await get(path);
      expect(r.res.status, path).toBe(400);
      expect(r.body.resourceType).toBe('OperationOutcome');
      expect(r.body.issue[0].details.text, path).toMatch(new RegExp(`^${param}: `));
    }
    const bad = await fetch(`${api}/surveillance/runs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ asOf: 'tomorrow' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toMatch(
      /^asOf: /,
    );
    for (const [body, message] of [
      [{ foo: 1 }, 'unknown member foo (only asOf)'],
      [[1], 'must be a JSON object'],
    ] as const) {
      const r = await fetch(`${api}/surveillance/runs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toBe(
        message,
      );
    }
  });

  it('404 for a run that does not exist', async () => {
    const r = await get('/surveillance/runs/no-such-run');
    expect(r.res.status).toBe(404);
    expect(r.body.resourceType).toBe('OperationOutcome');
    const w = await get('/surveillance/worklist?run=no-such-run');
    expect(w.res.status).toBe(404);
  });
});

describe('runs go forward, one at a time', () => {
  const start = (body: unknown) =>
    fetch(`${api}/surveillance/runs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const text = async (res: Response) =>
    ((await res.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text;

  it('400 for a day after today; 409 for a day before the worklist’s (a run for 1800 would complete every Task)', async () => {
    const future = await start({ asOf: '2999-01-01' });
    expect(future.status).toBe(400);
    expect(await text(future)).toMatch(/after today/);
    const past = await start({ asOf: '1800-01-01' });
    expect(past.status).toBe(409);
    expect(await text(past)).toMatch(`before the current worklist's day (${AS_OF})`);
    // The body is read as FHIR JSON too (an integration engine's media type), never taken for no body at all: a
    // day after today sent as application/fhir+json is refused as such, not run for today; another media type is
    // refused (415) and starts nothing.
    const send = (type: string, body: string) =>
      fetch(`${api}/surveillance/runs`, { method: 'POST', headers: { ...auth, 'content-type': type }, body });
    const fhirJson = await send('application/fhir+json', JSON.stringify({ asOf: '2999-01-01' }));
    expect(fhirJson.status).toBe(400);
    expect(await text(fhirJson)).toMatch(/after today/);
    for (const [type, body] of [
      ['text/plain', JSON.stringify({ asOf: '2999-01-01' })],
      ['application/x-www-form-urlencoded', 'asOf=2999-01-01'],
    ] as const) {
      const refused = await send(type, body);
      expect(refused.status, type).toBe(415);
      expect(refused.headers.get('content-type')).toContain('application/fhir+json');
      expect(await text(refused)).toMatch(/^The request body must be application\/json or application\/fhir\+json/);
    }
    // Nothing was created, nothing changed: the worklist is still the first run's.
    expect((await get('/surveillance/runs?limit=100')).body.runs.map((r: RunView) => r.runId)).toEqual([runId]);
    expect((await get('/surveillance/worklist?limit=1')).body.runId).toBe(runId);
  });

  it('409 naming the run in progress for a second one started meanwhile; the first runs to its end', async () => {
    const first = await start({ asOf: AS_OF });
    expect(first.status).toBe(202);
    const active = (await first.json()) as RunView;
    const second = await start({});
    expect(second.status).toBe(409);
    expect(await text(second)).toMatch(`run ${active.runId} is in progress`);
    // The history shows the run in progress with its counts so far (not the empty counts of a run not finished).
    const listed = (await get('/surveillance/runs?limit=1')).body.runs[0] as RunView;
    expect(listed.runId).toBe(active.runId);
    expect(listed.counts).toHaveProperty('inCohort'); // counted live (liveRunView below) or, once done, stored
    const deadline = Date.now() + 90_000;
    let seen = active;
    while (Date.now() < deadline && seen.status !== 'succeeded' && seen.status !== 'failed') {
      await new Promise((resolve) => setTimeout(resolve, 250));
      seen = (await get(`/surveillance/runs/${encodeURIComponent(active.runId)}`)).body as RunView;
    }
    expect(seen.status).toBe('succeeded');
    expect((await get('/surveillance/runs?limit=100')).body.runs).toHaveLength(2);
  }, 120_000);
});

describe('cancelling a run', () => {
  it('ends a run in progress (who cancelled it said), 409 for one already ended, and the next run may start', async () => {
    const post = (path: string, body?: unknown) =>
      fetch(`${api}/surveillance${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
    const started = (await (await post('/runs', { asOf: AS_OF })).json()) as RunView;
    const cancelled = await post(`/runs/${encodeURIComponent(started.runId)}/cancel`);
    expect(cancelled.status).toBe(200);
    const run = (await cancelled.json()) as RunView;
    expect(run).toMatchObject({ runId: started.runId, status: 'failed' });
    expect(run.error).toMatch(/^cancelled by /);
    expect(run.finishedAt).not.toBeNull();
    const again = await post(`/runs/${encodeURIComponent(started.runId)}/cancel`);
    expect(again.status).toBe(409);
    expect((await post('/runs/no-such-run/cancel')).status).toBe(404);
    // Its jobs find it ended: it stays cancelled, and the next run is not refused.
    const next = await post('/runs', { asOf: AS_OF });
    expect(next.status).toBe(202);
    const deadline = Date.now() + 90_000;
    let seen = (await next.json()) as RunView;
    while (Date.now() < deadline && seen.status !== 'succeeded' && seen.status !== 'failed') {
      await new Promise((resolve) => setTimeout(resolve, 250));
      seen = (await get(`/surveillance/runs/${encodeURIComponent(seen.runId)}`)).body as RunView;
    }
    expect(seen.status).toBe('succeeded');
    expect((await get(`/surveillance/runs/${encodeURIComponent(started.runId)}`)).body).toMatchObject({
      status: 'failed',
      error: run.error,
    });
  }, 120_000);
});

describe('a run in progress as the API shows it (liveRunView)', () => {
  it('counts what its completed batches stored; a run ended shows the counts it was written with', async () => {
    const db = await openAuditStore({ memory: true });
    try {
      const runs = new RunStore(db.db);
      const now = new Date('2026-03-01T08:00:00Z');
      await runs.createRun({
        runId: 'r-live',
        trigger: 'api',
        mode: 'crawl',
        fhirBase: 'http://ehr.example/fhir',
        asOf: AS_OF,
        rulesHash: 'h',
        now,
      });
      await runs.update('r-live', { status: 'evaluating', startedAt: now, total: 3, batches: 2 });
      await runs.saveBatches('r-live', [['p1', 'p2'], ['p3']]);
      const stored = await runs.getRun('r-live');
      // Nothing evaluated yet: every count is zero, not missing.
      expect((await liveRunView(runs, stored!, now)).counts).toMatchObject({ inCohort: 0, errors: 0 });
      await runs.completeBatch(
        'r-live',
        0,
        [
          { patientId: 'p1', decision: 'screening-due', cumulativeMg: 3650, lowerBound: false },
          { patientId: 'p2', decision: 'not-in-cohort', cumulativeMg: null, lowerBound: false },
        ],
        [],
        now,
      );
      // A run read before the batch committed (the API's read of the run, then of its counts): the progress
      // shown is of the counts' snapshot, so "2 of 3" never sits beside counts of 0.
      const live = await liveRunView(runs, stored!, now);
      expect(stored!.done).toBe(0);
      expect(live.progress.done).toBe(2);
      expect(live.status).toBe('evaluating');
      expect(live.counts).toEqual(await runs.countsOf('r-live'));
      expect(live.counts).toMatchObject({ inCohort: 1, errors: 0 });
      // Ended: the counts written with it, not recounted.
      await runs.cancel('r-live', 'test', now);
      const ended = (await runs.getRun('r-live'))!;
      expect((await liveRunView(runs, ended, now)).counts).toEqual(ended.counts);
    } finally {
      await db.close();
    }
  });
});
