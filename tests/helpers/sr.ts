/** Builds TID 1500 osteonecrosis SR files with dcmjs, as a reading tool or AI node would send them. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import dcmjs from 'dcmjs';
import type { FindingsDocument } from '../../src/imaging/findingsDocument.ts';
import { OSTW } from '../../src/imaging/sr.ts';

/**
 * A coded entry as PS3.3 §8.8 wants it (https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_8.8):
 * CodeValue is SH (at most 16 characters), so a longer code such as `hip-weight-bearing-share` goes in
 * LongCodeValue (0008,0119, UC), as DCMTK writes it; never both.
 */
const C = (value: string, CodingSchemeDesignator: string, CodeMeaning: string) => ({
  ...(value.length > 16 ? { LongCodeValue: value } : { CodeValue: value }),
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
  /** Content items appended to the first measurement group, e.g. an item the reader must refuse. */
  extra?: object[];
  /** Instead of the joint code: this finding site, with (default) or without the Laterality modifier. */
  findingSite?: { site: [string, string, string]; laterality: boolean };
}

/** A CODE content item (CONTAINS) named and valued in any coding scheme, for `extra`. */
export const codeItem = (name: [string, string, string], value: [string, string, string]) =>
  code('CONTAINS', C(...name), C(...value));

export function buildSr(doc: FindingsDocument, o: SrOptions): Buffer {
  const groups = doc.sites.map((s, i) => ({
    RelationshipType: 'CONTAINS',
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [C('125007', 'DCM', 'Measurement Group')],
    ContinuityOfContent: 'SEPARATE',
    ContentSequence: [
      code('CONTAINS', C('121071', 'DCM', 'Finding'), o.finding ?? C('397758007', 'SCT', 'Avascular necrosis of bone')),
      code(
        'HAS CONCEPT MOD',
        C('363698007', 'SCT', 'Finding Site'),
        o.findingSite ? C(...o.findingSite.site) : SITE[s.joint],
        o.findingSite?.laterality === false
          ? undefined
          : [code('HAS CONCEPT MOD', C('272741003', 'SCT', 'Laterality'), SIDE[s.side])],
      ),
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
      ...(i === 0 ? (o.extra ?? []) : []),
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

const run = promisify(execFile);

/**
 * The object as DCMTK writes it: `dcmdump +L +U8` to DCMTK's text dump, then `dump2dcm` (stopping on any error in
 * the dump) back to a Part 10 file, so that the bytes the reader gets are DCMTK's. `edit` may change the dump.
 */
export async function viaDcmtk(bytes: Uint8Array, edit: (dump: string) => string = (d) => d): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'osteowatch-dcmtk-'));
  writeFileSync(join(dir, 'in.dcm'), bytes);
  const dump = (await run('dcmdump', ['+L', '+U8', join(dir, 'in.dcm')], { maxBuffer: 20 * 1024 * 1024 })).stdout;
  writeFileSync(join(dir, 'dump.txt'), edit(dump));
  await run('dump2dcm', ['+l', '16777216', join(dir, 'dump.txt'), join(dir, 'out.dcm')]);
  return readFileSync(join(dir, 'out.dcm'));
}

/** `dump2dcm` of a DCMTK text dump (a fixture), stopping on any error in it. */
export async function dump2dcm(dumpFile: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'osteowatch-dump2dcm-'));
  await run('dump2dcm', ['+te', dumpFile, join(dir, 'out.dcm')]);
  return readFileSync(join(dir, 'out.dcm'));
}
