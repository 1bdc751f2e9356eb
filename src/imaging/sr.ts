/**
 * DICOM SR (TID 1500 Imaging Measurement Report,
 * https://dicom.nema.org/medical/dicom/current/output/html/part16.html#sect_TID_1500) → the findings document. One Measurement Group per joint
 * and side: Finding (121071, DCM) = osteonecrosis (397758007, SCT); Finding Site (363698007, SCT) with a
 * Laterality (272741003, SCT) modifier; Presence (705057003, SCT) = present/absent; and the grading items of
 * our CodeSystem under the private scheme 99OSTW (declared in CodingSchemeIdentificationSequence).
 * Anything else is refused with a message naming it: nothing is written from a report we do not understand.
 */
import { type Dataset, DicomInputError, readDataset, SR_CLASSES } from './dicom.ts';
import { type FindingsDocument, findingsDocumentSchema, type JointName } from './findingsDocument.ts';

export const OSTW = '99OSTW';

/** Finding sites (SNOMED CT) → joints; the femoral head reports at the hip. */
export const SITE_TO_JOINT: Record<string, JointName> = {
  '24136001': 'hip',
  '2812003': 'hip',
  '29836001': 'hip',
  '49076000': 'knee',
  '72696002': 'knee',
  '310652005': 'knee',
  '70258002': 'ankle',
  '67453005': 'ankle',
  '16982005': 'shoulder',
  '119524001': 'shoulder',
  '80144004': 'calcaneus',
};

type Item = Record<string, unknown>;
interface Code {
  CodeValue?: string;
  CodingSchemeDesignator?: string;
  CodeMeaning?: string;
}

const list = (x: unknown): Item[] =>
  x === undefined || x === null ? [] : Array.isArray(x) ? (x as Item[]) : [x as Item];
const first = (x: unknown): Code | undefined => list(x)[0] as Code | undefined;
const is = (c: Code | undefined, value: string, scheme: string) =>
  c?.CodeValue === value &&
  (c.CodingSchemeDesignator === scheme || (scheme === 'SCT' && c.CodingSchemeDesignator === 'SRT'));
const show = (c: Code | undefined) =>
  c ? `(${c.CodeValue}, ${c.CodingSchemeDesignator}, "${c.CodeMeaning ?? ''}")` : '(none)';
const isoDate = (da: unknown) =>
  typeof da === 'string' && /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : undefined;

function group(g: Item, index: number): FindingsDocument['sites'][number] {
  const where = `measurement group ${index + 1}`;
  let finding: Code | undefined;
  let site: Code | undefined;
  let laterality: Code | undefined;
  let presence: Code | undefined;
  const extra: Record<string, unknown> = {};
  const condyles: string[] = [];
  for (const item of list(g.ContentSequence)) {
    const name = first(item.ConceptNameCodeSequence);
    const value = first(item.ConceptCodeSequence);
    if (is(name, '121071', 'DCM')) finding = value;
    else if (is(name, '363698007', 'SCT')) {
      site = value;
      laterality = list(item.ContentSequence)
        .map((m) =>
          is(first(m.ConceptNameCodeSequence), '272741003', 'SCT') ? first(m.ConceptCodeSequence) : undefined,
        )
        .find(Boolean);
    } else if (is(name, '272741003', 'SCT')) laterality = value;
    else if (is(name, '705057003', 'SCT')) presence = value;
    else if (is(name, 'necrotic-share', OSTW)) {
      const n = list(item.MeasuredValueSequence)[0] as { NumericValue?: number | string } | undefined;
      extra.necroticSharePercent = Number(n?.NumericValue);
    } else if (is(name, 'articular-collapse', OSTW)) {
      if (!is(value, '373066001', 'SCT') && !is(value, '373067005', 'SCT'))
        throw new DicomInputError(`${where}: collapse must be Yes (373066001) or No (373067005), got ${show(value)}`);
      extra.collapse = is(value, '373066001', 'SCT');
    } else if (is(name, 'hip-weight-bearing-share', OSTW))
      extra.hipWeightBearingShare = { 'hip-wb-lt-1/3': '<1/3', 'hip-wb-1/3-2/3': '1/3-2/3', 'hip-wb-gt-2/3': '>2/3' }[
        value?.CodeValue ?? ''
      ];
    else if (is(name, 'knee-articular-surface', OSTW))
      extra.articularSurface = {
        'knee-surface-lt-25': '<25%',
        'knee-surface-25-50': '25-50%',
        'knee-surface-gt-50': '>50%',
      }[value?.CodeValue ?? ''];
    else if (is(name, 'knee-condyle', OSTW) && value?.CodeValue) condyles.push(value.CodeValue);
  }
  if (!is(finding, '397758007', 'SCT'))
    throw new DicomInputError(`${where}: unknown finding ${show(finding)}; expected osteonecrosis (397758007, SCT)`);
  const joint = site?.CodeValue ? SITE_TO_JOINT[site.CodeValue] : undefined;
  if (!joint) throw new DicomInputError(`${where}: unknown finding site ${show(site)}`);
  const side = is(laterality, '7771000', 'SCT') ? 'left' : is(laterality, '24028007', 'SCT') ? 'right' : undefined;
  if (!side)
    throw new DicomInputError(
      `${where}: laterality must be left (7771000) or right (24028007), got ${show(laterality)}`,
    );
  if (!is(presence, '52101004', 'SCT') && !is(presence, '2667000', 'SCT'))
    throw new DicomInputError(
      `${where}: presence must be present (52101004) or absent (2667000), got ${show(presence)}`,
    );
  return {
    joint,
    side,
    osteonecrosis: is(presence, '52101004', 'SCT'),
    ...(condyles.length ? { condyles } : {}),
    ...extra,
  } as FindingsDocument['sites'][number];
}

/** Reads a TID 1500 SR; `patient` maps the DICOM PatientID to the FHIR Patient (by default the same id). */
export function findingsFromSr(bytes: Uint8Array, patient?: (dicomPatientId: string) => string): FindingsDocument {
  return findingsFromSrDataset(readDataset(bytes), patient);
}

/** Reads a naturalized TID 1500 SR dataset (from a file, or received over DIMSE). */
export function findingsFromSrDataset(
  ds: Dataset,
  patient: (dicomPatientId: string) => string = (id) => `Patient/${id}`,
): FindingsDocument {
  if (!SR_CLASSES.has(String(ds.SOPClassUID)))
    throw new DicomInputError(`not a structured report (SOP Class ${String(ds.SOPClassUID)})`);
  const template = list(ds.ContentTemplateSequence)[0] as { TemplateIdentifier?: string } | undefined;
  if (template?.TemplateIdentifier !== '1500' || !is(first(ds.ConceptNameCodeSequence), '126000', 'DCM'))
    throw new DicomInputError(
      `unknown SR template ${template?.TemplateIdentifier ?? '(none)'} ${show(first(ds.ConceptNameCodeSequence))}; expected TID 1500 Imaging Measurement Report`,
    );
  const measurements = list(ds.ContentSequence).find((i) => is(first(i.ConceptNameCodeSequence), '126010', 'DCM'));
  const groups = list(measurements?.ContentSequence).filter((i) =>
    is(first(i.ConceptNameCodeSequence), '125007', 'DCM'),
  );
  if (!groups.length) throw new DicomInputError('the report has no measurement groups');
  const observer = list(ds.ContentSequence).find(
    (i) =>
      is(first(i.ConceptNameCodeSequence), '121008', 'DCM') || is(first(i.ConceptNameCodeSequence), '121013', 'DCM'),
  );
  const reader = String(
    (observer?.PersonName as { Alphabetic?: string } | undefined)?.Alphabetic ??
      observer?.PersonName ??
      observer?.TextValue ??
      'DICOM SR observer',
  )
    .replace(/\^/g, ' ')
    .trim();
  const doc = {
    patient: patient(String(ds.PatientID ?? '')),
    studyInstanceUid: String(ds.StudyInstanceUID ?? ''),
    studyDate: isoDate(ds.StudyDate) ?? '',
    reader: { display: reader },
    sites: groups.map(group),
  };
  const parsed = findingsDocumentSchema.safeParse(doc);
  if (!parsed.success)
    throw new DicomInputError(
      `the report does not make a valid findings document: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
