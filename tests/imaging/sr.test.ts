import { describe, expect, it } from 'vitest';
import { DicomInputError } from '../../src/imaging/dicom.ts';
import { findingsFromSr } from '../../src/imaging/sr.ts';
import { DOC } from '../helpers/findings.ts';
import { buildSr } from '../helpers/sr.ts';

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
  ])('refuses %s with a message naming the problem', (_n, make, message) => {
    expect(() => findingsFromSr(make())).toThrow(DicomInputError);
    expect(() => findingsFromSr(make())).toThrow(message);
  });
});
