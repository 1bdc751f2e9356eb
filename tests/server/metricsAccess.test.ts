/**
 * GET /metrics: behind OSTEOWATCH_METRICS_TOKEN when one is configured; without one, only requests made directly
 * on loopback are answered (not those a proxy forwarded).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryRepository } from '@medplum/fhir-router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { createApp } from '../../src/server/app.ts';

const TOKEN = 'metrics-token-0123456789';
const servers: Server[] = [];
const start = async (metricsToken?: string) => {
  const app = createApp({ repo: new MemoryRepository(), metrics: createMetrics({ defaults: false }), metricsToken });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
};
let open = '';
let guarded = '';
beforeAll(async () => {
  open = await start();
  guarded = await start(TOKEN);
});
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

describe('/metrics access', () => {
  it('without a token configured: loopback only, and not through a proxy', async () => {
    expect((await fetch(open)).status).toBe(200);
    const proxied = await fetch(open, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(proxied.status).toBe(403);
    expect(((await proxied.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    expect((await fetch(open, { headers: { forwarded: 'for=203.0.113.7' } })).status).toBe(403);
  });

  it('with a token configured: the bearer token is required, even on loopback', async () => {
    const none = await fetch(guarded);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect((await fetch(guarded, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status).toBe(401);
    const ok = await fetch(guarded, {
      headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '203.0.113.7' },
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('# HELP');
  });
});
