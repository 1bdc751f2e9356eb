/**
 * kill -9 in the middle of a surveillance run: the real CLI (`osteowatch surveil run`) on its own PostgreSQL
 * database is killed once some batches are done; a restarted instance resumes the run from its last completed
 * batch and finishes it, with every patient evaluated exactly once and no Task written twice.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Bundle, Task } from '@medplum/fhirtypes';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openAuditStore } from '../../src/audit/store.ts';
import { WORKLIST_ENTRY_IDENTIFIER } from '../../src/terminology/systems.ts';
import { BIN } from '../helpers/cli.ts';
import type { RunningServer } from '../helpers/server.ts';
import { describeWithTool } from '../helpers/systemTools.ts';
import { cohort, demoServer, finished, surveillanceFor } from '../surveillance/harness.ts';

const ADMIN = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

describeWithTool('postgres', 'surveillance survives kill -9', () => {
  let server: RunningServer;
  const dbName = `ow_kill_${randomBytes(4).toString('hex')}`;
  const url = ADMIN.replace(/\/[^/]*$/, `/${dbName}`);
  beforeAll(async () => {
    server = await demoServer(cohort(40));
    const c = new pg.Client(ADMIN);
    await c.connect();
    await c.query(`create database ${dbName}`);
    await c.end();
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    const c = new pg.Client(ADMIN);
    await c.connect();
    await c.query(`drop database if exists ${dbName} with (force)`);
    await c.end();
  }, 60_000);

  it('resumes from the last completed batch: each patient once, no duplicate Task', async () => {
    const child = spawn(process.execPath, [BIN, 'surveil', 'run', '--json'], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        OSTEOWATCH_SURVEILLANCE_FHIR_URL: server.fhirUrl,
        OSTEOWATCH_SURVEILLANCE_MODE: 'crawl',
        OSTEOWATCH_SURVEILLANCE_BATCH_SIZE: '4',
        OSTEOWATCH_SURVEILLANCE_HEARTBEAT_SECONDS: '10',
        OSTEOWATCH_SURVEILLANCE_CRON: '',
      },
      stdio: 'ignore',
    });
    const probe = new pg.Client(url);
    let runId: string | undefined;
    try {
      // Wait until the run has some batches done and others not, then kill -9.
      for (let i = 0; i < 600 && !runId; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const rows = await probe
          .connect()
          .catch(() => undefined)
          .then(() =>
            probe.query<{ run_id: string; done: string; all: string }>(
              `select run_id, count(*) filter (where done_at is not null) as done, count(*) as all
               from surveillance_batches group by run_id`,
            ),
          )
          .catch(() => undefined);
        const r = rows?.rows[0];
        if (r && Number(r.done) >= 2 && Number(r.done) < Number(r.all)) runId = r.run_id;
      }
    } finally {
      child.kill('SIGKILL');
      await probe.end().catch(() => undefined);
    }
    expect(runId, 'the run got under way before the kill').toBeDefined();
    await new Promise((r) => child.once('exit', r));

    // The restarted instance: the same database, the same configuration.
    const store = await openAuditStore({ databaseUrl: url });
    const s = surveillanceFor(server, { store, databaseUrl: url }, { batchSize: 4, heartbeatSeconds: 10 });
    try {
      const before = await s.store.getRun(runId!);
      expect(before?.status).toBe('evaluating');
      expect(before!.done).toBeLessThan(before!.total!);
      await s.start();
      const run = await finished(s, runId!, 240_000);
      expect(run.status).toBe('succeeded');
      expect(run.done).toBe(run.total);
      const [dup] = await store.db.query<{ n: number }>(
        'select count(*) - count(distinct patient_id) as n from surveillance_results where run_id = $1',
        [runId],
      );
      expect(Number(dup!.n)).toBe(0);
      const b = (await (await fetch(`${server.fhirUrl}/Task?_count=1000`)).json()) as Bundle<Task>;
      const keys = (b.entry ?? []).map(
        (e) => e.resource!.identifier?.find((i) => i.system === WORKLIST_ENTRY_IDENTIFIER)?.value,
      );
      expect(keys.length).toBeGreaterThan(0);
      expect(new Set(keys).size).toBe(keys.length);
    } finally {
      await s.stop();
      await store.close();
    }
  }, 600_000);
});
