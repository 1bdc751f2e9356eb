/**
 * Nothing acknowledged is lost, provoked for real against `npm start` in a child process: kill -9 in the
 * middle of a hook stream (PGlite and PostgreSQL), SIGTERM right after load, PostgreSQL connections
 * terminated mid-stream. Every call answered 200 must be in the audit trail afterwards, and
 * `osteowatch audit verify` must pass. Slow (each test starts the service twice): tests/reliability/.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { journalDir } from '../../src/audit/journal.ts';
import { openAuditStore } from '../../src/audit/store.ts';
import { readDemoClientKey, signClientJwt } from '../../src/cdsHooks/demoClient.ts';
import { runOsteowatch } from '../helpers/cli.ts';
import { type Running, scratchDatabase as scratchDb, startService, stopGracefully } from './service.ts';

const PG = process.env.DATABASE_URL;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** main.ts started on `dataDir` (and `databaseUrl`), killed after the test if still running. */
const start = (dataDir: string, databaseUrl?: string): Promise<Running> =>
  startService(dataDir, { databaseUrl, children });

/**
 * Signed patient-view calls, `concurrency` at a time, until `stop()` says so or the service goes away.
 * Returns the hookInstances answered 200 (acknowledged) and other statuses seen.
 */
async function stream(
  url: string,
  dataDir: string,
  opts: { concurrency: number; until: (acked: number) => boolean; max?: number },
): Promise<{ acked: string[]; statuses: Map<number, number> }> {
  const key = readDemoClientKey(dataDir)!;
  const endpoint = `${url}/cds-services/osteonecrosis-screening`;
  const acked: string[] = [];
  const statuses = new Map<number, number>();
  let sent = 0;
  let dead = false;
  const worker = async () => {
    while (!dead && !opts.until(acked.length) && sent < (opts.max ?? Infinity)) {
      const i = sent++;
      const hookInstance = randomUUID();
      const body = {
        hook: 'patient-view',
        hookInstance,
        fhirServer: `${url}/fhir`,
        context: { userId: 'Practitioner/demo', patientId: `ow-${String((i % 25) + 1).padStart(4, '0')}` },
      };
      try {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${await signClientJwt(key, endpoint)}`,
          },
          body: JSON.stringify(body),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) acked.push(hookInstance);
      } catch {
        dead = true; // the service is gone (killed): what was answered before is what counts
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return { acked, statuses };
}

/** The hookInstances of these calls that are in the trail, read from the store once the service has stopped. */
async function inTrail(location: { dataDir: string } | { databaseUrl: string }, ids: string[]): Promise<Set<string>> {
  const store = await openAuditStore(
    'dataDir' in location ? { dataDir: location.dataDir, inProcess: true } : { databaseUrl: location.databaseUrl },
  );
  try {
    const rows = await store.db.query<{ hook_instance: string; n: number }>(
      'select hook_instance, count(*)::int as n from hook_invocation where hook_instance = any($1::text[]) group by 1',
      [ids],
    );
    // Replayed once: never twice.
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    return new Set(rows.map((r) => r.hook_instance));
  } finally {
    await store.close();
  }
}

async function verify(location: { dataDir: string } | { databaseUrl: string }): Promise<void> {
  const args = 'dataDir' in location ? ['--data-dir', location.dataDir] : ['--database-url', location.databaseUrl];
  const { DATABASE_URL: _d, ...env } = process.env;
  const r = await runOsteowatch(['audit', 'verify', ...args], env as Record<string, string>);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

const scratchDatabase = () => scratchDb(PG!);

async function terminateAll(databaseUrl: string): Promise<number> {
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  try {
    const db = new URL(databaseUrl).pathname.slice(1);
    return (
      await admin.query<{ n: number }>(
        'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
        [db],
      )
    ).rows[0]!.n;
  } finally {
    await admin.end();
  }
}

async function killMidStream(location: { dataDir: string; databaseUrl?: string }) {
  const first = await start(location.dataDir, location.databaseUrl);
  // Kill -9 once enough calls have been answered, with calls still in flight.
  let killedAt = -1;
  const s = await stream(first.url, location.dataDir, {
    concurrency: 8,
    until: (n) => {
      if (n >= 120 && killedAt < 0) {
        killedAt = n;
        first.child.kill('SIGKILL');
      }
      return false;
    },
    max: 5000,
  });
  await first.exited;
  expect(killedAt).toBeGreaterThan(0);
  expect(s.acked.length).toBeGreaterThanOrEqual(120);
  // Restart: the journal is replayed into the store before the first call is answered.
  const second = await start(location.dataDir, location.databaseUrl);
  expect(await stopGracefully(second)).toBe(0);
  const store = location.databaseUrl ? { databaseUrl: location.databaseUrl } : { dataDir: location.dataDir };
  const found = await inTrail(store, s.acked);
  expect(s.acked.filter((id) => !found.has(id))).toEqual([]);
  await verify(store);
  expect(readdirSync(journalDir(location.dataDir))).toEqual([]);
}

describe('nothing acknowledged is lost (real processes)', { timeout: 300_000 }, () => {
  it('kill -9 during a hook stream on PGlite: every acknowledged call is in the trail after restart', async () => {
    await killMidStream({ dataDir: mkdtempSync(join(tmpdir(), 'ow-rel-')) });
  });

  it('SIGTERM right after load: the queue is drained into the store before exit', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ow-rel-'));
    const r = await start(dataDir);
    const s = await stream(r.url, dataDir, { concurrency: 16, until: () => false, max: 200 });
    // Under load some calls may be refused (503: fhirServer too slow, or back-pressure); none may be lost.
    expect([...s.statuses.keys()].filter((k) => k !== 200 && k !== 503)).toEqual([]);
    expect(s.acked.length).toBeGreaterThan(0);
    expect(await stopGracefully(r)).toBe(0);
    // Drained, not left to a replay: the journal is empty and the store has every call.
    expect(readdirSync(journalDir(dataDir))).toEqual([]);
    const found = await inTrail({ dataDir }, s.acked);
    expect(found.size).toBe(s.acked.length);
    await verify({ dataDir });
  });

  describe.skipIf(!PG)('on PostgreSQL', () => {
    const drops: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const d of drops) await d().catch(() => undefined);
    });

    it('kill -9 during a hook stream: every acknowledged call is in the trail after restart', async () => {
      const db = await scratchDatabase();
      drops.push(db.drop);
      await killMidStream({ dataDir: mkdtempSync(join(tmpdir(), 'ow-rel-')), databaseUrl: db.url });
    });

    it('connections terminated mid-stream: the process survives and the records are written after reconnect', async () => {
      const db = await scratchDatabase();
      drops.push(db.drop);
      const dataDir = mkdtempSync(join(tmpdir(), 'ow-rel-'));
      const r = await start(dataDir, db.url);
      let terminated = 0;
      const kills: Array<Promise<void>> = [];
      const s = await stream(r.url, dataDir, {
        concurrency: 8,
        until: (n) => {
          if (n > 0 && n % 40 === 0 && kills.length < n / 40)
            kills.push(
              terminateAll(db.url).then((k) => {
                terminated += k;
              }),
            );
          return n >= 200;
        },
      });
      await Promise.all(kills);
      expect(terminated).toBeGreaterThan(0);
      expect(r.child.exitCode).toBeNull();
      expect((await fetch(`${r.url}/livez`)).status).toBe(200);
      expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
      expect(s.acked.length).toBeGreaterThanOrEqual(200);
      expect(await stopGracefully(r)).toBe(0);
      const found = await inTrail({ databaseUrl: db.url }, s.acked);
      expect(s.acked.filter((id) => !found.has(id))).toEqual([]);
      await verify({ databaseUrl: db.url });
    });
  });
});
