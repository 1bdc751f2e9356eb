/**
 * DICOM reading basics shared by the SR, SEG and pixel readers, so that none of them imports another for them:
 * the error a user sees for input we cannot read, reading a Part 10 file with dcmjs, and the SOP classes we know.
 * Each SOP class UID is written here once; its meaning is in the registry of PS3.6 Annex A
 * (https://dicom.nema.org/medical/dicom/current/output/html/part06.html#chapter_A).
 */
import dcmjs from 'dcmjs';
import { OsteoWatchError } from '../errors.ts';

/** Input we cannot read; its message is shown to the user (HTTP 400, CLI exit 1, C-STORE failure comment). */
export class DicomInputError extends OsteoWatchError {
  constructor(message: string) {
    super('invalid', message);
  }
}

/** A naturalized dataset (dcmjs keyword → value), from a file or received over DIMSE. */
export type Dataset = Record<string, unknown>;

/**
 * Structured report storage classes that can carry TID 1500: Basic Text, Enhanced, Comprehensive,
 * Comprehensive 3D and Extensible SR (https://dicom.nema.org/medical/dicom/current/output/html/part04.html#sect_B.5).
 */
export const SR_CLASSES: ReadonlySet<string> = new Set([
  '1.2.840.10008.5.1.4.1.1.88.11',
  '1.2.840.10008.5.1.4.1.1.88.22',
  '1.2.840.10008.5.1.4.1.1.88.33',
  '1.2.840.10008.5.1.4.1.1.88.34',
  '1.2.840.10008.5.1.4.1.1.88.35',
]);

/** Segmentation Storage: binary segments as bit planes (https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_A.51). */
export const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';

/**
 * Label Map Segmentation Storage: one segment index per pixel instead of bit planes. Not read (the SEG reader
 * unpacks bit planes); named so that a pipeline sending one is told what it sent.
 */
export const LABEL_MAP_SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.7';

/**
 * MR Image, Enhanced MR Image and Legacy Converted Enhanced MR Image Storage: the source images of a SEG that
 * segments only the femoral head, on which the lesion is estimated.
 */
export const MR_CLASSES: ReadonlySet<string> = new Set([
  '1.2.840.10008.5.1.4.1.1.4',
  '1.2.840.10008.5.1.4.1.1.4.1',
  '1.2.840.10008.5.1.4.1.1.4.4',
]);

/**
 * A DICOM Part 10 file (https://dicom.nema.org/medical/dicom/current/output/html/part10.html#chapter_7) → its
 * naturalized dataset; anything dcmjs cannot parse is refused as a DicomInputError.
 */
export function readDataset(bytes: Uint8Array): Dataset {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let dict: { dict: Dataset };
  try {
    dict = dcmjs.data.DicomMessage.readFile(buffer);
  } catch (err) {
    throw new DicomInputError(`not a DICOM Part 10 file (${(err as Error).message})`);
  }
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
}

/**
 * The value of a coded entry (Code Sequence Macro, PS3.3 §8.8,
 * https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_8.8): exactly one of CodeValue
 * (0008,0100, SH, at most 16 characters), LongCodeValue (0008,0119, UC: longer codes, as DCMTK writes them) or
 * URNCodeValue (0008,0120, UR). Shared by the SR and SEG readers so that neither reads only the first.
 */
export function codeValue(c: unknown): string | undefined {
  const item = c as { CodeValue?: unknown; LongCodeValue?: unknown; URNCodeValue?: unknown } | undefined;
  for (const v of [item?.CodeValue, item?.LongCodeValue, item?.URNCodeValue]) {
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && s.trim()) return s.trim();
  }
  return undefined;
}
