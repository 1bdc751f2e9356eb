/**
 * Search on the demo FHIR server as FHIR clients use it (https://hl7.org/fhir/R4/search.html): by GET and by POST
 * with a form body, unknown parameters ignored (or refused under Prefer: handling=strict), _summary=count, and
 * the R4 ImagingStudy `modality` parameter over the demo cohort's series.
 */
import type { Bundle, ImagingStudy, MedicationRequest, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { createSandboxKey, SandboxClient } from '../helpers/cdsSandbox.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

const FORM = 'application/x-www-form-urlencoded';
const MR = 'http://dicom.nema.org/resources/ontology/DCM|MR';
let srv: RunningServer;
let cohort: Resource[];
/** A patient with several MedicationRequests, and how many. */
let withRequests: { id: string; count: number };

beforeAll(async () => {
  cohort = generateCohort({ size: 40, seed: 11, asOf: '2026-06-30' });
  srv = await startServer(cohort, { maxPageSize: 5 });
  const counts = new Map<string, number>();
  for (const r of cohort)
    if (r.resourceType === 'MedicationRequest') {
      const id = (r as MedicationRequest).subject.reference!.split('/')[1]!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  const [id, count] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  withRequests = { id, count };
  // Enough for two pages of two.
  expect(count).toBeGreaterThan(2);
});
afterAll(() => srv.close());

interface Answer {
  status: number;
  /** A searchset Bundle, or an OperationOutcome (its issues). */
  body: Bundle & Pick<OperationOutcome, 'issue'>;
}
const get = async (path: string, headers: Record<string, string> = {}): Promise<Answer> => {
  const res = await fetch(`${srv.fhirUrl}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as never };
};
const post = async (path: string, body: string, headers: Record<string, string> = {}): Promise<Answer> => {
  const res = await fetch(`${srv.fhirUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': FORM, accept: 'application/json+fhir', ...headers },
    body,
  });
  return { status: res.status, body: (await res.json()) as never };
};
const matches = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id);
const link = (b: Bundle, relation: string) => b.link?.find((l) => l.relation === relation)?.url;
const params = (url: string | undefined) => [...new URL(url!).searchParams].sort();

describe('search by POST', () => {
  it('answers POST [type]/_search with a form body exactly as GET [type]?…, paging links included', async () => {
    const q = `patient=${withRequests.id}&_count=2`;
    const byGet = await get(`/MedicationRequest?${q}`);
    const byPost = await post('/MedicationRequest/_search', q);
    expect(byPost.status).toBe(200);
    expect(byPost.body.total).toBe(withRequests.count);
    expect(byPost.body.total).toBe(byGet.body.total);
    expect(matches(byPost.body)).toEqual(matches(byGet.body));
    expect(byPost.body.link).toEqual(byGet.body.link);
    // The next link is a GET URL on the type, carrying the parameters.
    const next = link(byPost.body, 'next')!;
    expect(next.startsWith(`${srv.fhirUrl}/MedicationRequest?`)).toBe(true);
    expect(params(next)).toEqual(
      [
        ['patient', withRequests.id],
        ['_count', '2'],
        ['_offset', '2'],
      ].sort(),
    );
    const page2 = (await (await fetch(next)).json()) as Bundle;
    expect(matches(page2)).toHaveLength(Math.min(2, withRequests.count - 2));
    expect(matches(page2).some((id) => matches(byPost.body).includes(id))).toBe(false);
  });

  it('combines parameters from the URL and the body', async () => {
    const byPost = await post(`/MedicationRequest/_search?patient=${withRequests.id}`, 'intent=order&_count=50');
    const byGet = await get(`/MedicationRequest?patient=${withRequests.id}&intent=order&_count=50`);
    expect(byPost.status).toBe(200);
    expect(byPost.body.total).toBe(byGet.body.total);
    expect(matches(byPost.body)).toEqual(matches(byGet.body));
    expect(params(link(byPost.body, 'self'))).toEqual(params(link(byGet.body, 'self')));
    expect(params(link(byPost.body, 'self'))).toContainEqual(['intent', 'order']);
  });

  it('also answers GET [type]/_search?…', async () => {
    const r = await get(`/MedicationRequest/_search?patient=${withRequests.id}`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(withRequests.count);
  });

  it('refuses a JSON body for search by POST with an OperationOutcome', async () => {
    const r = await post('/MedicationRequest/_search', '{"patient":"x"}', { 'content-type': 'application/json' });
    expect(r.status).toBe(415);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });

  it('serves the CDS Hooks Sandbox: launch, then prefetch by POST _search from a browser origin', async () => {
    const client = new SandboxClient({
      discoveryUrl: `${srv.baseUrl}/cds-services`,
      fhirServer: srv.fhirUrl,
      patientId: withRequests.id,
      privateKey: (await createSandboxKey()).privateKey,
    });
    const launched = await client.launch();
    expect(launched.fhirVersion).toBe('4.0.1');
    const prefetch = await client.prefetch(
      { patient: 'Patient/{{context.patientId}}', requests: 'MedicationRequest?patient={{context.patientId}}' },
      { patientId: withRequests.id },
    );
    expect((prefetch.requests as Bundle).total).toBe(withRequests.count);
    // The POST succeeded, so the Sandbox never fell back to GET for the search.
    const searches = client.exchanges.filter((e) => e.url.includes('MedicationRequest'));
    expect(searches.map((e) => [e.method, e.status])).toEqual([['POST', 200]]);
  });
});

describe('unknown search parameters', () => {
  it('are ignored by default, left out of the self link, and named in a warning', async () => {
    const plain = await get(`/MedicationRequest?patient=${withRequests.id}&_count=50`);
    const r = await get(`/MedicationRequest?patient=${withRequests.id}&foo=bar&_count=50`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(withRequests.count);
    expect(matches(r.body)).toEqual(matches(plain.body));
    const self = link(r.body, 'self');
    expect(self).not.toContain('foo');
    expect(params(self)).toEqual(params(link(plain.body, 'self')));
    const warning = r.body.entry!.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome;
    expect(warning.issue[0]).toMatchObject({ severity: 'warning', code: 'not-supported' });
    expect(warning.issue[0]!.details!.text).toContain('"foo"');
  });

  it('are refused with 400 and an OperationOutcome naming them under Prefer: handling=strict', async () => {
    for (const prefer of ['handling=strict', 'return=representation, handling=strict']) {
      const r = await get(`/MedicationRequest?patient=${withRequests.id}&foo=bar`, { prefer });
      expect(r.status).toBe(400);
      expect(r.body.resourceType).toBe('OperationOutcome');
      expect(r.body.issue[0]!.details!.text).toContain('"foo"');
      expect(r.body.issue[0]!.location).toEqual(['http.foo']);
    }
    const viaPost = await post('/MedicationRequest/_search', 'patient=x&_sort=nope', { prefer: 'handling=strict' });
    expect(viaPost.status).toBe(400);
    expect(viaPost.body.issue[0]!.details!.text).toContain('"nope"');
    const contained = await get('/MedicationRequest?_contained=true', { prefer: 'handling=strict' });
    expect(contained.status).toBe(400);
  });

  it('accepts, even under strict handling, result parameters, modifiers and chains on known parameters', async () => {
    const strict = { prefer: 'handling=strict' };
    const id = withRequests.id;
    const known = [
      `/MedicationRequest?patient=${id}&_sort=-authoredon&_count=3&_offset=0&_total=accurate&_elements=id&_summary=false&_format=json`,
      `/MedicationRequest?subject:Patient=${id}`,
      `/MedicationRequest?patient=${id}&status:not=entered-in-error&code:text=none&_lastUpdated=gt2000-01-01`,
      `/MedicationRequest?patient.identifier=urn:osteowatch:demo:mrn|MRN-${id.slice(3)}`,
      `/MedicationRequest?patient:Patient._id=${id}&_include=MedicationRequest:medication`,
      `/MedicationRequest?patient=${id}&_tag:missing=true&_security:missing=true&_profile:missing=true&_id:missing=false`,
    ];
    for (const path of known) {
      const r = await get(path, strict);
      expect(r.status, path).toBe(200);
      expect(r.body.total, path).toBe(path.includes('code:text') ? 0 : withRequests.count);
    }
  });

  it('refuses a modifier the server does not support, whatever the handling', async () => {
    for (const path of ['/Patient?name:exact=Smith', `/MedicationRequest?status:in=http://x/vs`, '/Patient?name.x=1']) {
      const r = await get(path);
      if (path.includes('name.x')) {
        // A chain through a parameter that is not a reference is an unknown parameter: ignored.
        expect(r.status).toBe(200);
        continue;
      }
      expect(r.status, path).toBe(400);
      expect(r.body.issue[0]!.details!.text).toContain('not supported by this server');
    }
  });
});

describe('_summary=count', () => {
  it('returns the total and no entries, with or without _total, by GET and POST', async () => {
    const variants = [
      await get('/Patient?_summary=count'),
      await get('/Patient?_summary=count&_total=none'),
      await get('/Patient?_total=accurate&_summary=count&_count=3'),
      await get('/Patient?_count=3&_summary=count&_total=estimate'),
      await get('/Patient?_count=0'),
      await post('/Patient/_search', '_summary=count'),
    ];
    for (const r of variants) {
      expect(r.status).toBe(200);
      expect(r.body.type).toBe('searchset');
      expect(r.body.total).toBe(40);
      expect(r.body.entry).toBeUndefined();
      expect(r.body.link?.map((l) => l.relation)).toEqual(['self']);
    }
    expect(params(link(variants[0]!.body, 'self'))).toEqual([['_summary', 'count']]);
    const filtered = await get(`/MedicationRequest?patient=${withRequests.id}&_summary=count`);
    expect(filtered.body.total).toBe(withRequests.count);
    expect(filtered.body.entry).toBeUndefined();
  });
});

describe('ImagingStudy modality (R4: ImagingStudy.series.modality)', () => {
  it('finds the demo cohort WB-MRI studies by patient and modality', async () => {
    const studies = cohort.filter((r): r is ImagingStudy => r.resourceType === 'ImagingStudy');
    expect(studies.length).toBeGreaterThan(0);
    for (const s of studies) expect(s.series?.every((x) => x.modality.code === 'MR' && x.uid)).toBe(true);
    const byPatient = Map.groupBy(studies, (s) => s.subject.reference!.split('/')[1]!);
    for (const [patient, own] of byPatient) {
      const r = await get(`/ImagingStudy?patient=${patient}&modality=${MR}`);
      expect(r.status).toBe(200);
      expect(r.body.total).toBe(own.length);
      const ct = await get(`/ImagingStudy?patient=${patient}&modality=http://dicom.nema.org/resources/ontology/DCM|CT`);
      expect(ct.body.total).toBe(0);
    }
  });

  it('does not find a study that carries only the study-level modality, which is why the cohort has series', async () => {
    const patient = withRequests.id;
    const bare: ImagingStudy = {
      resourceType: 'ImagingStudy',
      status: 'available',
      subject: { reference: `Patient/${patient}` },
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MR' }],
    };
    const before = (await get(`/ImagingStudy?patient=${patient}&modality=${MR}`)).body.total!;
    await srv.repo.createResource(bare);
    expect((await get(`/ImagingStudy?patient=${patient}&modality=${MR}`)).body.total).toBe(before);
    await srv.repo.createResource({ ...bare, series: [{ uid: '2.25.1', modality: bare.modality![0]! }] });
    expect((await get(`/ImagingStudy?patient=${patient}&modality=${MR}`)).body.total).toBe(before + 1);
  });
});
