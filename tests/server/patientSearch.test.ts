/**
 * `patient=<id>` on the demo FHIR server runs as `subject=Patient/<id>` where the R4 definitions make the two the
 * same search (fhirSearch.ts fastPatient, searchParams.ts patientSearchIsSubject): Medplum's in-memory search
 * evaluates `patient` through the whole clinical-patient union, resolve() and all, on every resource — seconds on
 * the demo's MedicationStatements. Checked here: which types are rewritten (from Medplum's definitions), that the
 * planned query is the subject one (speed-independent), and that what a client sees is unchanged: the same
 * Bundles, page by page, as `subject=Patient/<id>` and as Medplum's own evaluation of `patient`, with the links
 * still showing the search as the client asked it.
 */
import { getResourceTypes, parseSearchRequest } from '@medplum/core';
import type { Bundle, Reference, Resource, ResourceType } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoCohort } from '../../src/demo/seed.ts';
import { planSearch, type SearchPlan } from '../../src/server/fhirSearch.ts';
import { patientSearchIsSubject } from '../../src/server/searchParams.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

/** The R4 types whose `patient` is `<path>.where(resolve() is Patient)` and whose `subject` is `<path>`. */
const REWRITTEN = [
  'Account',
  'Basic',
  'CarePlan',
  'CareTeam',
  'ChargeItem',
  'ClinicalImpression',
  'Communication',
  'CommunicationRequest',
  'Composition',
  'Condition',
  'Contract',
  'DeviceRequest',
  'DiagnosticReport',
  'DocumentManifest',
  'DocumentReference',
  'Encounter',
  'Flag',
  'Goal',
  'GuidanceResponse',
  'ImagingStudy',
  'Invoice',
  'List',
  'MeasureReport',
  'Media',
  'MedicationAdministration',
  'MedicationDispense',
  'MedicationRequest',
  'MedicationStatement',
  'Observation',
  'Procedure',
  'QuestionnaireResponse',
  'RequestGroup',
  'RiskAssessment',
  'ServiceRequest',
  'Specimen',
  'Task',
];
/** Types the demo seeds; every other rewritten type gets a few resources of its own below. */
const SEEDED = [
  'Condition',
  'DiagnosticReport',
  'ImagingStudy',
  'MedicationAdministration',
  'MedicationRequest',
  'MedicationStatement',
];
const LIMITS = { defaultPageSize: 20, maxPageSize: 100 };

let srv: RunningServer;
let patients: string[];

beforeAll(async () => {
  srv = await startServer([], { maxPageSize: 4 });
  // The demo's own seeding (src/main.ts), on a smaller cohort.
  await seedDemoCohort(srv.repo, { size: 40, seed: 42, asOf: '2026-06-30' });
  // First a patient with resources of every seeded type, then two others.
  const typesOf = new Map<string, Set<string>>();
  for (const type of SEEDED)
    for (const r of await srv.repo.searchResources({ resourceType: type as ResourceType, count: 100_000 })) {
      const id = (r as { subject?: Reference }).subject?.reference?.replace(/^Patient\//, '') ?? '';
      typesOf.set(id, (typesOf.get(id) ?? new Set()).add(type));
    }
  const ids = (await srv.repo.searchResources({ resourceType: 'Patient', count: 1000 })).map((p) => p.id);
  const full = ids.find((id) => typesOf.get(id)?.size === SEEDED.length)!;
  expect(full).toBeDefined();
  patients = [full, ...ids.filter((id) => id !== full).slice(0, 2)];
  // For each rewritten type, resources whose subject (Task: `for`) is one of the patients, a Group, a bare
  // display and an absolute Patient URL: only the first are the patient's, by either parameter.
  for (const type of REWRITTEN) {
    const path = type === 'Task' ? 'for' : 'subject';
    const refs = [
      { reference: `Patient/${patients[0]}` },
      { reference: `Patient/${patients[0]}` },
      { reference: `Patient/${patients[1]}` },
      { reference: 'Group/osteowatch-myositis-cohort' },
      { reference: `Group/${patients[0]}` },
      { display: 'Someone' },
    ];
    for (const ref of refs)
      await srv.repo.createResource({ resourceType: type, [path]: type === 'Contract' ? [ref] : ref } as Resource);
  }
});
afterAll(() => srv.close());

const plan = (type: string, pairs: Array<[string, string]>) => planSearch(type, pairs, true, LIMITS) as SearchPlan;
const queryOf = (p: SearchPlan) => [...new URLSearchParams(p.query)].filter(([k]) => !k.startsWith('_'));

describe('which searches are rewritten', () => {
  it('finds, in the definitions Medplum ships, the types whose patient parameter is subject as a Patient', () => {
    const found = getResourceTypes().filter((t) => patientSearchIsSubject(t));
    expect(found.sort()).toEqual([...REWRITTEN].sort());
    // patient is a plain element there (no resolve() to save), or there is no subject.
    for (const t of ['AllergyIntolerance', 'DeviceUseStatement', 'Appointment', 'Provenance', 'Patient'])
      expect(patientSearchIsSubject(t), t).toBe(false);
  });

  it('plans subject=Patient/<id> for patient=, keeping what the client asked for the links', () => {
    for (const type of REWRITTEN) {
      const p = plan(type, [['patient', 'ow-0002']]);
      expect(queryOf(p), type).toEqual([['subject', 'Patient/ow-0002']]);
      expect(p.used).toEqual([['patient', 'ow-0002']]);
    }
    const t = 'MedicationStatement';
    expect(queryOf(plan(t, [['patient', 'Patient/ow-0002']]))).toEqual([['subject', 'Patient/ow-0002']]);
    expect(queryOf(plan(t, [['patient', 'ow-0002,Patient/ow-0003']]))).toEqual([
      ['subject', 'Patient/ow-0002,Patient/ow-0003'],
    ]);
    expect(queryOf(plan(t, [['patient:Patient', 'ow-0002']]))).toEqual([['subject', 'Patient/ow-0002']]);
    expect(
      queryOf(
        plan(t, [
          ['patient', 'a'],
          ['patient', 'b'],
          ['status', 'active'],
        ]),
      ),
    ).toEqual([
      ['subject', 'Patient/a'],
      ['subject', 'Patient/b'],
      ['status', 'active'],
    ]);
  });

  it('leaves alone what it cannot rewrite exactly', () => {
    const same: Array<[string, Array<[string, string]>]> = [
      ['AllergyIntolerance', [['patient', 'ow-0002']]],
      ['DeviceUseStatement', [['patient', 'ow-0002']]],
      ['MedicationStatement', [['patient:missing', 'true']]],
      ['MedicationStatement', [['patient.identifier', 'urn:x|1']]],
      ['MedicationStatement', [['patient', 'Group/ow-0002']]],
      ['MedicationStatement', [['patient', 'ow-0002,Group/g']]],
      ['MedicationStatement', [['patient', 'http://example.org/fhir/Patient/ow-0002']]],
      ['MedicationStatement', [['patient', '']]],
      ['MedicationStatement', [['patient', 'a\\,b']]],
    ];
    for (const [type, pairs] of same) expect(queryOf(plan(type, pairs)), `${type} ${pairs}`).toEqual(pairs);
  });
});

interface Page {
  bundle: Bundle;
  /** Link relation → the URL's parameters, sorted. */
  links: Record<string, Array<[string, string]>>;
}
const pages = async (first: string, init?: RequestInit): Promise<Page[]> => {
  const out: Page[] = [];
  let res = await fetch(first, init);
  for (;;) {
    expect(res.status, first).toBe(200);
    const bundle = (await res.json()) as Bundle;
    const links = Object.fromEntries(
      (bundle.link ?? []).map((l) => [l.relation, [...new URL(l.url).searchParams].sort()]),
    );
    out.push({ bundle, links });
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    if (!next) return out;
    res = await fetch(next);
  }
};
/** A link's parameters with the client's `patient` put as the equivalent `subject`. */
const asSubject = (params: Array<[string, string]>) =>
  params
    .map(([k, v]): [string, string] =>
      k === 'patient'
        ? [
            'subject',
            v
              .split(',')
              .map((x) => (x.startsWith('Patient/') ? x : `Patient/${x}`))
              .join(','),
          ]
        : [k, v],
    )
    .sort();
const ids = (ps: Page[]) => ps.flatMap((p) => (p.bundle.entry ?? []).map((e) => e.resource!.id!));

describe('patient= answers as subject=Patient/<id> and as Medplum evaluates patient', () => {
  it('gives identical Bundles, page by page, for every rewritten type', async () => {
    const [a, b] = patients;
    const variants = [a!, `Patient/${a}`, `${a},${b}`, `Patient/${b},${a}`, 'ow-9999'];
    for (const type of REWRITTEN) {
      for (const value of variants) {
        const subject = asSubject([['patient', value]])[0]![1];
        const byPatient = await pages(`${srv.fhirUrl}/${type}?patient=${value}&_count=3`);
        const bySubject = await pages(`${srv.fhirUrl}/${type}?subject=${subject}&_count=3`);
        const what = `${type}?patient=${value}`;
        expect(byPatient.length, what).toBe(bySubject.length);
        for (const [i, page] of byPatient.entries()) {
          const other = bySubject[i]!;
          expect(page.bundle.total, what).toBe(other.bundle.total);
          expect(page.bundle.entry, what).toEqual(other.bundle.entry);
          // The links repeat the client's own search (patient=…), and are otherwise the subject search's.
          expect(page.links.self!.some(([k, v]) => k === 'patient' && v === value)).toBe(true);
          expect(Object.keys(page.links).sort(), what).toEqual(Object.keys(other.links).sort());
          for (const [relation, params] of Object.entries(page.links))
            expect(asSubject(params), `${what} ${relation}`).toEqual(other.links[relation]);
        }
        // And the same resources, in the same order, as Medplum's own (slow) evaluation of `patient`.
        const medplum = await srv.repo.search(parseSearchRequest(`${type}?patient=${value}&_count=1000`));
        expect(ids(byPatient), what).toEqual((medplum.entry ?? []).map((e) => e.resource!.id));
        expect(byPatient[0]!.bundle.total, what).toBe(medplum.total);
        if (SEEDED.includes(type) && value === a) expect(medplum.total, what).toBeGreaterThan(2);
        if (!SEEDED.includes(type) && value === a) expect(medplum.total, what).toBe(2);
      }
    }
  });

  it('answers POST _search (as the CDS Hooks Sandbox prefetches) exactly as GET', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (const type of SEEDED) {
      const q = `patient=${patients[0]}&_count=3`;
      const byGet = await pages(`${srv.fhirUrl}/${type}?${q}`);
      const byPost = await pages(`${srv.fhirUrl}/${type}/_search`, { method: 'POST', headers: form, body: q });
      expect(
        byPost.map((p) => [p.bundle.total, p.bundle.entry, p.links]),
        type,
      ).toEqual(byGet.map((p) => [p.bundle.total, p.bundle.entry, p.links]));
    }
  });
});
