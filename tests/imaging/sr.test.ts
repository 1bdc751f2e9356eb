import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codeValue, DicomInputError } from '../../src/imaging/dicom.ts';
import { findingsFromSr } from '../../src/imaging/sr.ts';
import { toFhir } from '../../src/imaging/toFhir.ts';
import { osteonecrosisFindings } from '../../src/screening/imaging.ts';
import { DOC } from '../helpers/findings.ts';
import { buildSr, codeItem } from '../helpers/sr.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/dicom/${name}`, import.meta.url));

describe('DICOM SR (TID 1500) → findings document', () => {
  it('reads every joint and side with presence, extent, share, condyles and collapse', () => {
    const doc = findingsFromSr(buildSr(DOC, { patientId: 'p1' }));
    expect(doc.patient).toBe('Patient/p1');
    expect(doc.studyInstanceUid).toBe(DOC.studyInstanceUid);
    expect(doc.studyDate).toBe('2026-05-20');
    expect(doc.reader.display).toBe('Dr R. Reader');
    expect(doc.sites).toEqual(DOC.sites);
  });

  it.each([
    ['a file that is not DICOM', () => Buffer.from('this is not dicom'), 'not a DICOM Part 10 file'],
    ['an unknown template', () => buildSr(DOC, { patientId: 'p1', template: '2000' }), 'unknown SR template 2000'],
    [
      'an unknown finding code',
      () =>
        buildSr(DOC, {
          patientId: 'p1',
          finding: { CodeValue: '22298006', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Myocardial infarction' },
        }),
      'unknown finding (22298006, SCT, "Myocardial infarction")',
    ],
    [
      'an item of our own scheme that it does not know',
      () =>
        buildSr(DOC, {
          patientId: 'p1',
          extra: [codeItem(['hip-crescent-sign-extent', '99OSTW', 'Crescent sign'], ['present', '99OSTW', 'x'])],
        }),
      'measurement group 1: unknown 99OSTW item (hip-crescent-sign-extent, 99OSTW, "Crescent sign")',
    ],
    [
      'a value of our own scheme that it does not know',
      () =>
        buildSr(
          { ...DOC, sites: [{ ...DOC.sites[0]!, hipWeightBearingShare: undefined }] },
          {
            patientId: 'p1',
            extra: [codeItem(['hip-weight-bearing-share', '99OSTW', 'Hip share'], ['hip-wb-half', '99OSTW', 'half'])],
          },
        ),
      'unknown value (hip-wb-half, 99OSTW, "half") for hip-weight-bearing-share',
    ],
  ])('refuses %s with a message naming the problem', (_n, make, message) => {
    expect(() => findingsFromSr(make())).toThrow(DicomInputError);
    expect(() => findingsFromSr(make())).toThrow(message);
  });
});

describe('finding sites', () => {
  it('a lateralised finding site (Left hip joint structure, 362907004) gives joint and side; a contradiction is refused', () => {
    const doc = { ...DOC, sites: [DOC.sites[3]!] }; // right hip, absent
    const leftHip = ['362907004', 'SCT', 'Left hip joint structure'] as [string, string, string];
    expect(
      findingsFromSr(buildSr(doc, { patientId: 'p1', findingSite: { site: leftHip, laterality: false } })).sites,
    ).toEqual([{ joint: 'hip', side: 'left', osteonecrosis: false }]);
    expect(() =>
      findingsFromSr(buildSr(doc, { patientId: 'p1', findingSite: { site: leftHip, laterality: true } })),
    ).toThrow(
      'finding site (362907004, SCT, "Left hip joint structure") contradicts laterality (24028007, SCT, "Right")',
    );
  });
});

describe('coded entries: CodeValue, LongCodeValue or URNCodeValue (PS3.3 §8.8)', () => {
  it('a value is read from whichever of the three is present', () => {
    expect(codeValue({ CodeValue: '397758007' })).toBe('397758007');
    expect(codeValue({ LongCodeValue: 'articular-collapse' })).toBe('articular-collapse');
    expect(codeValue({ URNCodeValue: 'urn:oid:2.25.1' })).toBe('urn:oid:2.25.1');
    expect(codeValue({ CodeValue: '', LongCodeValue: 'knee-surface-gt-50' })).toBe('knee-surface-gt-50');
    expect(codeValue({})).toBeUndefined();
  });

  it('a DCMTK-written report with LongCodeValue items: the collapsed knee and its extent are read, and carded critical', () => {
    // tests/fixtures/dicom/sr-collapsed-knee.dcm: dump2dcm of the hand-written DCMTK dump beside it (README.md).
    const doc = findingsFromSr(fixture('sr-collapsed-knee.dcm'));
    expect(doc.reader.display).toBe('Reader Rita');
    expect(doc.sites).toEqual([
      {
        joint: 'knee',
        side: 'left',
        osteonecrosis: true,
        condyles: ['medial-femoral'],
        articularSurface: '>50%',
        collapse: true,
      },
    ]);
    const [finding] = osteonecrosisFindings(
      toFhir(doc, '2026-05-21T08:00:00Z').observations.map((o) => ({ ...o, id: 'k' })),
    );
    expect(finding).toMatchObject({ joint: 'knee', side: 'left', collapse: true, highCollapseRisk: true });
    expect(finding!.extent).toEqual(['over 50% of the articular surface']);
  });
});
