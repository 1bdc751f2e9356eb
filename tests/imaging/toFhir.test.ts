import { validateResource } from '@medplum/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { findingsDocumentSchema } from '../../src/imaging/findingsDocument.ts';
import { conclusion, toFhir } from '../../src/imaging/toFhir.ts';
import { findingProfile, reportProfile } from '../../src/profiles/catalog.ts';
import { DOC } from '../helpers/findings.ts';

beforeAll(() => loadFhirDefinitions());

describe('findings document → FHIR', () => {
  it('one profiled Observation per joint and side, coded as the README specifies', () => {
    const { observations } = toFhir(DOC, '2026-05-21T08:00:00.000Z');
    expect(observations).toHaveLength(4);
    const lh = observations[0]!;
    expect(lh.identifier).toEqual([
      { system: 'urn:osteowatch:osteonecrosis-finding', value: '2.25.123456789/hip/left' },
    ]);
    expect(lh.code.coding![0]).toMatchObject({ system: 'http://snomed.info/sct', code: '397758007' });
    expect(lh.code.text).toBe('Osteonecrosis');
    expect(lh.valueCodeableConcept!.coding![0]!.code).toBe('52101004');
    // One concept: the precoordinated left hip joint, not the joint and the side as two codings.
    expect(lh.bodySite).toEqual({
      coding: [{ system: 'http://snomed.info/sct', code: '362907004', display: 'Left hip joint structure' }],
      text: 'left hip',
    });
    expect(lh.derivedFrom![0]!.identifier).toEqual({ system: 'urn:dicom:uid', value: 'urn:oid:2.25.123456789' });
    const codes = lh.component!.map(
      (c) => c.valueCodeableConcept?.coding?.[0]?.code ?? c.valueQuantity?.value ?? c.valueBoolean,
    );
    expect(codes).toEqual(['hip-wb-gt-2/3', 35, 'steinberg-severe', false]);
    expect(observations[1]!.component!.map((c) => c.valueCodeableConcept?.coding?.[0]?.code)).toEqual([
      'medial-femoral',
      'lateral-tibial',
      'knee-surface-lt-25',
    ]);
    expect(observations[3]!.valueCodeableConcept!.coding![0]!.code).toBe('2667000');
    for (const o of observations)
      expect(validateResource(o, { profile: findingProfile() }).filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('the report concludes in words, naming the high-risk lesions', () => {
    expect(conclusion(DOC)).toBe(
      'Multifocal osteonecrosis in 3 joints (left hip, right knee, left ankle); high collapse risk: left hip.',
    );
    expect(conclusion({ ...DOC, sites: [DOC.sites[3]!] })).toBe('No osteonecrosis in the 1 site read.');
    expect(
      conclusion({ ...DOC, sites: [{ joint: 'knee', side: 'left', osteonecrosis: true, articularSurface: '>50%' }] }),
    ).toBe('Osteonecrosis of the left knee; high collapse risk: left knee.');
    const { report, provenance } = toFhir(DOC, '2026-05-21T08:00:00.000Z');
    expect(
      validateResource({ ...report, result: [{ reference: 'Observation/x' }] }, { profile: reportProfile() }).filter(
        (i) => i.severity === 'error',
      ),
    ).toEqual([]);
    expect(provenance.agent[0]!.who).toEqual({ reference: 'Practitioner/reader-1', display: 'Dr R. Reader' });
    expect(toFhir(DOC, 'x').provenance.id).toBe(provenance.id);
  });

  it.each([
    [
      'a hip share on a knee',
      { ...DOC, sites: [{ joint: 'knee', side: 'left', osteonecrosis: true, hipWeightBearingShare: '<1/3' }] },
      'hipWeightBearingShare applies to the hip only',
    ],
    [
      'condyles on a hip',
      { ...DOC, sites: [{ joint: 'hip', side: 'left', osteonecrosis: true, condyles: ['medial-femoral'] }] },
      'apply to the knee only',
    ],
    [
      'an extent on an absent finding',
      { ...DOC, sites: [{ joint: 'hip', side: 'left', osteonecrosis: false, collapse: true }] },
      'absent finding cannot carry',
    ],
    ['the same site twice', { ...DOC, sites: [DOC.sites[0], DOC.sites[0]] }, 'left hip is listed twice'],
    ['a bad study UID', { ...DOC, studyInstanceUid: '1.2.abc' }, 'DICOM UID'],
    [
      'an unknown joint',
      { ...DOC, sites: [{ joint: 'elbow', side: 'left', osteonecrosis: true }] },
      'joint must be one of',
    ],
  ])('rejects %s', (_n, doc, message) => {
    const r = findingsDocumentSchema.safeParse(doc);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toContain(message);
  });
});
