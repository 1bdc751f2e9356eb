/**
 * DICOM SEG with a femoral-head segment and a necrotic-region segment per side → the necrotic share of each
 * femoral head, graded after Steinberg in the write-back (Steinberg 1995; below 0.1 % the head counts as without
 * necrosis). Frames are matched through their referenced source images, never by index.
 *
 * Segments are recognised by their property type (Segment Description Macro in the Segmentation Image Module,
 * PS3.3 C.8.20.2, https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_C.8.20.2) as
 * highdicom and dcmqi code them: femoral head 2812003; necrotic region 6574001 "Necrosis" or 397758007
 * "Avascular necrosis of bone" (src/terminology/codes.ts SEG_CODES). The side is a laterality modifier, nested in
 * the type item as PS3.3 and DCMTK's dcmseg put it, on the segment as older writers put it, or on the anatomic
 * region. A lesion segment ("Morphologically Altered Structure") of a type not read is refused rather than
 * replaced by the estimate from the source images; when nothing usable is found, the message lists what was.
 * SegmentationType BINARY is read as bit planes, FRACTIONAL as fractions of MaximumFractionalValue (inside when
 * over one half); anything else is refused.
 */
import dcmjs from 'dcmjs';
import { zodMessage } from '../errors.ts';
import { type DicomCode, LATERALITY, SEG_CODES, type Side } from '../terminology/codes.ts';
import { codeValue, type Dataset, DicomInputError, SEG_SOP_CLASS } from './dicom.ts';
import { type FindingsDocument, findingsDocumentSchema } from './findingsDocument.ts';
import { DEFAULT_OTSU, erode, type OtsuOptions, otsuShare } from './otsu.ts';
import { framePixels } from './pixels.ts';

/** Seed 004: a necrotic share under 0.1 % is read as no necrosis. */
export const MIN_NECROTIC_SHARE = 0.1;

type Item = Record<string, unknown>;
const list = (x: unknown): Item[] =>
  x === undefined || x === null ? [] : Array.isArray(x) ? (x as Item[]) : [x as Item];
const scheme = (c: Item | undefined) => {
  const s = c?.CodingSchemeDesignator as string | undefined;
  return s === 'SRT' ? 'SCT' : s;
};
const is = (c: Item | undefined, d: DicomCode) => codeValue(c) === d.value && scheme(c) === d.scheme;
const show = (c: Item | undefined) =>
  c ? `${codeValue(c) ?? '?'} ${String(c.CodingSchemeDesignator ?? '?')}` : 'none';

interface Segment {
  number: number;
  label: string;
  kind: 'head' | 'necrosis' | 'other';
  side?: Side;
  category?: Item;
  type?: Item;
}
const describeSegment = (s: Segment) => `${s.number} "${s.label}" (category ${show(s.category)}, type ${show(s.type)})`;

function segmentOf(s: Item): Segment {
  const category = list(s.SegmentedPropertyCategoryCodeSequence)[0];
  const type = list(s.SegmentedPropertyTypeCodeSequence)[0];
  const kind = is(type, SEG_CODES.femoralHead)
    ? 'head'
    : is(type, SEG_CODES.necrosis) || is(type, SEG_CODES.osteonecrosis)
      ? 'necrosis'
      : 'other';
  const segment: Segment = {
    number: Number(s.SegmentNumber),
    label: String(s.SegmentLabel ?? ''),
    kind,
    category,
    type,
  };
  const sides = new Set(
    [
      ...list(type?.SegmentedPropertyTypeModifierCodeSequence),
      ...list(s.SegmentedPropertyTypeModifierCodeSequence),
      ...list(s.AnatomicRegionSequence).flatMap((r) => list(r.AnatomicRegionModifierSequence)),
    ]
      .map((m) => (scheme(m) === 'SCT' ? LATERALITY[codeValue(m) ?? ''] : undefined))
      .filter((x): x is Side => !!x),
  );
  if (sides.size > 1) throw new DicomInputError(`segment ${describeSegment(segment)} is coded both left and right`);
  return { ...segment, side: [...sides][0] };
}

/** Each frame's mask (1 inside, 0 outside), by SegmentationType. */
function frameMasks(ds: Item, frames: number, size: number): (i: number) => Uint8Array {
  const pixelData = list(ds.PixelData)[0] as unknown as ArrayBuffer | undefined;
  if (!pixelData) throw new DicomInputError('the segmentation has no frames');
  const type = ds.SegmentationType === undefined ? undefined : String(ds.SegmentationType);
  const bitsAllocated = Number(ds.BitsAllocated);
  if (type === undefined)
    throw new DicomInputError('SegmentationType is missing (Type 1 in the Segmentation Image Module)');
  if (type === 'BINARY') {
    if (bitsAllocated !== 1)
      throw new DicomInputError(`a BINARY segmentation must have BitsAllocated 1, not ${bitsAllocated}`);
    const bits = (dcmjs.data as unknown as { BitArray: { unpack(a: Uint8Array): Uint8Array } }).BitArray.unpack(
      new Uint8Array(pixelData),
    );
    if (bits.length < frames * size) throw new DicomInputError(`the pixel data holds fewer than ${frames} frames`);
    return (i) => bits.subarray(i * size, (i + 1) * size);
  }
  if (type === 'FRACTIONAL') {
    const max = Number(ds.MaximumFractionalValue);
    if (!(max > 0)) throw new DicomInputError('a FRACTIONAL segmentation needs a MaximumFractionalValue above 0');
    if (bitsAllocated !== 8)
      throw new DicomInputError(`a FRACTIONAL segmentation must have BitsAllocated 8, not ${bitsAllocated}`);
    const bytes = new Uint8Array(pixelData);
    if (bytes.length < frames * size) throw new DicomInputError(`the pixel data holds fewer than ${frames} frames`);
    return (i) => bytes.subarray(i * size, (i + 1) * size).map((v) => (v > max / 2 ? 1 : 0));
  }
  throw new DicomInputError(`SegmentationType ${type} is not read: send a BINARY or FRACTIONAL segmentation`);
}

export interface SegOptions {
  patient?: (id: string) => string;
  /** Source images by SOPInstanceUID: needed when only the femoral head is segmented. */
  sources?: ReadonlyMap<string, Dataset>;
  otsu?: OtsuOptions;
}

export function findingsFromSegDataset(ds: Item, o: SegOptions = {}): FindingsDocument {
  const patient = o.patient ?? ((id: string) => `Patient/${id}`);
  if (String(ds.SOPClassUID) !== SEG_SOP_CLASS)
    throw new DicomInputError(`not a segmentation (SOP Class ${String(ds.SOPClassUID)})`);
  const rows = Number(ds.Rows);
  const cols = Number(ds.Columns);
  const frames = list(ds.PerFrameFunctionalGroupsSequence);
  if (!rows || !cols || !frames.length) throw new DicomInputError('the segmentation has no frames');
  const size = rows * cols;
  const mask = frameMasks(ds, frames.length, size);

  const segments = new Map<number, Segment>(
    list(ds.SegmentSequence).map((s) => [Number(s.SegmentNumber), segmentOf(s)]),
  );
  // Per side: the head and necrosis masks of each source image.
  const masks = new Map<Side, { head: Map<string, Uint8Array>; necrosis: Map<string, Uint8Array> }>();
  frames.forEach((f, i) => {
    const segNo = Number(
      (list(f.SegmentIdentificationSequence)[0] as { ReferencedSegmentNumber?: number } | undefined)
        ?.ReferencedSegmentNumber,
    );
    const seg = segments.get(segNo);
    if (!seg || seg.kind === 'other') return;
    if (!seg.side) throw new DicomInputError(`segment ${describeSegment(seg)} has no laterality`);
    const source = list(list(f.DerivationImageSequence)[0]?.SourceImageSequence)[0] as
      | { ReferencedSOPInstanceUID?: string; ReferencedFrameNumber?: number }
      | undefined;
    if (!source?.ReferencedSOPInstanceUID)
      throw new DicomInputError(`frame ${i + 1} does not reference its source image`);
    const key = `${source.ReferencedSOPInstanceUID}#${source.ReferencedFrameNumber ?? 1}`;
    const side = masks.get(seg.side) ?? { head: new Map(), necrosis: new Map() };
    masks.set(seg.side, side);
    (seg.kind === 'head' ? side.head : side.necrosis).set(key, mask(i));
  });
  if (![...masks.values()].some((m) => m.head.size))
    throw new DicomInputError(
      `the segmentation has no femoral-head (${SEG_CODES.femoralHead.value}, SCT) segment; segments found: ${
        [...segments.values()].map(describeSegment).join(', ') || 'none'
      }`,
    );
  const unreadLesions = [...segments.values()].filter(
    (s) => s.kind === 'other' && is(s.category, SEG_CODES.morphologicallyAltered),
  );

  const sites: FindingsDocument['sites'] = [];
  for (const [side, m] of masks) {
    if (!m.head.size)
      throw new DicomInputError(`the ${side} necrotic region has no ${side} femoral-head segment to relate it to`);
    const lesion = unreadLesions.find((s) => !s.side || s.side === side);
    if (!m.necrosis.size && lesion)
      throw new DicomInputError(
        `segment ${describeSegment(lesion)} is a morphologically altered structure of a type not read (necrosis is ${SEG_CODES.necrosis.value} or ${SEG_CODES.osteonecrosis.value}, SCT); the ${side} lesion is not estimated from the source images instead`,
      );
    const share = m.necrosis.size
      ? segmentedShare(m.head, m.necrosis, size)
      : thresholdedShare(side, m.head, rows, cols, o);
    const present = share >= MIN_NECROTIC_SHARE;
    sites.push({
      joint: 'hip',
      side,
      osteonecrosis: present,
      ...(present ? { necroticSharePercent: Math.round(share * 10) / 10 } : {}),
    });
  }
  const da = String(ds.StudyDate ?? '');
  const doc = {
    patient: patient(String(ds.PatientID ?? '')),
    studyInstanceUid: String(ds.StudyInstanceUID ?? ''),
    studyDate: /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : '',
    reader: {
      display: String(
        (list(ds.SegmentSequence)[0] as { SegmentAlgorithmName?: string } | undefined)?.SegmentAlgorithmName ??
          ds.Manufacturer ??
          'segmentation',
      ),
    },
    sites,
  };
  const parsed = findingsDocumentSchema.safeParse(doc);
  if (!parsed.success)
    throw new DicomInputError(`the segmentation does not make a valid findings document: ${zodMessage(parsed.error)}`);
  return parsed.data;
}

function segmentedShare(heads: Map<string, Uint8Array>, necrosis: Map<string, Uint8Array>, size: number): number {
  let head = 0;
  let inside = 0;
  for (const [key, h] of heads) {
    const n = necrosis.get(key);
    for (let p = 0; p < size; p++) {
      if (!h[p]) continue;
      head++;
      if (n?.[p]) inside++;
    }
  }
  if (!head) throw new DicomInputError('a femoral-head segment is empty');
  return (inside / head) * 100;
}

/** Only the head is segmented: Otsu inside the (eroded) head mask on the source images. */
function thresholdedShare(
  side: string,
  heads: Map<string, Uint8Array>,
  rows: number,
  cols: number,
  o: SegOptions,
): number {
  const keys = [...heads.keys()];
  const missing = keys.map((k) => k.split('#')[0]!).filter((uid) => !o.sources?.has(uid));
  if (missing.length) {
    throw new DicomInputError(
      `only the ${side} femoral head is segmented, and ${missing.length} of its ${keys.length} source images are missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}): the lesion is estimated from the source images`,
    );
  }
  const values: number[] = [];
  for (const [key, mask] of heads) {
    const [uid, frame] = key.split('#') as [string, string];
    const pixels = framePixels(o.sources!.get(uid)!, Number(frame) - 1);
    const inner = erode(mask, rows, cols);
    for (let p = 0; p < inner.length; p++) if (inner[p]) values.push(pixels[p]!);
  }
  if (!values.length) throw new DicomInputError(`the ${side} femoral-head mask is empty after removing its rim`);
  return otsuShare(values, o.otsu ?? DEFAULT_OTSU).sharePercent;
}
