/**
 * The /audit API over HTTP: authorisation, the four queries, CSV, the AuditEvent export and the audit of the
 * auditors themselves.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateResource } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { AuditEvent, Bundle, Provenance } from '@medplum/fhirtypes';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/service.ts';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { parseTrustedClients } from '../../src/auth/trustedClients.ts';
import { generateCohort } from '../../src/cohort/generate.ts';
import { computeExposure } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { fetchPatientRecords, fhirClient } from '../../src/fhir/patientRecords.ts';
import { createApp } from '../../src/server/app.ts';

const TOKEN = 'static-audit-token-0123456789';
const ISS = 'https://auditor.example';
let server: Server;
let base = '';
let store: AuditStore;
let privateKey: CryptoKey;
const card = randomUUID();

async function jwt(
  claims: Record<string, unknown>,
  opts: { aud?: string; exp?: string; alg?: string; key?: CryptoKey } = {},
) {
  return new SignJWT({ scope: 'audit', ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'ES384', kid: 'k1' })
    .setIssuer(ISS)
    .setSubject('quality-team')
    .setAudience(opts.aud ?? `${base}/audit`)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .setJti(randomUUID())
    .sign(opts.key ?? privateKey);
}

beforeAll(async () => {
  loadFhirDefinitions();
  const keys = await generateKeyPair('ES384');
  privateKey = keys.privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES384' };
  store = await openAuditStore({ memory: true });
  const repo = new MemoryRepository();
  for (const r of generateCohort({ size: 5, seed: 9, asOf: '2026-03-01' })) await repo.createResource(r);
  let fhirBase = '';
  const service = new AuditService(store, 3000, async (id, asOf) =>
    computeExposure({ resources: await fetchPatientRecords(fhirClient(fhirBase), id), patient: id, asOf }),
  );
  const auth = {
    staticToken: TOKEN,
    trustedClients: parseTrustedClients([{ iss: ISS, jwks: { keys: [jwk] }, tenant: 'quality' }]),
    get audience() {
      return `${base}/audit`;
    },
    requiredScope: 'audit',
  };
  server = await new Promise((resolve) => {
    const s = createApp({ repo, audit: { service, auth, now: () => new Date('2026-03-10T12:00:00Z') } }).listen(
      0,
      '127.0.0.1',
      () => resolve(s),
    );
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fhirBase = `${base}/fhir`;

  await store.audit.recordHookInvocation({
    recordedAt: '2026-03-01T09:00:00.000Z',
    service: 'osteonecrosis-screening',
    hook: 'patient-view',
    hookInstance: randomUUID(),
    patientId: 'ow-0001',
    userRef: 'Practitioner/dr-1',
    clientIss: 'https://ehr.example',
    latencyMs: 8,
    cards: [{ uuid: card, indicator: 'warning', summary: 'WB-MRI screening due: 4,200 mg' }],
    exposure: {
      asOf: '2026-03-01',
      cumulativeMg: 4200,
      cumulativeIsLowerBound: false,
      currentDailyMg: 20,
      threshold: { mg: 3000, crossedOn: '2026-02-01' },
      contributions: [{ source: 'MedicationStatement/x', ingredient: 'prednisolone', mg: 4200 }],
      issues: [],
    },
    dataSources: ['MedicationStatement/x/_history/1'],
  });
  await store.audit.recordFeedback({
    recordedAt: '2026-03-01T09:01:00.000Z',
    service: 'osteonecrosis-screening',
    card,
    outcome: 'accepted',
    outcomeTimestamp: '2026-03-01T09:01:00.000Z',
  });
  await store.audit.recordWriteBack({
    recordedAt: '2026-03-05T10:00:00.000Z',
    patientId: 'ow-0001',
    studyUid: '2.25.123',
    studyDate: '2026-03-04',
    resourceRefs: ['Observation/o1/_history/1', 'DiagnosticReport/d1/_history/1'],
    fhirServer: 'https://ehr.example/fhir',
  });
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
});

const get = (path: string, token?: string, accept = 'application/json') =>
  fetch(`${base}${path}`, { headers: { accept, ...(token ? { authorization: `Bearer ${token}` } : {}) } });

describe('/audit authorisation', () => {
  it('without a token: 401 and nothing else', async () => {
    const r = await get('/audit/patients/ow-0001');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('Bearer');
    expect(await r.text()).not.toContain('ow-0001');
  });

  it.each([
    ['a wrong static token', async () => 'not-the-token-0000000000'],
    ['a JWT without the audit scope', async () => jwt({ scope: 'patient/*.read' })],
    ['a JWT for another audience', async () => jwt({}, { aud: 'https://elsewhere/audit' })],
    ['an expired JWT', async () => jwt({}, { exp: '-1m' })],
    [
      'a JWT signed by an unknown key',
      async () => jwt({}, { key: (await generateKeyPair('ES384')).privateKey as CryptoKey }),
    ],
  ])('%s is refused', async (_name, make) => {
    expect((await get('/audit/verify', await make())).status).toBe(401);
  });

  it('accepts the static token and a trusted JWT with the audit scope', async () => {
    expect((await get('/audit/verify', TOKEN)).status).toBe(200);
    expect((await get('/audit/verify', await jwt({}))).status).toBe(200);
  });
});

describe('/audit queries', () => {
  it('patient history: snapshots, cards with feedback, write-backs; live exposure on request', async () => {
    const r = await get('/audit/patients/ow-0001?live=true&asOf=2026-03-01', TOKEN);
    expect(r.status).toBe(200);
    // biome-ignore lint/suspicious/noExplicitAny: response shape asserted field by field below
    const body = (await r.json()) as any;
    expect(body.exposureByDate).toEqual([
      { asOf: '2026-03-01', cumulativeMg: 4200, lowerBound: false, currentDailyMg: 20, crossedOn: '2026-02-01' },
    ]);
    expect(body.invocations.items[0].cards[0]).toMatchObject({ uuid: card, feedback: [{ outcome: 'accepted' }] });
    expect(body.writeBacks[0]).toMatchObject({ studyUid: '2.25.123', studyDate: '2026-03-04' });
    expect(body.live.patient).toBe('ow-0001');
    expect(typeof body.live.cumulativeMg).toBe('number');
  });

  it('crossings with time to imaging, as JSON and CSV', async () => {
    const json = (await (await get('/audit/crossings?from=2026-01-01&to=2026-04-01', TOKEN)).json()) as {
      items: unknown[];
    };
    expect(json.items).toEqual([
      { patient: 'ow-0001', crossedOn: '2026-02-01', firstWbMri: '2026-03-04', daysToImaging: 31 },
    ]);
    const csv = await (await get('/audit/crossings?from=2026-01-01&to=2026-04-01&format=csv', TOKEN)).text();
    expect(csv).toBe('patient,crossedOn,firstWbMri,daysToImaging\r\now-0001,2026-02-01,2026-03-04,31\r\n');
  });

  it('cards and responses', async () => {
    const r = await (await get('/audit/cards?from=2026-03-01&to=2026-03-02', TOKEN, 'text/csv')).text();
    expect(r.split('\r\n')[1]).toContain(`osteonecrosis-screening,ow-0001,${card},warning,accepted`);
  });

  it('bad query parameters: 400 with an OperationOutcome', async () => {
    const r = await get('/audit/crossings?from=yesterday&to=2026-01-01', TOKEN);
    expect(r.status).toBe(400);
    const body = (await r.json()) as { resourceType: string; issue: Array<{ details: { text: string } }> };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]!.details.text).toContain('from: must be a date YYYY-MM-DD');
  });

  it('exports valid FHIR AuditEvents (BALP) and a Provenance for what was written, paged', async () => {
    const r = await get('/audit/export?from=2026-01-01&to=2026-04-01&limit=2', TOKEN);
    expect(r.headers.get('content-type')).toContain('application/fhir+json');
    const bundle = (await r.json()) as Bundle;
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    expect(next).toBeDefined();
    const rest = (await (await fetch(next!, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Bundle;
    const resources = [...bundle.entry!, ...rest.entry!].map((e) => e.resource!);
    for (const res of resources) expect(validateResource(res).filter((i) => i.severity === 'error')).toEqual([]);
    const events = resources.filter((x): x is AuditEvent => x.resourceType === 'AuditEvent');
    const hook = events.find((e) => e.meta?.profile?.[0]?.endsWith('PatientQuery'))!;
    expect(hook.entity!.map((x) => x.what?.reference ?? x.what?.identifier?.value)).toContain('Patient/ow-0001');
    expect(Buffer.from(hook.entity![0]!.query!, 'base64').toString()).toContain('MedicationStatement/x/_history/1');
    const creates = events.filter((e) => e.action === 'C');
    expect(creates.map((e) => e.entity![0]!.what?.reference)).toEqual(
      expect.arrayContaining(['Observation/o1/_history/1', 'DiagnosticReport/d1/_history/1']),
    );
    const prov = resources.find((x): x is Provenance => x.resourceType === 'Provenance')!;
    expect(prov.target.map((t) => t.reference)).toEqual([
      'Observation/o1/_history/1',
      'DiagnosticReport/d1/_history/1',
    ]);
  });

  it('records every auditor query in the chain, with who asked', async () => {
    const rows = await store.db.query<{ actor: string; payload: { query: string } }>(
      `select actor, payload from audit_log where kind = 'audit-query' order by seq`,
    );
    expect(rows.length).toBeGreaterThan(3);
    expect(rows.map((r) => r.actor)).toEqual(expect.arrayContaining(['static-token', `${ISS}|quality-team`]));
    expect(JSON.stringify(rows)).not.toContain(TOKEN);
    expect((await store.audit.verify()).ok).toBe(true);
  });
});
