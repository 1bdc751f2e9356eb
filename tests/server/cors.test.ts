/**
 * The shared CORS middleware (src/server/cors.ts): the CDS Hooks policy answers any origin with `*` and no
 * credentials, and reflects with credentials only the configured origins (OSTEOWATCH_CORS_ORIGINS); the FHIR
 * policy never pairs credentials with an open origin.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cdsCors, fhirCors, setCdsCredentialedOrigins } from '../../src/server/cors.ts';

let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.use('/cds', cdsCors, (_req, res) => {
    res.status(401).end();
  });
  app.use('/fhir', fhirCors, (_req, res) => {
    res.status(404).json({ resourceType: 'OperationOutcome' });
  });
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const ORIGIN = 'https://sandbox.cds-hooks.org';

const corsHeaders = (r: Response) =>
  Object.fromEntries([...r.headers].filter(([k]) => k.startsWith('access-control') || k === 'vary'));

describe('CDS Hooks CORS policy', () => {
  afterEach(() => setCdsCredentialedOrigins([]));

  it('by default: any origin with *, never credentials, GET/POST', async () => {
    const pre = await fetch(`${base}/cds/x`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'prefer' },
    });
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toEqual({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'Content-Type, Authorization',
      'access-control-expose-headers': 'Origin, Accept, Content-Location, Location, X-Requested-With',
      'access-control-max-age': '600',
    });
    const call = await fetch(`${base}/cds/x`, { method: 'POST', headers: { origin: 'https://evil.example' } });
    expect(call.status).toBe(401);
    expect(call.headers.get('access-control-allow-origin')).toBe('*');
    expect(call.headers.get('access-control-allow-credentials')).toBeNull();
    expect((await fetch(`${base}/cds/x`)).headers.get('access-control-allow-origin')).toBe('*');
  });

  it('a configured origin is reflected with credentials; any other gets * without', async () => {
    setCdsCredentialedOrigins(['https://ehr.example', `${ORIGIN}/`]);
    const pre = await fetch(`${base}/cds/x`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    });
    expect(corsHeaders(pre)).toMatchObject({
      'access-control-allow-origin': ORIGIN,
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    });
    const other = await fetch(`${base}/cds/x`, { method: 'POST', headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBe('*');
    expect(other.headers.get('access-control-allow-credentials')).toBeNull();
    expect(other.headers.get('vary')).toBe('Origin');
  });
});

describe('FHIR CORS policy', () => {
  it('allows any origin without credentials, on preflights and on errors', async () => {
    const pre = await fetch(`${base}/fhir/Patient`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'If-Match, Prefer, Cookie',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toBe(
      'Authorization, Content-Type, Accept, If-Match, Prefer',
    );
    expect(pre.headers.get('vary')).toContain('Access-Control-Request-Headers');
    const err = await fetch(`${base}/fhir/Nope`, { headers: { origin: ORIGIN } });
    expect(err.status).toBe(404);
    expect(err.headers.get('access-control-allow-origin')).toBe('*');
    expect(err.headers.get('access-control-allow-credentials')).toBeNull();
  });
});
