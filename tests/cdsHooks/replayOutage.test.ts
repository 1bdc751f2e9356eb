/**
 * A jti that cannot be checked is never accepted: with the shared replay store (Redis) unreachable, a CDS call
 * gets 503 with an OperationOutcome — not 401 (the token may be good) and never 200.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplayStore } from '../../src/auth/replayStore.ts';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { daily, fullPrefetch, myositisPatient } from '../helpers/patients.ts';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

let h: CdsHarness;
let store: RedisReplayStore;
beforeAll(async () => {
  store = new RedisReplayStore({ url: `redis://127.0.0.1:${await closedPort()}`, timeoutMs: 500 });
  h = await startCdsHarness({ now: '2026-06-01T10:00:00Z', replay: store });
});
afterAll(async () => {
  await h.close();
  await store.close();
});

describe('replay store unreachable', () => {
  it('a signed patient-view call gets 503 with an OperationOutcome, never 200', async () => {
    const r = await h.call('osteonecrosis-screening', {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/x', patientId: 'p' },
      prefetch: fullPrefetch([...myositisPatient('p'), daily('p', 1, 10, '2026-05-01')], 'p'),
    });
    expect(r.status).toBe(503);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });
});
