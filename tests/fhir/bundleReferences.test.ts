/**
 * Bundle references resolved as https://hl7.org/fhir/R4/bundle.html#references says, on the published shapes:
 * the HL7 R4 examples (Bundle "bundle-references" was written to show every resolution path) and a Synthea
 * transaction Bundle (tests/fixtures/fhir/README.md names each file's source).
 */
import { readFileSync } from 'node:fs';
import type { Bundle, MedicationRequest, Observation, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resolveEntries, typeAndId } from '../../src/fhir/bundleReferences.ts';
import { groupByPatient, patientRefOf } from '../../src/fhir/subject.ts';

const fixture = (name: string): Bundle =>
  JSON.parse(readFileSync(new URL(`../fixtures/fhir/${name}`, import.meta.url), 'utf8')) as Bundle;
const subjectOf = (r: Resource | undefined) => (r as Observation | undefined)?.subject?.reference;
const byKey = (resources: Resource[]) => new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));

describe('HL7 Bundle "bundle-references": every resolution path of bundle.html#references', () => {
  const bundle = fixture('hl7-bundle-references.json');
  const { resources, resolve } = resolveEntries(bundle.entry ?? []);
  const all = byKey(resources);

  it('a relative reference, and an absolute one to the entry, both become Patient/23', () => {
    expect(subjectOf(all.get('Observation/123'))).toBe('Patient/23');
    expect(subjectOf(all.get('Observation/124'))).toBe('Patient/23');
  });

  it('an id-less entry is named by the uuid of its urn:uuid fullUrl, and a reference to that fullUrl follows', () => {
    const uuid = '04121321-4af5-424c-a0e1-ed3aab1c349d';
    expect(all.get(`Patient/${uuid}`)?.resourceType).toBe('Patient');
    expect(subjectOf(all.get('Observation/12'))).toBe(`Patient/${uuid}`);
    expect(resolve(`urn:uuid:${uuid}`)).toBe(`Patient/${uuid}`);
  });

  it('a version-specific reference matches the unversioned entry', () => {
    expect(subjectOf(all.get('Observation/47'))).toBe('Patient/45');
  });

  it('the same Type/id under two servers’ fullUrls: both kept (the second renamed), neither dropped', () => {
    const fourteens = resources.filter((r) => r.resourceType === 'Observation' && r.id?.startsWith('14'));
    expect(fourteens.map((r) => r.id)).toEqual(['14', '14.2']);
    expect(resolve('http://example.org/fhir-2/Observation/14')).toBe('Observation/14.2');
    expect(resolve('http://example.org/fhir/Observation/14')).toBe('Observation/14');
  });

  it('two versions of one resource (same fullUrl) keep one name; an identifier-only subject is left alone', () => {
    expect(resources.filter((r) => r.resourceType === 'Patient' && r.id === '45')).toHaveLength(2);
    expect((all.get('Observation/48') as Observation).subject).toEqual({
      identifier: { system: 'http://example.org/ids', value: '1234567' },
    });
  });

  it('patients are grouped by the resolved subject', () => {
    const groups = groupByPatient(resources);
    expect(groups.get('Patient/23')?.map((r) => r.id)).toEqual(['23', '123', '124', '14.2']);
    expect(groups.get('Patient/04121321-4af5-424c-a0e1-ed3aab1c349d')?.map((r) => r.id)).toHaveLength(2);
  });

  it('the input is not modified (copy on write)', () => {
    const before = JSON.stringify(bundle);
    resolveEntries(bundle.entry ?? []);
    expect(JSON.stringify(bundle)).toBe(before);
    expect(subjectOf(bundle.entry?.[4]?.resource)).toBe('urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d');
  });
});

describe('HL7 Bundle "father" (document): id-less entries with urn:uuid fullUrls, absolute subjects', () => {
  const { resources } = resolveEntries(fixture('hl7-bundle-father.json').entry ?? []);
  const all = byKey(resources);

  it('the MedicationRequest and MedicationStatement get their fullUrl uuid as id and belong to Patient/d1', () => {
    const mr = all.get('MedicationRequest/124a6916-5d84-4b8c-b250-10cefb8e6e86') as MedicationRequest;
    expect(mr.subject?.reference).toBe('Patient/d1');
    expect(mr.requester?.reference).toBe('Practitioner/example');
    expect(patientRefOf(all.get('MedicationStatement/673f8db5-0ffd-4395-9657-6da00420bbc1')!)).toBe('Patient/d1');
  });

  it('the Composition’s section entries point at the renamed entries', () => {
    const refs = JSON.stringify(all.get('Composition/180f219f-97a8-486d-99d9-ed631fe4fc57'));
    expect(refs).toContain('"MedicationRequest/124a6916-5d84-4b8c-b250-10cefb8e6e86"');
    expect(refs).not.toContain('urn:uuid:');
  });
});

describe('Synthea transaction Bundle: everything by urn:uuid', () => {
  const { resources, fullUrls } = resolveEntries(fixture('synthea-rufus-kihn-excerpt.json').entry ?? []);
  const patient = 'Patient/98ab6aa3-882b-4206-8a91-e9a8dfa69008';

  it('every MedicationRequest belongs to the Patient entry, and its encounter and requester resolve', () => {
    const requests = resources.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest');
    expect(requests).toHaveLength(7);
    for (const r of requests) {
      expect(r.subject?.reference).toBe(patient);
      expect(r.encounter?.reference).toMatch(/^Encounter\/[0-9a-f-]{36}$/);
      expect(r.requester?.reference).toMatch(/^Practitioner\/[0-9a-f-]{36}$/);
    }
    // Everything but the two Organizations and two Practitioners is the patient's (the Patient itself included).
    expect(groupByPatient(resources).get(patient)).toHaveLength(resources.length - 4);
  });

  it('fullUrls are kept for each resource', () => {
    const p = resources.find((r) => r.resourceType === 'Patient')!;
    expect(fullUrls.get(p)).toBe('urn:uuid:98ab6aa3-882b-4206-8a91-e9a8dfa69008');
  });
});

describe('naming and reference forms', () => {
  const UUID = 'urn:uuid:0f5c3a1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b';
  const statement = (extra: object): Resource =>
    ({ resourceType: 'MedicationStatement', status: 'active', ...extra }) as Resource;

  it('urn:oid fullUrls name entries by the oid; absolute and versioned references reduce to Type/id', () => {
    const { resources } = resolveEntries([
      { fullUrl: 'urn:oid:1.2.840.113619.2.1', resource: { resourceType: 'Patient' } },
      { fullUrl: UUID, resource: statement({ subject: { reference: 'urn:oid:1.2.840.113619.2.1' } }) },
      { resource: statement({ id: 's2', subject: { reference: 'https://ehr.example/fhir/Patient/9/_history/3' } }) },
    ]);
    expect(resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual([
      'Patient/1.2.840.113619.2.1',
      'MedicationStatement/0f5c3a1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b',
      'MedicationStatement/s2',
    ]);
    expect(resources.map(subjectOf)).toEqual([undefined, 'Patient/1.2.840.113619.2.1', 'Patient/9']);
  });

  it('contained references stay local; unknown urn:uuid and conditional references are left as written', () => {
    const { resources } = resolveEntries([
      {
        fullUrl: UUID,
        resource: statement({
          medicationReference: { reference: '#med' },
          subject: { reference: 'urn:uuid:99999999-0000-4000-8000-000000000000' },
          informationSource: { reference: 'Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999962229' },
        }),
      },
    ]);
    expect(resources[0]).toMatchObject({
      medicationReference: { reference: '#med' },
      subject: { reference: 'urn:uuid:99999999-0000-4000-8000-000000000000' },
      informationSource: { reference: 'Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999962229' },
    });
  });

  it('an entry with neither id nor fullUrl gets the caller’s name, else a hash of its content (deterministic)', () => {
    const entries = [
      { resource: statement({ note: [{ text: 'a' }] }) },
      { resource: statement({ note: [{ text: 'b' }] }) },
    ];
    expect(resolveEntries(entries, { unnamed: (i) => `entry-${i + 1}` }).resources.map((r) => r.id)).toEqual([
      'entry-1',
      'entry-2',
    ]);
    const once = resolveEntries(entries).resources.map((r) => r.id);
    expect(once[0]).toMatch(/^h[0-9a-f]{16}$/);
    expect(once[0]).not.toBe(once[1]);
    expect(resolveEntries(structuredClone(entries)).resources.map((r) => r.id)).toEqual(once);
  });

  it('a relative reference is taken against the referring entry’s base first', () => {
    const { resources } = resolveEntries([
      { fullUrl: 'https://a.example/fhir/Patient/1', resource: { resourceType: 'Patient', id: '1' } },
      { fullUrl: 'https://b.example/fhir/Patient/1', resource: { resourceType: 'Patient', id: '1' } },
      {
        fullUrl: 'https://b.example/fhir/MedicationStatement/m',
        resource: statement({ id: 'm', subject: { reference: 'Patient/1' } }),
      },
    ]);
    expect(subjectOf(resources[2])).toBe('Patient/1.2');
  });

  it('typeAndId reads relative, absolute and versioned RESTful references only', () => {
    expect(typeAndId('Patient/x')).toBe('Patient/x');
    expect(typeAndId('http://h:8080/fhir/R4/Patient/x/_history/2')).toBe('Patient/x');
    expect(typeAndId('urn:uuid:0f5c3a1e-2b4d-4e6f-8a9b-0c1d2e3f4a5b')).toBeUndefined();
    expect(typeAndId('#c1')).toBeUndefined();
  });
});
