/**
 * A Task server that cannot be reached (down, or the demo's own HTTP server closing during a shutdown) fails the
 * batch's attempt, to be retried with backoff, rather than turning its patients into errors that no retry will
 * look at again. Only the last attempt records them as the patients' errors, and the run goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Surveillance } from '../../src/surveillance/service.ts';
import type { RunningServer } from '../helpers/server.ts';
import { AS_OF, cohort, demoServer, type EngineStore, engines, surveillanceFor } from './harness.ts';

describe('Task server unreachable', () => {
  let server: RunningServer;
  let db: EngineStore;
  let s: Surveillance;
  beforeAll(async () => {
    server = await demoServer(cohort(12));
    db = await engines()[0]!.open();
    // Port 9 (discard): nothing listens, every connection is refused.
    s = surveillanceFor(server, db, { taskFhirUrl: 'http://127.0.0.1:9/fhir', workers: 0 }, { work: false });
    await s.start();
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
    await db?.dispose();
    await server?.close();
  });

  it('fails the attempt (nothing stored) until the last one, which records the patients as errors', async () => {
    const { runId } = await s.runner.create({ trigger: 'api', asOf: AS_OF });
    const [batchNo] = await s.runner.load(runId);
    const batch = (await s.store.batch(runId, batchNo!))!;
    await expect(s.runner.batch(runId, batchNo!, { lastAttempt: false })).rejects.toThrow(
      /Task server could not be reached/,
    );
    expect((await s.store.evaluated(runId, batch.patientIds)).size).toBe(0);
    expect((await s.store.batch(runId, batchNo!))?.done).toBe(false);

    await s.runner.batch(runId, batchNo!, { lastAttempt: true });
    expect((await s.store.batch(runId, batchNo!))?.done).toBe(true);
    const errors = await s.store.errorsOf(runId);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => /Task server could not be reached/.test(e.message))).toBe(true);
  }, 120_000);
});
