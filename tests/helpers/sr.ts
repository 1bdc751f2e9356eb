/** Builds TID 1500 osteonecrosis SR files with dcmjs, as a reading tool or AI node would send them. */
import dcmjs from 'dcmjs';
import type { FindingsDocument } from '../../src/imaging/findingsDocument.ts';
import { OSTW } from '../../src/imaging/sr.ts';

const C = (CodeValue: string, CodingSchemeDesignator: string, CodeMeaning: string) => ({
  CodeValue,
  CodingSchemeDesignator,
  CodeMeaning,
});
const code = (rel: string, name: ReturnType<typeof C>, value: ReturnType<typeof C>, kids?: object[]) => ({
  RelationshipType: rel,
  ValueType: 'CODE',
  ConceptNameCodeSequence: [name],
  ConceptCodeSequence: [value],
  ...(kids ? { ContentSequence: kids } : {}),
});
const SITE = {
  hip: C('24136001', 'SCT', 'Hip joint'),
  knee: C('49076000', 'SCT', 'Knee joint'),
  ankle: C('70258002', 'SCT', 'Ankle joint'),
  shoulder: C('16982005', 'SCT', 'Shoulder region'),
  calcaneus: C('80144004', 'SCT', 'Calcaneus'),
};
const SIDE = { left: C('7771000', 'SCT', 'Left'), right: C('24028007', 'SCT', 'Right') };

export interface SrOptions {
  patientId: string;
  finding?: ReturnType<typeof C>;
  template?: string;
}

export function buildSr(doc: FindingsDocument, o: SrOptions): Buffer {
  const groups = doc.sites.map((s) => ({
    RelationshipType: 'CONTAINS',
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [C('125007', 'DCM', 'Measurement Group')],
    ContinuityOfContent: 'SEPARATE',
    ContentSequence: [
      code('CONTAINS', C('121071', 'DCM', 'Finding'), o.finding ?? C('397758007', 'SCT', 'Avascular necrosis of bone')),
      code('HAS CONCEPT MOD', C('363698007', 'SCT', 'Finding Site'), SITE[s.joint], [
        code('HAS CONCEPT MOD', C('272741003', 'SCT', 'Laterality'), SIDE[s.side]),
      ]),
      code(
        'CONTAINS',
        C('705057003', 'SCT', 'Presence'),
        s.osteonecrosis ? C('52101004', 'SCT', 'Present') : C('2667000', 'SCT', 'Absent'),
      ),
      ...(s.necroticSharePercent !== undefined
        ? [
            {
              RelationshipType: 'CONTAINS',
              ValueType: 'NUM',
              ConceptNameCodeSequence: [C('necrotic-share', OSTW, 'Necrotic share')],
              MeasuredValueSequence: [
                { NumericValue: s.necroticSharePercent, MeasurementUnitsCodeSequence: [C('%', 'UCUM', 'percent')] },
              ],
            },
          ]
        : []),
      ...(s.hipWeightBearingShare
        ? [
            code(
              'CONTAINS',
              C('hip-weight-bearing-share', OSTW, 'Hip share'),
              C(
                { '<1/3': 'hip-wb-lt-1/3', '1/3-2/3': 'hip-wb-1/3-2/3', '>2/3': 'hip-wb-gt-2/3' }[
                  s.hipWeightBearingShare
                ],
                OSTW,
                s.hipWeightBearingShare,
              ),
            ),
          ]
        : []),
      ...(s.articularSurface
        ? [
            code(
              'CONTAINS',
              C('knee-articular-surface', OSTW, 'Knee surface'),
              C(
                { '<25%': 'knee-surface-lt-25', '25-50%': 'knee-surface-25-50', '>50%': 'knee-surface-gt-50' }[
                  s.articularSurface
                ],
                OSTW,
                s.articularSurface,
              ),
            ),
          ]
        : []),
      ...(s.condyles ?? []).map((k) => code('CONTAINS', C('knee-condyle', OSTW, 'Condyle'), C(k, OSTW, k))),
      ...(s.collapse !== undefined
        ? [
            code(
              'CONTAINS',
              C('articular-collapse', OSTW, 'Articular collapse'),
              s.collapse ? C('373066001', 'SCT', 'Yes') : C('373067005', 'SCT', 'No'),
            ),
          ]
        : []),
    ],
  }));
  const dataset = {
    _meta: {},
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.34',
    SOPInstanceUID: dcmjs.data.DicomMetaDictionary.uid(),
    Modality: 'SR',
    PatientID: o.patientId,
    PatientName: 'Test^Patient',
    StudyInstanceUID: doc.studyInstanceUid,
    StudyDate: doc.studyDate.replace(/-/g, ''),
    SeriesInstanceUID: dcmjs.data.DicomMetaDictionary.uid(),
    SeriesNumber: '900',
    InstanceNumber: '1',
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentDate: doc.studyDate.replace(/-/g, ''),
    ContentTime: '120000',
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [C('126000', 'DCM', 'Imaging Measurement Report')],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: o.template ?? '1500' }],
    CodingSchemeIdentificationSequence: [
      { CodingSchemeDesignator: OSTW, CodingSchemeName: 'OsteoWatch osteonecrosis grading', CodingSchemeUID: '2.25.1' },
    ],
    ContentSequence: [
      {
        RelationshipType: 'HAS OBS CONTEXT',
        ValueType: 'PNAME',
        ConceptNameCodeSequence: [C('121008', 'DCM', 'Person Observer Name')],
        PersonName: doc.reader.display.replace(/ /g, '^'),
      },
      {
        RelationshipType: 'CONTAINS',
        ValueType: 'CONTAINER',
        ConceptNameCodeSequence: [C('126010', 'DCM', 'Imaging Measurements')],
        ContinuityOfContent: 'SEPARATE',
        ContentSequence: groups,
      },
    ],
  };
  return dcmjs.data.datasetToBuffer(dataset);
}
