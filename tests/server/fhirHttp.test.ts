/**
 * The demo FHIR server as HTTP clients and browsers meet it: CORS on /fhir (preflight first, headers on every
 * answer, errors included), the CapabilityStatement at /metadata, success statuses from Medplum's outcomes
 * (a delete is a 200, not a 400), and an application/fhir+json OperationOutcome on every error.
 */
import { validateResource } from '@medplum/core';
import type { Basic, Bundle, CapabilityStatement, OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

const FHIR = 'application/fhir+json';
const ORIGIN = 'https://sandbox.cds-hooks.org';
let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer(generateCohort({ size: 5, seed: 3, asOf: '2026-06-30' }));
});
afterAll(() => srv.close());

const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
  const res = await fetch(`${srv.fhirUrl}${path}`, { method, headers: { origin: ORIGIN, ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as never };
};
const list = (h: string | null) => (h ?? '').split(',').map((s) => s.trim().toLowerCase());

describe('CORS on /fhir', () => {
  it('answers a preflight with 204 before anything else, allowing the FHIR methods and the asked-for headers', async () => {
    // A path that would otherwise be a 404, and a header outside the allowed list: the preflight still succeeds,
    // and allows only what the policy allows.
    const r = await call('OPTIONS', '/NoSuchType/_search', {
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,prefer,if-match,x-not-allowed',
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(list(r.headers.get('access-control-allow-methods'))).toEqual(['get', 'post', 'put', 'delete', 'options']);
    const allowed = list(r.headers.get('access-control-allow-headers'));
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'accept', 'prefer', 'if-match']));
    expect(allowed).not.toContain('x-not-allowed');
    // Any origin, so never with credentials.
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    // Without a request for extra headers, only the base three.
    const plain = await call('OPTIONS', '/Patient', { 'access-control-request-method': 'GET' });
    expect(list(plain.headers.get('access-control-allow-headers'))).toEqual([
      'authorization',
      'content-type',
      'accept',
    ]);
  });

  it('puts Access-Control-Allow-Origin on successes and on every kind of error', async () => {
    const ok = await call('GET', '/Patient/ow-0001', { accept: 'application/json+fhir' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    expect(list(ok.headers.get('access-control-expose-headers'))).toEqual(expect.arrayContaining(['location', 'etag']));
    const errors = [
      await call('GET', '/Patient/nope'),
      await call('POST', '/Patient', { 'content-type': FHIR }, '{"resourceType":'),
      await call('GET', '/NoSuchType'),
      await call('GET', '/Patient?foo=bar', { prefer: 'handling=strict' }),
    ];
    expect(errors.map((e) => e.status)).toEqual([404, 400, 404, 400]);
    for (const e of errors) {
      expect(e.headers.get('access-control-allow-origin')).toBe('*');
      expect(e.headers.get('content-type')).toContain(FHIR);
      expect((e.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    }
  });
});

describe('GET /fhir/metadata', () => {
  it('returns a valid R4 CapabilityStatement describing this server', async () => {
    const r = await call('GET', '/metadata', { accept: 'application/json' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain(FHIR);
    const cs = r.body as CapabilityStatement;
    expect(validateResource(cs).filter((i) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);
    expect(cs).toMatchObject({
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      implementation: { url: srv.fhirUrl },
    });
    const rest = cs.rest![0]!;
    expect(rest.mode).toBe('server');
    expect(rest.interaction!.map((i) => i.code).sort()).toEqual(['batch', 'transaction']);
    const types = rest.resource!.map((x) => x.type);
    for (const t of ['Patient', 'Condition', 'MedicationStatement', 'MedicationRequest', 'ImagingStudy'])
      expect(types).toContain(t);
    for (const res of rest.resource!)
      expect(res.interaction!.map((i) => i.code)).toEqual(
        expect.arrayContaining(['read', 'search-type', 'create', 'update', 'delete', 'history-instance']),
      );
    const imaging = rest.resource!.find((x) => x.type === 'ImagingStudy')!;
    const modality = imaging.searchParam!.find((p) => p.name === 'modality');
    expect(modality).toMatchObject({
      type: 'token',
      definition: 'http://hl7.org/fhir/SearchParameter/ImagingStudy-modality',
    });
    const names = imaging.searchParam!.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['patient', 'subject', 'started', '_id', '_lastUpdated']));
    // Medplum-only parameters are not advertised; nor are types the in-memory search cannot evaluate.
    expect(names).not.toContain('_project');
    const request = rest.resource!.find((x) => x.type === 'MedicationRequest')!.searchParam!.map((p) => p.name);
    expect(request).not.toContain('priority-order');
  });

  it('is the capabilities interaction, not a search for a type called "metadata"', async () => {
    const r = await call('GET', '/metadata?_format=json');
    expect((r.body as CapabilityStatement).resourceType).toBe('CapabilityStatement');
    const post = await call('POST', '/metadata', { 'content-type': FHIR }, '{}');
    expect(post.status).toBe(405);
    expect((post.body as OperationOutcome).resourceType).toBe('OperationOutcome');
  });
});

describe('success statuses', () => {
  const basic = (value: string): Basic => ({
    resourceType: 'Basic',
    identifier: [{ system: 'urn:test:basic', value }],
    code: { text: 'test' },
  });

  it('answers DELETE with 200 and an informational OperationOutcome, and the resource is gone', async () => {
    const created = await call('POST', '/Basic', { 'content-type': FHIR }, JSON.stringify(basic('d1')));
    expect(created.status).toBe(201);
    const id = (created.body as Basic).id!;
    const del = await call('DELETE', `/Basic/${id}`);
    expect(del.status).toBe(200);
    expect(del.headers.get('content-type')).toContain(FHIR);
    const outcome = del.body as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.every((i) => i.severity === 'information')).toBe(true);
    expect((await call('GET', `/Basic/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/Basic/${id}`)).status).toBe(404);
  });

  it('answers a conditional delete with 200 too', async () => {
    await call('POST', '/Basic', { 'content-type': FHIR }, JSON.stringify(basic('d2')));
    const del = await call('DELETE', '/Basic?identifier=urn:test:basic|d2');
    expect(del.status).toBe(200);
    const left = await call('GET', '/Basic?identifier=urn:test:basic|d2');
    expect((left.body as Bundle).total).toBe(0);
  });

  it('keeps 201 for create and 200 for update and read', async () => {
    const created = await call('POST', '/Basic', { 'content-type': FHIR }, JSON.stringify(basic('d3')));
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toMatch(/^\/fhir\/Basic\//);
    const b = created.body as Basic;
    const updated = await call('PUT', `/Basic/${b.id}`, { 'content-type': FHIR }, JSON.stringify({ ...b, meta: {} }));
    expect(updated.status).toBe(200);
    expect(updated.headers.get('etag')).toMatch(/^W\/"/);
  });
});
