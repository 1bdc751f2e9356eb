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
    expect(runs[0]!.trigger).toBe('catch-up');
    const run = await finished(instances[0]!, runs[0]!.runId);
    expect(run.status).toBe('succeeded');
    expect(run.done).toBe(run.total);
    // Started again (a restart the same day): still one run.
    await instances[1]!.catchUp();
    expect(await instances[0]!.store.listRuns(10)).toHaveLength(1);
  }, 180_000);

  /**
   * A Surveillance over a store of its own (with `config` and `extra` as surveillanceFor takes them), started,
   * given to `fn`, then stopped and its store dropped; `more` builds further instances over the same store.
   */
  async function withInstance(
    config: Parameters<typeof surveillanceFor>[2],
    extra: Parameters<typeof surveillanceFor>[3],
    fn: (s: Surveillance, more: (c: Parameters<typeof surveillanceFor>[2]) => Surveillance) => Promise<void>,
  ): Promise<void> {
    const store = await engines()[0]!.open();
    const made: Surveillance[] = [];
    const s = surveillanceFor(server, store, config, extra);
    made.push(s);
    try {
      await s.start();
      await fn(s, (c) => {
        const t = surveillanceFor(server, store, c, extra);
        made.push(t);
        return t;
      });
    } finally {
      for (const m of made.reverse()) await m.stop();
      await store.dispose();
    }
  }

  it("dates a run by the clinic's day: 07:00 in Tokyo is that morning, not the UTC day before", async () => {
    // 2026-06-30T22:00Z is 07:00 on 1 July in Tokyo.
    const at = new Date('2026-06-30T22:00:00Z');
    await withInstance({ timezone: 'Asia/Tokyo', taskFhirUrl: 'none' }, { now: () => at, work: false }, async (s) => {
      expect(s.runner.today()).toBe('2026-07-01');
      const runId = await s.startRun('api');
      expect((await s.run(runId))?.asOf).toBe('2026-07-01');
      // The clinic's today is not "after today"; its tomorrow is.
      await expect(s.runner.create({ trigger: 'api', asOf: '2026-07-02' })).rejects.toThrow(
        /after today \(2026-07-01\)/,
      );
    });
  }, 60_000);

  it("a tick whose callback runs just after midnight is the scheduled minute's run, as of that day", async () => {
    // 23:59 in Zurich on 30 June is 21:59Z; the callback runs two seconds later, on 1 July there.
    const late = new Date('2026-06-30T22:00:01Z');
    const zurich = { timezone: 'Europe/Zurich', taskFhirUrl: 'none' as const };
    const extra = { now: () => late, work: false };
    await withInstance({ ...zurich, cron: '59 23 * * *' }, extra, async (s) => {
      expect(s.runner.today()).toBe('2026-07-01');
      // The catch-up at start made that minute's run (as of today); a tick for it makes no other.
      const runId = await s.tick(late);
      expect(runId).toBe('scheduled-20260630T2159');
      expect((await s.store.listRuns(10)).map((r) => r.runId)).toEqual([runId]);
    });
    // Without a catch-up before it (the instance started has no schedule): the tick's run is as of its day.
    await withInstance(zurich, extra, async (s, more) => {
      const runId = await more({ ...zurich, cron: '59 23 * * *' }).tick(late);
      expect((await s.run(runId!))?.asOf).toBe('2026-06-30');
    });
  }, 60_000);

  it('a slot node-cron missed (the process too busy when its timer fired) makes its run all the same', async () => {
    // 06:00 in Zurich. Started at 05:00 there: the start's catch-up makes the day before's run.
    let now = new Date('2026-06-30T03:00:00Z');
    const config = { cron: '0 6 * * *', timezone: 'Europe/Zurich', taskFhirUrl: 'none' as const };
    await withInstance(config, { now: () => now }, async (s) => {
      const [caughtUp] = await s.store.listRuns(10);
      expect(caughtUp?.runId).toBe('scheduled-20260629T0400');
      await finished(s, caughtUp!.runId);
      // 06:00:05: the slot's timer fired too late and node-cron skipped it, saying so with this event (emitted
      // here on the real task: a fault a test cannot time reliably).
      now = new Date('2026-06-30T04:00:05Z');
      const cron = (s as unknown as { cron: { emit(event: string, context: { date: Date }): void } }).cron;
      cron.emit('execution:missed', { date: new Date('2026-06-30T04:00:00Z') });
      await expect
        .poll(async () => (await s.store.listRuns(10)).map((r) => r.runId), { timeout: 10_000 })
        .toContain('scheduled-20260630T0400');
      const run = (await s.store.listRuns(10)).find((r) => r.runId === 'scheduled-20260630T0400')!;
      expect(run.trigger).toBe('schedule');
      expect(run.asOf).toBe('2026-06-30');
      await finished(s, run.runId);
    });
  }, 120_000);

  it('west of UTC, an evening run is still that day', () => {
    const s = surveillanceFor(
      server,
      db,
      { timezone: 'America/Los_Angeles', taskFhirUrl: 'none' },
      { now: () => new Date('2026-07-01T03:00:00Z') },
    );
    expect(s.runner.today()).toBe('2026-06-30');
  });
});
