/**
 * Stored MR pixels → signal values (Image Pixel Module,
 * https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_C.7.6.3, and Modality LUT,
 * https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_C.11.1): native transfer syntaxes
 * only, masked to BitsStored, sign-extended, rescaled, MONOCHROME1 inverted.
 */
import { type Dataset, DicomInputError } from './dicom.ts';

const NATIVE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', undefined]);

export function framePixels(ds: Dataset, frame = 0): Float64Array {
  const ts = ((ds._meta as Record<string, { Value?: string[] }> | undefined)?.TransferSyntaxUID?.Value?.[0] ??
    undefined) as string | undefined;
  if (!NATIVE.has(ts))
    throw new DicomInputError(
      `source image ${String(ds.SOPInstanceUID)} is compressed (${ts}); only native transfer syntaxes are read`,
    );
  if (Number(ds.SamplesPerPixel ?? 1) !== 1)
    throw new DicomInputError(`source image ${String(ds.SOPInstanceUID)} is not single-channel`);
  const rows = Number(ds.Rows);
  const cols = Number(ds.Columns);
  const bitsAllocated = Number(ds.BitsAllocated);
  const bitsStored = Number(ds.BitsStored ?? bitsAllocated);
  const signed = Number(ds.PixelRepresentation ?? 0) === 1;
  const slope = Number(ds.RescaleSlope ?? 1);
  const intercept = Number(ds.RescaleIntercept ?? 0);
  const buffer = (ds.PixelData as ArrayBuffer[] | undefined)?.[0];
  if (!buffer) throw new DicomInputError(`source image ${String(ds.SOPInstanceUID)} has no pixel data`);
  const size = rows * cols;
  const bytesPer = bitsAllocated / 8;
  const offset = frame * size * bytesPer;
  const raw =
    bitsAllocated === 16
      ? new Uint16Array(buffer.slice(offset, offset + size * 2))
      : bitsAllocated === 8
        ? new Uint8Array(buffer.slice(offset, offset + size))
        : undefined;
  if (!raw)
    throw new DicomInputError(
      `source image ${String(ds.SOPInstanceUID)}: BitsAllocated ${bitsAllocated} is not supported`,
    );
  const mask = bitsStored >= 32 ? 0xffffffff : (1 << bitsStored) - 1;
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let v = raw[i]! & mask;
    if (signed && v & (1 << (bitsStored - 1))) v -= 1 << bitsStored;
    out[i] = v * slope + intercept;
  }
  if (ds.PhotometricInterpretation === 'MONOCHROME1') {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of out) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    for (let i = 0; i < size; i++) out[i] = max + min - out[i]!;
  }
  return out;
}
