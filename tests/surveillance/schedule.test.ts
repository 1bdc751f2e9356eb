/**
 * The schedule: a cron in a time zone; a scheduled run named after its scheduled minute, so that every
 * instance firing (or catching up at start) makes one run; the run then goes through like any other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Surveillance } from '../../src/surveillance/service.ts';
import type { RunningServer } from '../helpers/server.ts';
import { cohort, demoServer, engines, finished, surveillanceFor } from './harness.ts';

describe('scheduled surveillance', () => {
  let server: RunningServer;
  let db: Awaited<ReturnType<ReturnType<typeof engines>[0]['open']>>;
  const instances: Surveillance[] = [];
  // 06:00 in Zurich every day; "now" is 2026-06-30T12:00Z (14:00 in Zurich, summer time).
  const config = { cron: '0 6 * * *', timezone: 'Europe/Zurich', taskFhirUrl: 'none' as const };
  beforeAll(async () => {
    server = await demoServer(cohort(12));
    db = await engines()[0]!.open();
  }, 120_000);
  afterAll(async () => {
    for (const s of instances) await s.stop();
    await db?.dispose();
    await server?.close();
  }, 60_000);

  it('knows the last scheduled time in its time zone', () => {
    const s = surveillanceFor(server, db, config);
    expect(s.lastFireTime(new Date('2026-06-30T12:00:00Z'))?.toISOString()).toBe('2026-06-30T04:00:00.000Z');
    expect(s.lastFireTime(new Date('2026-06-30T03:59:00Z'))?.toISOString()).toBe('2026-06-29T04:00:00.000Z');
    // Winter time: 06:00 in Zurich is 05:00 UTC.
    expect(s.lastFireTime(new Date('2026-12-01T12:00:00Z'))?.toISOString()).toBe('2026-12-01T05:00:00.000Z');
  });

  it('two instances starting (each catching up the missed run) make one run, and it completes', async () => {
    for (let i = 0; i < 2; i++) {
      const s = surveillanceFor(server, db, config);
      instances.push(s);
    }
    for (const s of instances) await s.start();
    const runs = await instances[0]!.store.listRuns(10);
    expect(runs.map((r) => r.runId)).toEqual(['scheduled-20260630T0400']);
    expect(runs[0]!.trigger).toBe('schedule');
    const run = await finished(instances[0]!, runs[0]!.runId);
    expect(run.status).toBe('succeeded');
    expect(run.done).toBe(run.total);
    // Started again (a restart the same day): still one run.
    await instances[1]!.catchUp();
    expect(await instances[0]!.store.listRuns(10)).toHaveLength(1);
  }, 180_000);
});
