/**
 * DICOM SEG with a femoral-head segment and a necrotic-region segment per side → the necrotic share of each
 * femoral head, graded after Steinberg in the write-back (Steinberg 1995; below 0.1 % the head counts as without
 * necrosis). Frames are matched through their referenced source images, never by index.
 */
import dcmjs from 'dcmjs';
import { type Dataset, DicomInputError, SEG_SOP_CLASS } from './dicom.ts';
import { type FindingsDocument, findingsDocumentSchema } from './findingsDocument.ts';
import { DEFAULT_OTSU, erode, type OtsuOptions, otsuShare } from './otsu.ts';
import { framePixels } from './pixels.ts';

const FEMORAL_HEAD = '2812003';
const NECROSIS = '6574001';
/** Seed 004: a necrotic share under 0.1 % is read as no necrosis. */
export const MIN_NECROTIC_SHARE = 0.1;

type Item = Record<string, unknown>;
const list = (x: unknown): Item[] =>
  x === undefined || x === null ? [] : Array.isArray(x) ? (x as Item[]) : [x as Item];
const codeOf = (x: unknown) => list(x)[0] as { CodeValue?: string; CodeMeaning?: string } | undefined;

function sideOf(segment: Item): 'left' | 'right' | undefined {
  const mods = [
    ...list(segment.SegmentedPropertyTypeModifierCodeSequence),
    ...list(segment.AnatomicRegionSequence).flatMap((r) => list(r.AnatomicRegionModifierSequence)),
  ];
  for (const m of mods) {
    const v = (m as { CodeValue?: string }).CodeValue;
    if (v === '7771000' || v === '419161000') return 'left';
    if (v === '24028007' || v === '419465000') return 'right';
  }
  return undefined;
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
  const pixelData = list(ds.PixelData)[0] as unknown as ArrayBuffer | undefined;
  if (!rows || !cols || !frames.length || !pixelData) throw new DicomInputError('the segmentation has no frames');
  const bits = (dcmjs.data as unknown as { BitArray: { unpack(a: Uint8Array): Uint8Array } }).BitArray.unpack(
    new Uint8Array(pixelData),
  );
  const size = rows * cols;

  const segments = new Map<number, { kind: 'head' | 'necrosis' | 'other'; side?: 'left' | 'right'; label: string }>();
  for (const s of list(ds.SegmentSequence)) {
    const type = codeOf(s.SegmentedPropertyTypeCodeSequence)?.CodeValue;
    segments.set(Number(s.SegmentNumber), {
      kind: type === FEMORAL_HEAD ? 'head' : type === NECROSIS ? 'necrosis' : 'other',
      side: sideOf(s),
      label: String(s.SegmentLabel ?? ''),
    });
  }
  // Per side: the head and necrosis masks of each source image.
  const masks = new Map<'left' | 'right', { head: Map<string, Uint8Array>; necrosis: Map<string, Uint8Array> }>();
  frames.forEach((f, i) => {
    const segNo = Number(
      (list(f.SegmentIdentificationSequence)[0] as { ReferencedSegmentNumber?: number } | undefined)
        ?.ReferencedSegmentNumber,
    );
    const seg = segments.get(segNo);
    if (!seg || seg.kind === 'other') return;
    if (!seg.side) throw new DicomInputError(`segment ${segNo} ("${seg.label}") has no laterality`);
    const source = list(list(f.DerivationImageSequence)[0]?.SourceImageSequence)[0] as
      | { ReferencedSOPInstanceUID?: string; ReferencedFrameNumber?: number }
      | undefined;
    if (!source?.ReferencedSOPInstanceUID)
      throw new DicomInputError(`frame ${i + 1} does not reference its source image`);
    const key = `${source.ReferencedSOPInstanceUID}#${source.ReferencedFrameNumber ?? 1}`;
    const side = masks.get(seg.side) ?? { head: new Map(), necrosis: new Map() };
    masks.set(seg.side, side);
    (seg.kind === 'head' ? side.head : side.necrosis).set(key, bits.subarray(i * size, (i + 1) * size));
  });
  if (!masks.size) throw new DicomInputError('the segmentation has no femoral-head (2812003, SCT) segment');

  const sites: FindingsDocument['sites'] = [];
  for (const [side, m] of masks) {
    if (!m.head.size)
      throw new DicomInputError(`the ${side} necrotic region has no ${side} femoral-head segment to relate it to`);
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
    throw new DicomInputError(
      `the segmentation does not make a valid findings document: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
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
