import type { Condition } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { COHORT_GROUP_ID, cohortGroup } from '../../src/demo/cohortGroup.ts';
import { OsteoWatchError } from '../../src/errors.ts';
import {
  deleteExport,
  ExportGoneError,
  type ExportProgress,
  kickOff,
  ndjsonResources,
  waitForManifest,
} from '../../src/fhir/bulkExport.ts';
import { type FhirAuth, staticBearer } from '../../src/fhir/fhirAuth.ts';
import { recordingSleep, useBulkServer } from '../helpers/bulkServer.ts';

const TYPES = ['Patient', 'Condition', 'MedicationStatement', 'MedicationRequest', 'MedicationAdministration'];
const TYPES_ALL = [...TYPES, 'Medication', 'ImagingStudy', 'DiagnosticReport'];

const srv = useBulkServer();

const patientOf = (r: Record<string, unknown>): string | undefined =>
  r.resourceType === 'Patient'
    ? (r.id as string)
    : (r.subject as { reference?: string } | undefined)?.reference?.replace(/^Patient\//, '');

function expectedCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  const medications = new Set<string>();
  for (const r of srv.resources)
    if (TYPES_ALL.includes(r.resourceType) && srv.members.has(patientOf(r as never) ?? '')) {
      out[r.resourceType] = (out[r.resourceType] ?? 0) + 1;
      const ref = (r as { medicationReference?: { reference?: string } }).medicationReference?.reference;
      if (ref) medications.add(ref);
    }
  if (medications.size) out.Medication = medications.size;
  return out;
}

async function exportAll(auth: FhirAuth, types = TYPES_ALL, base = srv.fhir) {
  const statusUrl = await kickOff({ fhirBaseUrl: base, groupId: COHORT_GROUP_ID, types, auth });
  const { sleep, asked } = recordingSleep();
  const progress: ExportProgress[] = [];
  const manifest = await waitForManifest(statusUrl, {
    auth,
    maxWaitSeconds: 30,
    retryAfterCapSeconds: 5,
    sleep,
    onProgress: (p) => progress.push(p),
  });
  return { statusUrl, manifest, asked, progress };
}

async function readAll(auth: FhirAuth, manifest: Awaited<ReturnType<typeof waitForManifest>>) {
  const counts: Record<string, number> = {};
  const patients = new Set<string>();
  for (const f of manifest.output)
    for await (const r of ndjsonResources(f.url, {
      auth,
      requiresAccessToken: manifest.requiresAccessToken,
      fhirBaseUrl: srv.fhir,
    })) {
      expect(r.resourceType).toBe(f.type);
      counts[f.type] = (counts[f.type] ?? 0) + 1;
      if (r.resourceType !== 'Medication') patients.add(patientOf(r)!);
    }
  return { counts, patients };
}

describe('Bulk Data group export', () => {
  it('exports the cohort: kick-off, polls honouring Retry-After, manifest, every type streamed and counted', async () => {
    for (const [clientId, k] of [
      ['es-client', srv.es],
      ['rs-client', srv.rs],
    ] as const) {
      const auth = srv.authFor(clientId, k, clientId === 'rs-client' ? 'system/*.read' : 'system/*.rs');
      const { manifest, asked, progress, statusUrl } = await exportAll(auth);
      expect(statusUrl.startsWith(`${srv.fhir}/$export-status/`)).toBe(true);
      // The job takes 500 ms: at least one 202, each asking Retry-After 2, honoured (the cap is 5 s).
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every((p) => p.status === 202 && p.retryAfterSeconds === 2 && p.waitSeconds === 2)).toBe(true);
      expect(progress[0]!.progress).toMatch(/resource types exported/);
      expect(asked.every((ms) => ms === 2000)).toBe(true);
      expect(manifest.requiresAccessToken).toBe(true);
      expect(manifest.request).toContain(`/fhir/Group/${COHORT_GROUP_ID}/$export`);
      expect(Date.parse(manifest.transactionTime)).not.toBeNaN();
      expect(manifest.error).toEqual([]);
      const expected = expectedCounts();
      expect(expected.Medication).toBe(1);
      const listed: Record<string, number> = {};
      for (const f of manifest.output) listed[f.type] = (listed[f.type] ?? 0) + f.count!;
      expect(listed).toEqual(expected);
      // Files hold at most 50 resources each (resourcesPerFile), so the statements come in several.
      expect(manifest.output.filter((f) => f.type === 'MedicationStatement').length).toBeGreaterThan(1);
      expect(manifest.output.every((f) => f.count! <= 50)).toBe(true);
      const { counts, patients } = await readAll(auth, manifest);
      expect(counts).toEqual(expected);
      expect([...patients].sort()).toEqual([...srv.members].sort());
    }
  });

  it('caps Retry-After, and slows down on 429', async () => {
    const auth = srv.authFor('es-client', srv.es);
    const statusUrl = await kickOff({ fhirBaseUrl: srv.fhir, groupId: COHORT_GROUP_ID, types: ['Patient'], auth });
    const { sleep, asked } = recordingSleep();
    await waitForManifest(statusUrl, { auth, maxWaitSeconds: 30, retryAfterCapSeconds: 0.05, sleep });
    expect(asked.length).toBeGreaterThan(1);
    expect(asked.every((ms) => ms === 50)).toBe(true);

    const throttled = `${srv.base}/throttled/fhir`;
    const url = await kickOff({ fhirBaseUrl: throttled, groupId: COHORT_GROUP_ID, types: ['Patient'], auth });
    const statuses: number[] = [];
    const manifest = await waitForManifest(url, {
      auth,
      maxWaitSeconds: 30,
      retryAfterCapSeconds: 0.05,
      sleep: recordingSleep().sleep,
      onProgress: (p) => statuses.push(p.status),
    });
    expect(statuses).toContain(429);
    expect(manifest.output.map((f) => f.type)).toEqual(['Patient']);
  });

  it('asks for a fresh token once when the server answers 401 to a cached one', async () => {
    const real = srv.authFor('es-client', srv.es);
    let stale = true;
    const auth: FhirAuth = {
      header: async () => (stale ? 'Bearer revoked-token' : real.header()),
      invalidate: () => {
        stale = false;
      },
    };
    const statusUrl = await kickOff({ fhirBaseUrl: srv.fhir, groupId: COHORT_GROUP_ID, types: ['Patient'], auth });
    expect(stale).toBe(false);
    await deleteExport(statusUrl, auth);
  });

  it('gives up after the overall cap', async () => {
    const auth = srv.authFor('es-client', srv.es);
    const statusUrl = await kickOff({ fhirBaseUrl: srv.fhir, groupId: COHORT_GROUP_ID, types: ['Patient'], auth });
    const err = await waitForManifest(statusUrl, {
      auth,
      maxWaitSeconds: 1,
      retryAfterCapSeconds: 5,
      sleep: recordingSleep().sleep,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OsteoWatchError);
    expect((err as OsteoWatchError).kind).toBe('unavailable');
    expect((err as OsteoWatchError).message).toMatch(/did not complete within 1 s/);
    await deleteExport(statusUrl, auth);
  });

  it('resumes from the status URL alone, and a deleted job answers 404', async () => {
    const auth = srv.authFor('es-client', srv.es);
    const statusUrl = await kickOff({ fhirBaseUrl: srv.fhir, groupId: COHORT_GROUP_ID, types: ['Condition'], auth });
    // A new process with nothing but the URL and its own credentials.
    const later = srv.authFor('es-client', srv.es);
    const manifest = await waitForManifest(statusUrl, {
      auth: later,
      maxWaitSeconds: 30,
      retryAfterCapSeconds: 0.1,
      sleep: recordingSleep().sleep,
    });
    expect(manifest.output.map((f) => f.type)).toEqual(['Condition']);
    // Another client does not see the job.
    const stranger = await fetch(statusUrl, {
      headers: { authorization: (await srv.authFor('rs-client', srv.rs, 'system/*.read').header())! },
    });
    expect(stranger.status).toBe(404);
    await deleteExport(statusUrl, later);
    const gone = await fetch(statusUrl, { headers: { authorization: (await later.header())! } });
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    const err = await waitForManifest(statusUrl, { auth: later, maxWaitSeconds: 5, retryAfterCapSeconds: 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ExportGoneError);
    const file = await fetch(manifest.output[0]!.url, { headers: { authorization: (await later.header())! } });
    expect(file.status).toBe(404);
  });

  it('lists what it could not export in the manifest error files', async () => {
    await srv.repo.updateResource({
      resourceType: 'Group',
      id: 'with-ghost',
      type: 'person',
      actual: true,
      member: [{ entity: { reference: `Patient/${[...srv.members][0]}` } }, { entity: { reference: 'Patient/ghost' } }],
    });
    const auth = srv.authFor('es-client', srv.es);
    const url = await kickOff({ fhirBaseUrl: srv.fhir, groupId: 'with-ghost', types: ['Patient'], auth });
    const manifest = await waitForManifest(url, {
      auth,
      maxWaitSeconds: 30,
      retryAfterCapSeconds: 0.1,
      sleep: recordingSleep().sleep,
    });
    expect(manifest.output).toMatchObject([{ type: 'Patient', count: 1 }]);
    expect(manifest.error).toMatchObject([{ type: 'OperationOutcome', count: 1 }]);
    const issues: string[] = [];
    for await (const oo of ndjsonResources(manifest.error[0]!.url, { auth, requiresAccessToken: true }))
      issues.push(JSON.stringify(oo));
    expect(issues.join()).toMatch(/Patient\/ghost was not found/);
  });

  it('filters by code as the surveillance prefetch does (a system URL in the _typeFilter)', async () => {
    const auth = srv.authFor('es-client', srv.es);
    const url = await kickOff({
      fhirBaseUrl: srv.fhir,
      groupId: COHORT_GROUP_ID,
      types: ['DiagnosticReport', 'Observation'],
      typeFilter: [
        'DiagnosticReport?code=http://loinc.org|46358-8',
        'Observation?code=http://snomed.info/sct|397758007',
      ],
      auth,
    });
    const manifest = await waitForManifest(url, {
      auth,
      maxWaitSeconds: 30,
      retryAfterCapSeconds: 0.1,
      sleep: recordingSleep().sleep,
    });
    const expected = srv.resources.filter(
      (r) =>
        r.resourceType === 'DiagnosticReport' &&
        srv.members.has(r.subject!.reference!.slice(8)) &&
        r.code.coding?.some((c) => c.system === 'http://loinc.org' && c.code === '46358-8'),
    ).length;
    expect(expected).toBeGreaterThan(0);
    expect(manifest.output.filter((f) => f.type === 'DiagnosticReport').reduce((n, f) => n + f.count!, 0)).toBe(
      expected,
    );
  });

  it('honours _since and _typeFilter', async () => {
    const auth = srv.authFor('es-client', srv.es);
    const wait = (url: string) =>
      waitForManifest(url, { auth, maxWaitSeconds: 30, retryAfterCapSeconds: 0.1, sleep: recordingSleep().sleep });
    const future = await kickOff({
      fhirBaseUrl: srv.fhir,
      groupId: COHORT_GROUP_ID,
      types: TYPES,
      since: new Date(Date.now() + 3_600_000).toISOString(),
      auth,
    });
    expect((await wait(future)).output).toEqual([]);
    const active = await kickOff({
      fhirBaseUrl: srv.fhir,
      groupId: COHORT_GROUP_ID,
      types: ['MedicationRequest'],
      typeFilter: ['MedicationRequest?status=active,completed'],
      auth,
    });
    const manifest = await wait(active);
    const statuses = new Set<string>();
    for (const f of manifest.output)
      for await (const r of ndjsonResources(f.url, { auth, requiresAccessToken: true })) statuses.add(String(r.status));
    const expected = srv.resources.filter(
      (r) =>
        r.resourceType === 'MedicationRequest' &&
        ['active', 'completed'].includes(r.status) &&
        srv.members.has(r.subject!.reference!.slice(8)),
    ).length;
    expect(manifest.output.reduce((n, f) => n + (f.count ?? 0), 0)).toBe(expected);
    expect([...statuses].every((s) => s === 'active' || s === 'completed')).toBe(true);
  });

  it('refuses a kick-off without a token (401), with too narrow scopes (403) and bad parameters (400)', async () => {
    const url = `${srv.fhir}/Group/${COHORT_GROUP_ID}/$export`;
    const headers = { accept: 'application/fhir+json', prefer: 'respond-async' };
    const none = await fetch(url, { headers });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(((await none.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    const bogus = await fetch(url, { headers: { ...headers, authorization: 'Bearer not-a-token' } });
    expect(bogus.status).toBe(401);

    const narrow = await srv.authFor('patients-only', srv.other, 'system/Patient.rs').header();
    const denied = await fetch(`${url}?_type=Patient,Condition`, { headers: { ...headers, authorization: narrow! } });
    expect(denied.status).toBe(403);
    const allowed = await fetch(`${url}?_type=Patient`, { headers: { ...headers, authorization: narrow! } });
    expect(allowed.status).toBe(202);
    await deleteExport(allowed.headers.get('content-location')!, staticBearer(narrow!.slice(7)));
    // Without _type: what the client may export (the spec's "all supported resources within the scope of the
    // client authorization"), not a refusal.
    const unnamed = await fetch(url, { headers: { ...headers, authorization: narrow! } });
    expect(unnamed.status).toBe(202);
    const own = await waitForManifest(unnamed.headers.get('content-location')!, {
      auth: staticBearer(narrow!.slice(7)),
      maxWaitSeconds: 30,
      retryAfterCapSeconds: 1,
    });
    expect(own.output.map((f) => f.type)).toEqual(['Patient']);
    await deleteExport(unnamed.headers.get('content-location')!, staticBearer(narrow!.slice(7)));

    const authorization = (await srv.authFor('es-client', srv.es).header())!;
    const bad = async (query: string, h: Record<string, string> = headers) => {
      const res = await fetch(`${url}${query}`, { headers: { ...h, authorization } });
      return { status: res.status, body: (await res.json()) as { resourceType: string } };
    };
    expect((await bad('?_type=Patient', { accept: 'application/fhir+json' })).status).toBe(400);
    expect((await bad('?_type=Spaceship')).status).toBe(400);
    expect((await bad('?_since=yesterday')).status).toBe(400);
    // An instant has a zone: without one, the server would read it in its own.
    expect((await bad('?_since=2020-01-01T00:00:00')).status).toBe(400);
    // Search result parameters in a _typeFilter would put Patients in the Condition file.
    const include = await bad('?_type=Condition&_typeFilter=Condition%3F_include%3DCondition%3Asubject');
    expect(include.status).toBe(400);
    expect(JSON.stringify(include.body)).toMatch(/_include cannot be used in an export/);
    expect((await bad('?_typeFilter=Condition%3Fbogus%3D1')).status).toBe(400);
    expect((await bad('?_outputFormat=text/csv')).status).toBe(400);
    const missing = await fetch(`${srv.fhir}/Group/nope/$export`, { headers: { ...headers, authorization } });
    expect(missing.status).toBe(404);
    // The rest of the demo FHIR server stays open.
    expect((await fetch(`${srv.fhir}/Group/${COHORT_GROUP_ID}`)).status).toBe(200);
  });
});

describe('the cohort Group', () => {
  it('holds exactly the patients with a myositis Condition', () => {
    const conditions = srv.resources.filter((r): r is Condition => r.resourceType === 'Condition');
    const group = cohortGroup(conditions);
    expect(group).toMatchObject({ resourceType: 'Group', type: 'person', actual: true, id: COHORT_GROUP_ID });
    expect(group.member!.length).toBe(srv.members.size);
    expect(group.member!.length).toBeLessThan(20);
    expect(group.member!.length).toBeGreaterThan(10);
  });
});
