/**
 * The one way from a DICOM object to a findings document, for every entry point: the HTTP route
 * (application/dicom), `osteowatch ingest` and the C-STORE receiver. A plain switch on the SOP class
 * (https://dicom.nema.org/medical/dicom/current/output/html/part04.html#sect_B.5): a TID 1500 SR is read by
 * sr.ts, a Segmentation by seg.ts; any other class is refused with a message that names it, so that nothing
 * is written from an object we do not read.
 */
import {
  type Dataset,
  DicomInputError,
  LABEL_MAP_SEG_SOP_CLASS,
  MR_CLASSES,
  readDataset,
  SEG_SOP_CLASS,
  SR_CLASSES,
} from './dicom.ts';
import type { FindingsDocument } from './findingsDocument.ts';
import { findingsFromSegDataset } from './seg.ts';
import { findingsFromSrDataset } from './sr.ts';

/** Source images by SOPInstanceUID, for a SEG that segments only the femoral head. */
export type SourceImages = ReadonlyMap<string, Dataset>;

/**
 * A DICOM Part 10 file's bytes, or a dataset already read (as the receiver gets it) → findings document.
 * Refusals are DicomInputErrors. Async so that a refusal always arrives as a rejected promise, whichever
 * entry point calls.
 */
export async function findingsFromDicom(
  input: Uint8Array | Dataset,
  sources?: SourceImages,
): Promise<FindingsDocument> {
  const ds = input instanceof Uint8Array ? readDataset(input) : input;
  const sopClass = String(ds.SOPClassUID);
  if (SR_CLASSES.has(sopClass)) return findingsFromSrDataset(ds);
  switch (sopClass) {
    case SEG_SOP_CLASS:
      return findingsFromSegDataset(ds, { sources });
    case LABEL_MAP_SEG_SOP_CLASS:
      throw new DicomInputError(
        `a DICOM Segmentation (label map) is not read: SOP class ${sopClass}; send a binary Segmentation (${SEG_SOP_CLASS})`,
      );
    default:
      if (MR_CLASSES.has(sopClass))
        throw new DicomInputError(
          `an MR image is a source image, not a structured report or segmentation: SOP class ${sopClass}`,
        );
      throw new DicomInputError(`not a structured report or segmentation: SOP class ${sopClass}`);
  }
}
