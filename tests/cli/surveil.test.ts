/**
 * `osteowatch surveil run|runs` and `osteowatch worklist` as a user runs them (the real launcher, a child process):
 * against the embedded store directory, reading a small demo FHIR server by crawl, and against a running service's
 * /surveillance API with --url.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditStore } from '../../src/audit/store.ts';
import { WORKLIST_RULES } from '../../src/screening/worklist.ts';
import { type RunView, WORKLIST_CHANGES } from '../../src/server/surveillanceRoutes.ts';
import { RunStore } from '../../src/surveillance/runStore.ts';
import type { Surveillance } from '../../src/surveillance/service.ts';
import { runOsteowatch } from '../helpers/cli.ts';
import type { RunningServer } from '../helpers/server.ts';
import {
  cohort,
  demoServer,
  type EngineStore,
  engines,
  type SurveillanceApi,
  serveSurveillance,
  surveillanceFor,
  WALL_CLOCK,
} from '../surveillance/harness.ts';

const AS_OF = '2026-03-01';
const HEADER =
  'patientId,rule,change,dueDate,overdueFrom,daysOverdue,cumulativeMg,lowerBound,lastStudy,taskRef,taskError,summary';
const dir = mkdtempSync(join(tmpdir(), 'osteowatch-surveil-cli-'));
let fhirServer: RunningServer;
let fhir = '';
let env: Record<string, string> = {};
const due = (c: RunView['counts']) =>
  c.screeningDue! + c.followUpDue! + c.followUpOverdue! + c.findings! + c.unknownExposure!;

beforeAll(async () => {
  fhirServer = await demoServer(cohort(20, 42, AS_OF));
  fhir = fhirServer.fhirUrl;
  env = {
    OSTEOWATCH_DATA_DIR: dir,
    DATABASE_URL: '',
    OSTEOWATCH_URL: '',
    OSTEOWATCH_AUDIT_TOKEN: '',
    OSTEOWATCH_SURVEILLANCE_FHIR_URL: fhir,
    OSTEOWATCH_SURVEILLANCE_MODE: 'crawl',
    OSTEOWATCH_SURVEILLANCE_BATCH_SIZE: '5',
    OSTEOWATCH_SURVEILLANCE_HEARTBEAT_SECONDS: '10',
  };
}, 60_000);

afterAll(async () => {
  await fhirServer?.close();
});

describe('osteowatch surveil (embedded store)', () => {
  let run: RunView;

  it('surveil run --json: runs to the end and prints the counts the store holds', async () => {
    const r = await runOsteowatch(['surveil', 'run', '--json', '--as-of', AS_OF], env);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    run = JSON.parse(r.stdout) as RunView;
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'cli', asOf: AS_OF, mode: 'crawl', fhirBase: fhir });
    expect(run.progress.done).toBe(run.progress.total);
    expect(run.counts.inCohort).toBeGreaterThan(0);
    expect(due(run.counts)).toBeGreaterThan(0);
    const store = await openAuditStore({ dataDir: dir });
    try {
      const runs = new RunStore(store.db);
      expect(run.counts).toEqual(await runs.countsOf(run.runId));
      expect((await runs.getRun(run.runId))?.status).toBe('succeeded');
      // The run is in the audit trail.
      const audited = await store.db.query(`select run_id from surveillance_run where run_id = $1`, [run.runId]);
      expect(audited.length).toBe(1);
    } finally {
      await store.close();
    }
  }, 180_000);

  it('surveil runs lists it, as a table and as JSON', async () => {
    const t = await runOsteowatch(['surveil', 'runs'], env);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(new RegExp(`${run.runId}\\s+cli\\s+succeeded\\s+${AS_OF}`));
    const j = await runOsteowatch(['surveil', 'runs', '--json', '--limit', '1'], env);
    expect(j.code).toBe(0);
    const runs = JSON.parse(j.stdout).runs as RunView[];
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ runId: run.runId, status: 'succeeded', counts: run.counts });
    // A full page names the next one; --before pages back through the history.
    expect(JSON.parse(j.stdout).next).toBe(run.runId);
    const older = await runOsteowatch(['surveil', 'runs', '--json', '--before', run.runId], env);
    expect(older.code).toBe(0);
    expect(JSON.parse(older.stdout)).toEqual({ runs: [], next: null });
    const unknown = await runOsteowatch(['surveil', 'runs', '--before', 'no-such-run'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no surveillance run no-such-run/);
  }, 60_000);

  it("surveil verify: the run's worklist against its audit record's digest", async () => {
    const v = await runOsteowatch(['surveil', 'verify', run.runId], env);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(
      new RegExp(
        `^Run ${run.runId} is what its audit record says: ${due(run.counts)} worklist entries, sha256 [0-9a-f]{64}; its day, rules, status and counts\\n$`,
      ),
    );
    const j = await runOsteowatch(['surveil', 'verify', run.runId, '--json'], env);
    expect(JSON.parse(j.stdout)).toMatchObject({ runId: run.runId, ok: true, now: { entries: due(run.counts) } });
    const unknown = await runOsteowatch(['surveil', 'verify', 'no-such-run'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no surveillance run no-such-run/);
  }, 60_000);

  it('worklist --csv prints every entry; --rule and --json filter and page', async () => {
    const c = await runOsteowatch(['worklist', '--csv', '--limit', '1'], env);
    expect(c.code).toBe(0);
    const lines = c.stdout.split('\r\n');
    expect(lines[0]).toBe(HEADER);
    expect(lines.at(-1)).toBe('');
    expect(lines.length - 2).toBe(due(run.counts));

    const j = await runOsteowatch(['worklist', '--rule', 'screening-due', '--json', '--limit', '1000'], env);
    expect(j.code).toBe(0);
    const page = JSON.parse(j.stdout) as { runId: string; items: Array<{ rule: string }>; next: string | null };
    expect(page.runId).toBe(run.runId);
    expect(page.items.length).toBe(run.counts.screeningDue);
    expect(page.items.every((i) => i.rule === 'screening-due')).toBe(true);
    expect(page.next).toBeNull();

    const t = await runOsteowatch(['worklist', '--limit', '2'], env);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain(`Worklist of run ${run.runId}`);
    expect(t.stdout).toMatch(/\(more: --cursor \S+\)/);
    const cursor = /--cursor (\S+)\)/.exec(t.stdout)![1]!;
    const second = await runOsteowatch(['worklist', '--limit', '2', '--cursor', cursor, '--json'], env);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).items).toHaveLength(2);
  }, 60_000);

  it('bad options: exit 2 with a message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['worklist', '--rule', 'bogus'], /--rule must be one or more of screening-due/],
      [['worklist', '--change', 'old'], /--change must be one or more of new, still-due, resolved/],
      [['worklist', '--limit', '0'], /--limit must be a whole number from 1 to 1000/],
      [['surveil', 'runs', '--limit', '500'], /--limit must be a whole number from 1 to 100/],
      [['surveil', 'run', '--as-of', 'tomorrow'], /--as-of must be a calendar date YYYY-MM-DD/],
      [['surveil', 'run', '--bogus'], /unknown option '--bogus'/],
      [['surveil', 'runs', '--url', 'http://127.0.0.1:9'], /--url needs --token/],
      // A URL that is none is the option's fault, said before anything is sent (also for audit, hook, ingest).
      [['surveil', 'runs', '--url', 'not-a-url', '--token', 'x'.repeat(16)], /--url "not-a-url" is not a URL/],
      [['surveil', 'runs', '--url', 'ftp://h', '--token', 'x'.repeat(16)], /--url "ftp:\/\/h" is not an http\(s\) URL/],
      [['audit', 'verify', '--url', 'not-a-url', '--token', 'x'.repeat(16)], /--url "not-a-url" is not a URL/],
    ];
    for (const [args, message] of cases) {
      const r = await runOsteowatch(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    // The help names every rule and change the option takes (from the lists the API checks against).
    const help = await runOsteowatch(['worklist', '--help'], env);
    for (const value of [...WORKLIST_RULES, ...WORKLIST_CHANGES]) expect(help.stdout).toContain(value);
    const badEnv = await runOsteowatch(['surveil', 'run'], { ...env, OSTEOWATCH_SURVEILLANCE_MODE: 'sideways' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('OSTEOWATCH_SURVEILLANCE_MODE must be crawl or bulk');
    // Bulk mode against a FHIR server of one's own names no Group: a configuration error, not an unexpected one.
    const noGroup = await runOsteowatch(['surveil', 'run'], { ...env, OSTEOWATCH_SURVEILLANCE_MODE: 'bulk' });
    expect(noGroup.code).toBe(2);
    expect(noGroup.stderr).toBe(
      'osteowatch: OSTEOWATCH_SURVEILLANCE_GROUP_ID is required in bulk mode (the Group to export; or OSTEOWATCH_SURVEILLANCE_MODE=crawl)\n',
    );
  }, 120_000);

  it('a data directory held by a running service: a clear message that suggests --url', async () => {
    const store = await openAuditStore({ dataDir: dir });
    try {
      const r = await runOsteowatch(['surveil', 'runs'], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/in use by process \d+.*--url/);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('osteowatch surveil run after an interrupted one (embedded store)', () => {
  it('resumes the run left in progress (Ctrl-C, a killed process) and follows it to its end', async () => {
    // A run of this command's settings, loaded and one batch in, whose process went away.
    const left = mkdtempSync(join(tmpdir(), 'osteowatch-surveil-left-'));
    const store = await openAuditStore({ dataDir: left });
    let runId = '';
    let total = 0;
    try {
      const s = surveillanceFor(
        fhirServer,
        { store },
        { batchSize: 5, workers: 0, taskFhirUrl: 'none' },
        {
          work: false,
        },
      );
      ({ runId } = await s.runner.create({ trigger: 'cli', asOf: AS_OF }));
      const batches = await s.runner.load(runId);
      expect(batches.length).toBeGreaterThan(1);
      await s.runner.batch(runId, batches[0]!);
      const run = (await s.run(runId))!;
      expect(run.status).toBe('evaluating');
      expect(run.done).toBe(5);
      total = run.total!;
    } finally {
      await store.close();
    }
    const r = await runOsteowatch(['surveil', 'run', '--json'], {
      ...env,
      OSTEOWATCH_DATA_DIR: left,
      OSTEOWATCH_TASK_FHIR_URL: 'none',
    });
    expect(r.stderr).toMatch(new RegExp(`^osteowatch: resuming run ${runId} \\(as of ${AS_OF}, evaluating, started `));
    expect(r.code).toBe(0);
    const done = JSON.parse(r.stdout) as RunView;
    expect(done.runId).toBe(runId);
    expect(done.status).toBe('succeeded');
    expect(done.progress.done).toBe(total);
    const listed = await runOsteowatch(['surveil', 'runs', '--json'], { ...env, OSTEOWATCH_DATA_DIR: left });
    expect(JSON.parse(listed.stdout).runs).toHaveLength(1);
  }, 180_000);
});

describe('osteowatch surveil cancel (embedded store)', () => {
  it('ends a run nobody will finish, saying who; exit 1 for one already ended or unknown', async () => {
    // A run left in progress by an instance that is gone for good (killed, its settings changed).
    const stuck = mkdtempSync(join(tmpdir(), 'osteowatch-surveil-stuck-'));
    const store = await openAuditStore({ dataDir: stuck });
    try {
      const runs = new RunStore(store.db);
      const created = await runs.createRun({
        runId: 'run-left-behind',
        trigger: 'schedule',
        mode: 'bulk',
        fhirBase: fhir,
        asOf: AS_OF,
        rulesHash: 'rules-of-a-former-release',
        now: new Date(),
      });
      expect(created).toBe(true);
      expect(await runs.update('run-left-behind', { status: 'evaluating' })).toBe(true);
    } finally {
      await store.close();
    }
    const e = { ...env, OSTEOWATCH_DATA_DIR: stuck };
    const r = await runOsteowatch(['surveil', 'cancel', 'run-left-behind'], e);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Surveillance run run-left-behind failed /);
    expect(r.stdout).toMatch(/Failed: cancelled by cli \(\S+\)/);
    const again = await runOsteowatch(['surveil', 'cancel', 'run-left-behind'], e);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/run run-left-behind has already ended \(failed\)/);
    const unknown = await runOsteowatch(['surveil', 'cancel', 'no-such-run'], e);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no surveillance run no-such-run/);
    const listed = await runOsteowatch(['surveil', 'runs', '--json'], e);
    expect(JSON.parse(listed.stdout).runs).toEqual([
      expect.objectContaining({ runId: 'run-left-behind', status: 'failed', finishedAt: expect.any(String) }),
    ]);
  }, 120_000);
});

describe('osteowatch surveil run: a run that fails', () => {
  it('exit 1 with the reason when the FHIR server cannot be read', async () => {
    const down = mkdtempSync(join(tmpdir(), 'osteowatch-surveil-down-'));
    const r = await runOsteowatch(['surveil', 'run', '--json'], {
      ...env,
      OSTEOWATCH_DATA_DIR: down,
      OSTEOWATCH_SURVEILLANCE_FHIR_URL: 'http://127.0.0.1:9/fhir',
    });
    expect(r.code).toBe(1);
    // The server named, with the network's reason (not the HTTP client's bare "fetch failed").
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(
        /^the cohort could not be read: http:\/\/127\.0\.0\.1:9\/fhir could not be reached: \w/,
      ),
    });
    expect(JSON.parse(r.stdout).error).not.toMatch(/fetch failed/);
    expect(r.stderr).toMatch(/surveillance run \S+ failed: the cohort could not be read/);
  }, 120_000);
});

describe('osteowatch surveil --url (a running service)', () => {
  const token = 'surveil-cli-remote-token-0123456789';
  let db: EngineStore;
  let surveillance: Surveillance;
  let api: SurveillanceApi;
  let url = '';
  beforeAll(async () => {
    db = await engines()[0]!.open();
    surveillance = surveillanceFor(fhirServer, db, { batchSize: 5 }, WALL_CLOCK);
    await surveillance.start();
    api = await serveSurveillance(surveillance, { token });
    url = api.url;
  }, 120_000);
  afterAll(async () => {
    await surveillance?.stop();
    await api?.close();
    await db?.dispose();
  }, 60_000);

  it('surveil run, runs and worklist through the API', async () => {
    const remote = { ...env, OSTEOWATCH_URL: url, OSTEOWATCH_AUDIT_TOKEN: token };
    const r = await runOsteowatch(['surveil', 'run', '--as-of', AS_OF], remote);
    expect(r.code).toBe(0);
    const id = /^Surveillance run (\S+) succeeded/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    const stored = await surveillance.run(id!);
    expect(stored?.trigger).toBe('api');
    expect(r.stdout).toMatch(new RegExp(`In cohort\\s+${stored!.counts.inCohort}\\b`));
    expect(r.stdout).toMatch(new RegExp(`Screening due\\s+${stored!.counts.screeningDue}\\b`));

    const runs = await runOsteowatch(['surveil', 'runs', '--json'], remote);
    expect(JSON.parse(runs.stdout).runs[0].runId).toBe(id);
    const verified = await runOsteowatch(['surveil', 'verify', id!, '--json'], remote);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ runId: id, ok: true });

    const csv = await runOsteowatch(['worklist', '--csv', '--rule', 'screening-due,follow-up-overdue'], remote);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.split('\r\n');
    expect(lines[0]).toBe(HEADER);
    expect(lines.length - 2).toBe(stored!.counts.screeningDue! + stored!.counts.followUpOverdue!);
  }, 180_000);

  it('a wrong token and an unknown run are clear errors', async () => {
    const bad = await runOsteowatch(['surveil', 'runs', '--url', url, '--token', 'nope-nope-nope-nope'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('refused the token (401)');
    const missing = await runOsteowatch(['worklist', '--run', 'no-such-run', '--url', url, '--token', token], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No surveillance run no-such-run');
  }, 60_000);
});
