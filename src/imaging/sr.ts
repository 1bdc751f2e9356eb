/**
 * DICOM SR (TID 1500 Imaging Measurement Report,
 * https://dicom.nema.org/medical/dicom/current/output/html/part16.html#sect_TID_1500) → the findings document. One Measurement Group per joint
 * and side: Finding (121071, DCM) = osteonecrosis (397758007, SCT); Finding Site (363698007, SCT) with a
 * Laterality (272741003, SCT) modifier; Presence (705057003, SCT) = present/absent; and the grading items of
 * our CodeSystem under the private scheme 99OSTW (declared in CodingSchemeIdentificationSequence).
 * Every coded entry is read from CodeValue, LongCodeValue or URNCodeValue (PS3.3 §8.8,
 * https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_8.8): our grading codes longer than
 * 16 characters can only be written as LongCodeValue, and DCMTK writes them so.
 * Anything else is refused with a message naming it: nothing is written from a report we do not understand, and
 * an item of our own scheme that we do not know is never skipped.
 */

import { zodMessage } from '../errors.ts';
import { type DicomCode, LATERAL_SITES, OSTW, SR_CODES, SR_FINDING_SITES } from '../terminology/codes.ts';
import { GRADING_CONCEPTS, HIP_SHARE, KNEE_SURFACE } from '../terminology/grading.ts';
import { codeValue, type Dataset, DicomInputError, readDataset, SR_CLASSES } from './dicom.ts';
import { type FindingsDocument, findingsDocumentSchema } from './findingsDocument.ts';

export { OSTW };

type Item = Record<string, unknown>;
interface Code {
  CodeValue?: string;
  LongCodeValue?: string;
  URNCodeValue?: string;
  CodingSchemeDesignator?: string;
  CodeMeaning?: string;
}

const list = (x: unknown): Item[] =>
  x === undefined || x === null ? [] : Array.isArray(x) ? (x as Item[]) : [x as Item];
const first = (x: unknown): Code | undefined => list(x)[0] as Code | undefined;
/** SNOMED CT is SCT; objects written before 2019 may still say SRT. */
const schemeOf = (c: Code | undefined) => (c?.CodingSchemeDesignator === 'SRT' ? 'SCT' : c?.CodingSchemeDesignator);
const is = (c: Code | undefined, d: DicomCode | string, scheme = OSTW) =>
  typeof d === 'string'
    ? codeValue(c) === d && schemeOf(c) === scheme
    : codeValue(c) === d.value && schemeOf(c) === d.scheme;
const show = (c: Code | undefined) =>
  c ? `(${codeValue(c) ?? ''}, ${c.CodingSchemeDesignator ?? ''}, "${c.CodeMeaning ?? ''}")` : '(none)';
const isoDate = (da: unknown) =>
  typeof da === 'string' && /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : undefined;
const invert = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k]));

/** Our grading values (99OSTW) → the findings document's terms. */
const HIP_SHARE_OF = invert(HIP_SHARE);
const KNEE_SURFACE_OF = invert(KNEE_SURFACE);
/** Condyles are concepts of the grading CodeSystem; the findings schema then keeps only the four condyles. */
const GRADING_CODES = new Set(GRADING_CONCEPTS.map((c) => c.code));

function group(g: Item, index: number): FindingsDocument['sites'][number] {
  const where = `measurement group ${index + 1}`;
  let finding: Code | undefined;
  let site: Code | undefined;
  let laterality: Code | undefined;
  let presence: Code | undefined;
  const extra: Record<string, unknown> = {};
  const condyles: string[] = [];
  /** A value of our own scheme, mapped; an unknown one is refused with its name. */
  const ours = (name: string, value: Code | undefined, map: Record<string, string> | Set<string>) => {
    const v = schemeOf(value) === OSTW ? codeValue(value) : undefined;
    const mapped = v === undefined ? undefined : map instanceof Set ? (map.has(v) ? v : undefined) : map[v];
    if (mapped === undefined) throw new DicomInputError(`${where}: unknown value ${show(value)} for ${name} (${OSTW})`);
    return mapped;
  };
  for (const item of list(g.ContentSequence)) {
    const name = first(item.ConceptNameCodeSequence);
    const value = first(item.ConceptCodeSequence);
    if (is(name, SR_CODES.finding)) finding = value;
    else if (is(name, SR_CODES.findingSite)) {
      site = value;
      laterality = list(item.ContentSequence)
        .map((m) =>
          is(first(m.ConceptNameCodeSequence), SR_CODES.laterality) ? first(m.ConceptCodeSequence) : undefined,
        )
        .find(Boolean);
    } else if (is(name, SR_CODES.laterality)) laterality = value;
    else if (is(name, SR_CODES.presence)) presence = value;
    else if (is(name, 'necrotic-share')) {
      const n = list(item.MeasuredValueSequence)[0] as { NumericValue?: number | string } | undefined;
      extra.necroticSharePercent = Number(n?.NumericValue);
    } else if (is(name, 'articular-collapse')) {
      if (!is(value, SR_CODES.yes) && !is(value, SR_CODES.no))
        throw new DicomInputError(`${where}: collapse must be Yes (373066001) or No (373067005), got ${show(value)}`);
      extra.collapse = is(value, SR_CODES.yes);
    } else if (is(name, 'hip-weight-bearing-share'))
      extra.hipWeightBearingShare = ours('hip-weight-bearing-share', value, HIP_SHARE_OF);
    else if (is(name, 'knee-articular-surface'))
      extra.articularSurface = ours('knee-articular-surface', value, KNEE_SURFACE_OF);
    else if (is(name, 'knee-condyle')) condyles.push(ours('knee-condyle', value, GRADING_CODES));
    else if (schemeOf(name) === OSTW)
      throw new DicomInputError(`${where}: unknown ${OSTW} item ${show(name)}; nothing is written from it`);
  }
  if (!is(finding, SR_CODES.osteonecrosis))
    throw new DicomInputError(`${where}: unknown finding ${show(finding)}; expected osteonecrosis (397758007, SCT)`);
  const siteCode = schemeOf(site) === 'SCT' ? codeValue(site) : undefined;
  // A lateralised finding site (e.g. 362907004 "Left hip joint structure") carries the side itself.
  const lateral = siteCode ? LATERAL_SITES[siteCode] : undefined;
  const joint = lateral?.joint ?? (siteCode ? SR_FINDING_SITES[siteCode] : undefined);
  if (!joint) throw new DicomInputError(`${where}: unknown finding site ${show(site)}`);
  const stated = is(laterality, SR_CODES.left) ? 'left' : is(laterality, SR_CODES.right) ? 'right' : undefined;
  if (lateral && laterality && stated !== lateral.side)
    throw new DicomInputError(`${where}: finding site ${show(site)} contradicts laterality ${show(laterality)}`);
  const side = lateral?.side ?? stated;
  if (!side)
    throw new DicomInputError(
      `${where}: laterality must be left (7771000) or right (24028007), got ${show(laterality)}`,
    );
  if (!is(presence, SR_CODES.present) && !is(presence, SR_CODES.absent))
    throw new DicomInputError(
      `${where}: presence must be present (52101004) or absent (2667000), got ${show(presence)}`,
    );
  return {
    joint,
    side,
    osteonecrosis: is(presence, SR_CODES.present),
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
  if (template?.TemplateIdentifier !== '1500' || !is(first(ds.ConceptNameCodeSequence), SR_CODES.report))
    throw new DicomInputError(
      `unknown SR template ${template?.TemplateIdentifier ?? '(none)'} ${show(first(ds.ConceptNameCodeSequence))}; expected TID 1500 Imaging Measurement Report`,
    );
  const measurements = list(ds.ContentSequence).find((i) =>
    is(first(i.ConceptNameCodeSequence), SR_CODES.measurements),
  );
  const groups = list(measurements?.ContentSequence).filter((i) =>
    is(first(i.ConceptNameCodeSequence), SR_CODES.group),
  );
  if (!groups.length) throw new DicomInputError('the report has no measurement groups');
  const observer = list(ds.ContentSequence).find(
    (i) =>
      is(first(i.ConceptNameCodeSequence), SR_CODES.personObserver) ||
      is(first(i.ConceptNameCodeSequence), SR_CODES.deviceObserver),
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
    throw new DicomInputError(`the report does not make a valid findings document: ${zodMessage(parsed.error)}`);
  return parsed.data;
}
