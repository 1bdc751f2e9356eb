/**
 * The demo FHIR server over HTTP: the interactions the rest of OsteoWatch and its users rely on.
 */
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

const FHIR = 'application/fhir+json';
let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer(generateCohort({ size: 20, seed: 7, asOf: '2026-06-30' }), { maxPageSize: 7 });
});
afterAll(() => srv.close());

const get = async (path: string) => {
  const res = await fetch(`${srv.fhirUrl}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as never };
};
const send = async (method: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${srv.fhirUrl}${path}`, {
    method,
    headers: { 'content-type': FHIR, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, location: res.headers.get('location'), body: (await res.json()) as never };
};

describe('demo FHIR server', () => {
  it('reads a resource', async () => {
    const r = await get('/Patient/ow-0001');
    expect(r.status).toBe(200);
    expect(r.type).toContain('application/fhir+json');
    expect((r.body as Patient).id).toBe('ow-0001');
  });

  it('pages searches with Bundle.link next, capped at the server page size', async () => {
    const first = await get('/Patient?_count=50');
    const b = first.body as Bundle;
    expect(b.total).toBe(20);
    expect(b.entry).toHaveLength(7);
    const ids: string[] = [];
    let url: string | undefined = `${srv.fhirUrl}/Patient?_count=50`;
    while (url) {
      const page = (await (await fetch(url)).json()) as Bundle;
      ids.push(...(page.entry ?? []).map((e) => e.resource!.id!));
      url = page.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(new Set(ids).size).toBe(20);
  });

  it('searches by subject', async () => {
    const r = await get('/MedicationStatement?subject=Patient/ow-0002&_count=5');
    const b = r.body as Bundle;
    expect(b.total).toBeGreaterThan(0);
    expect(
      b.entry!.every(
        (e) => (e.resource as { subject?: { reference?: string } }).subject?.reference === 'Patient/ow-0002',
      ),
    ).toBe(true);
  });

  it('creates, and rejects an invalid resource with 400 and an OperationOutcome', async () => {
    const ok = await send('POST', '/Patient', { resourceType: 'Patient', name: [{ family: 'New' }] });
    expect(ok.status).toBe(201);
    expect(ok.location).toMatch(/^\/fhir\/Patient\//);
    const bad = await send('POST', '/Patient', { resourceType: 'Patient', gender: 12 });
    expect(bad.status).toBe(400);
    expect((bad.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect((bad.body as OperationOutcome).issue[0]!.expression).toEqual(['Patient.gender']);
  });

  it('conditional create is idempotent (If-None-Exist)', async () => {
    const body = { resourceType: 'Patient', identifier: [{ system: 'urn:test', value: 'cond-1' }] };
    const a = await send('POST', '/Patient', body, { 'if-none-exist': 'identifier=urn:test|cond-1' });
    const b = await send('POST', '/Patient', body, { 'if-none-exist': 'identifier=urn:test|cond-1' });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect((a.body as Patient).id).toBe((b.body as Patient).id);
    const found = await get('/Patient?identifier=urn:test|cond-1');
    expect((found.body as Bundle).total).toBe(1);
  });

  it('updates with PUT', async () => {
    const r = await send('PUT', '/Patient/ow-0003', { resourceType: 'Patient', id: 'ow-0003', active: false });
    expect(r.status).toBe(200);
    expect(((await get('/Patient/ow-0003')).body as Patient).active).toBe(false);
  });

  it('processes a transaction and resolves urn:uuid references', async () => {
    const tx = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:6f1c0c1e-1a2b-4c3d-8e9f-000000000001',
          resource: { resourceType: 'Patient', name: [{ family: 'Tx' }] },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          resource: {
            resourceType: 'MedicationStatement',
            status: 'active',
            subject: { reference: 'urn:uuid:6f1c0c1e-1a2b-4c3d-8e9f-000000000001' },
            medicationCodeableConcept: { text: 'prednisolone' },
          },
          request: { method: 'POST', url: 'MedicationStatement' },
        },
      ],
    };
    const r = await send('POST', '', tx);
    expect(r.status).toBe(200);
    const out = r.body as Bundle;
    expect(out.type).toBe('transaction-response');
    const patientId = out.entry![0]!.response!.location!.split('/')[1];
    const ms = await get(`/MedicationStatement?subject=Patient/${patientId}`);
    expect((ms.body as Bundle).total).toBe(1);
  });

  it('rejects a transaction entry that is invalid, naming the entry', async () => {
    const r = await send('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient', birthDate: 5 }, request: { method: 'POST', url: 'Patient' } }],
    });
    expect(r.status).toBe(400);
    expect((r.body as OperationOutcome).issue[0]!.expression![0]).toContain('Bundle.entry[0]');
  });

  it('answers malformed JSON with 400 and an OperationOutcome, and keeps serving', async () => {
    const r = await send('POST', '/Patient', '{"resourceType": "Patient",');
    expect(r.status).toBe(400);
    expect((r.body as OperationOutcome).issue[0]!.code).toBe('structure');
    expect((await get('/Patient/ow-0001')).status).toBe(200);
  });

  it('returns 404 with an OperationOutcome for an unknown resource', async () => {
    const r = await get('/Patient/does-not-exist');
    expect(r.status).toBe(404);
    expect((r.body as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  it('serves health endpoints', async () => {
    expect((await fetch(`${srv.baseUrl}/livez`)).status).toBe(200);
    expect((await fetch(`${srv.baseUrl}/readyz`)).status).toBe(200);
    const nf = await fetch(`${srv.baseUrl}/nope`);
    expect(nf.status).toBe(404);
  });
});
