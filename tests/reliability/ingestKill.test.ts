/**
 * kill -9 during imaging findings ingest (POST /imaging/findings), against `node src/main.ts` in a child process,
 * on PGlite and on PostgreSQL (a database of its own). Findings documents for several demo patients are posted
 * concurrently, the service is killed with some in flight, and restarted on the same data directory / database:
 *  - every write-back that was acknowledged (2xx) is in the audit trail (write_back), once;
 *  - the hash chain verifies (`osteowatch audit verify`, and GET /audit/verify on the running service);
 *  - re-posting the same documents answers 2xx and duplicates nothing (a second re-post is `unchanged`, and the
 *    FHIR server holds one DiagnosticReport per study and one Observation per study, joint and side).
 * The FHIR side of the acknowledged writes cannot be checked across the kill: the demo FHIR server is in memory
 * and is lost on restart. What survives the kill is the audit trail, so that is where the acknowledged writes are
 * looked for; the FHIR side is checked for duplicates after the re-posts, on the restarted service.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openAuditStore } from '../../src/audit/store.ts';
import type { FindingsDocument } from '../../src/imaging/findingsDocument.ts';
import { FINDING_ID_SYSTEM, REPORT_ID_SYSTEM } from '../../src/imaging/toFhir.ts';
import { runOsteowatch } from '../helpers/cli.ts';
import { DOC } from '../helpers/findings.ts';
import { type Running, scratchDatabase, startService, stopGracefully } from './service.ts';

const PG = process.env.DATABASE_URL;
const INGEST_TOKEN = `ingest-${randomBytes(12).toString('hex')}`;
const AUDIT_TOKEN = `audit-${randomBytes(12).toString('hex')}`;
const ENV = { OSTEOWATCH_INGEST_TOKEN: INGEST_TOKEN, OSTEOWATCH_AUDIT_TOKEN: AUDIT_TOKEN };
/** The demo cohort's first patients (OSTEOWATCH_COHORT_SIZE 25 in startService): findings for each, interleaved. */
const PATIENTS = 6;
const ACKED_BEFORE_KILL = 12;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

type Location = { dataDir: string; databaseUrl?: string };
const start = (l: Location) => startService(l.dataDir, { databaseUrl: l.databaseUrl, env: ENV, children });

/** Document i: its own study, for demo patient (i mod PATIENTS). */
function doc(run: string, i: number): FindingsDocument {
  return {
    ...DOC,
    patient: `Patient/ow-${String((i % PATIENTS) + 1).padStart(4, '0')}`,
    studyInstanceUid: `2.25.${run}${String(i).padStart(5, '0')}`,
  };
}

async function post(url: string, d: FindingsDocument): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/imaging/findings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_TOKEN}` },
    body: JSON.stringify(d),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * Documents posted `concurrency` at a time until the service goes away (or `max`); `onAck` is told each
 * acknowledgement. Returns the studies answered 2xx, and every study sent (answered or not).
 */
async function ingestStream(
  url: string,
  docs: (i: number) => FindingsDocument,
  o: { concurrency: number; max: number; onAck: (n: number) => void },
): Promise<{ acked: string[]; sent: string[]; statuses: Map<number, number> }> {
  const acked: string[] = [];
  const sent: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  let dead = false;
  const worker = async () => {
    while (!dead && next < o.max) {
      const d = docs(next++);
      sent.push(d.studyInstanceUid);
      try {
        const r = await post(url, d);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 200 && r.status < 300) {
          acked.push(d.studyInstanceUid);
          o.onAck(acked.length);
        }
      } catch {
        dead = true; // killed: what was answered before is what counts
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { acked, sent, statuses };
}

/** write_back records by study, read from the store once the service has stopped. */
async function writeBacks(l: Location, studies: string[]): Promise<Map<string, number>> {
  const store = await openAuditStore(
    l.databaseUrl ? { databaseUrl: l.databaseUrl } : { dataDir: l.dataDir, inProcess: true },
  );
  try {
    const rows = await store.db.query<{ study_uid: string; n: number }>(
      'select study_uid, count(*)::int as n from write_back where study_uid = any($1::text[]) group by 1',
      [studies],
    );
    return new Map(rows.map((r) => [r.study_uid, r.n]));
  } finally {
    await store.close();
  }
}

async function verifyCli(l: Location): Promise<void> {
  const args = l.databaseUrl ? ['--database-url', l.databaseUrl] : ['--data-dir', l.dataDir];
  const { DATABASE_URL: _d, ...env } = process.env;
  const r = await runOsteowatch(['audit', 'verify', ...args], env as Record<string, string>);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

async function fhirTotal(url: string, query: string): Promise<number> {
  const b = (await (await fetch(`${url}/fhir/${query}&_summary=count`)).json()) as { total?: number };
  return b.total ?? -1;
}

async function killMidIngest(l: Location): Promise<void> {
  const run = String(Date.now());
  const first = await start(l);
  let killedAt = -1;
  const s = await ingestStream(first.url, (i) => doc(run, i), {
    concurrency: 4,
    max: 2000,
    onAck: (n) => {
      if (n >= ACKED_BEFORE_KILL && killedAt < 0) {
        killedAt = n;
        first.child.kill('SIGKILL');
      }
    },
  });
  await first.exited;
  process.stderr.write(`ingestKill: killed after ${s.acked.length} acknowledged of ${s.sent.length} sent\n`);
  expect(killedAt).toBeGreaterThan(0);
  expect(s.acked.length).toBeGreaterThanOrEqual(ACKED_BEFORE_KILL);
  // Every answer before the kill was a write (201 created): no refusals, no 5xx.
  expect([...s.statuses.keys()]).toEqual([201]);

  // Restart on the same data directory / database, stop it cleanly, then read the trail.
  const second = await start(l);
  expect(await stopGracefully(second)).toBe(0);
  process.stderr.write('ingestKill: restarted and stopped\n');
  const before = await writeBacks(l, s.sent);
  // Acknowledged → recorded, exactly once. A write in flight at the kill may be recorded (its answer was lost), once at most.
  expect(s.acked.filter((uid) => before.get(uid) !== 1)).toEqual([]);
  expect([...before.values()].filter((n) => n !== 1)).toEqual([]);
  await verifyCli(l);

  // Re-post every acknowledged document on a restarted service (whose demo FHIR server starts empty), twice.
  const third: Running = await start(l);
  const docs = s.acked.map((uid) => doc(run, Number(uid.slice(-5))));
  const again = await Promise.all(docs.map((d) => post(third.url, d)));
  expect(again.filter((r) => r.status !== 201 && r.status !== 200)).toEqual([]);
  process.stderr.write('ingestKill: re-posted once\n');
  const twice = await Promise.all(docs.map((d) => post(third.url, d)));
  expect(twice.map((r) => [r.status, r.body?.outcome]).filter(([st, o]) => st !== 200 || o !== 'unchanged')).toEqual(
    [],
  );
  // Nothing duplicated on the FHIR side (the demo cohort has reports of its own: ours are those with our identifiers).
  expect(await fhirTotal(third.url, `DiagnosticReport?identifier=${REPORT_ID_SYSTEM}|&_count=0`)).toBe(docs.length);
  expect(await fhirTotal(third.url, `Observation?identifier=${FINDING_ID_SYSTEM}|&_count=0`)).toBe(
    docs.length * DOC.sites.length,
  );
  const verified = await fetch(`${third.url}/audit/verify`, { headers: { authorization: `Bearer ${AUDIT_TOKEN}` } });
  expect(verified.status).toBe(200);
  expect(await verified.json()).toMatchObject({ ok: true });
  expect(await stopGracefully(third)).toBe(0);

  // Each re-post is a write-back of its own in the trail (two more per study); nothing else was added or lost.
  const after = await writeBacks(l, s.acked);
  expect(s.acked.filter((uid) => after.get(uid) !== 3)).toEqual([]);
  await verifyCli(l);
}

describe('kill -9 during imaging findings ingest (real processes)', { timeout: 240_000 }, () => {
  it('on PGlite: every acknowledged write-back is in the trail after restart, and re-posting duplicates nothing', async () => {
    await killMidIngest({ dataDir: mkdtempSync(join(tmpdir(), 'ow-ingest-')) });
  });

  describe.skipIf(!PG)('on PostgreSQL', () => {
    const drops: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const d of drops) await d().catch(() => undefined);
    });

    it('every acknowledged write-back is in the trail after restart, and re-posting duplicates nothing', async () => {
      const db = await scratchDatabase(PG!, 'ow_ingest_');
      drops.push(db.drop);
      await killMidIngest({ dataDir: mkdtempSync(join(tmpdir(), 'ow-ingest-')), databaseUrl: db.url });
    });
  });
});
