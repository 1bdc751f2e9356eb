/**
 * Builds DICOM SEG files with dcmjs: MR slices, a femoral-head segment and a necrotic-region segment per side.
 *
 * By default the segments are coded as highdicom and dcmqi code them (DICOM PS3.3 C.8.20.2 Segmentation Image
 * Module and its Segment Description Macro, https://dicom.nema.org/medical/dicom/current/output/html/part03.html#sect_C.8.20.2):
 * - category and type from CID 7150 / CID 7159 as dcmqi lists them (dcmqi doc/segContexts/
 *   SegmentationCategoryTypeModifier-DICOM-Master.json): femoral head = (123037004, SCT, "Anatomical Structure")
 *   + (2812003, SCT, "Femoral head"); necrotic region = (49755003, SCT, "Morphologically Altered Structure")
 *   + (6574001, SCT, "Necrosis") or (397758007, SCT, "Avascular necrosis of bone");
 * - the laterality as a SegmentedPropertyTypeModifierCodeSequence nested in the type item, and the region as
 *   AnatomicRegionSequence with a nested AnatomicRegionModifierSequence, as DCMTK's dcmseg (used by dcmqi,
 *   libsrc/Itk2DicomConverter.cpp) writes them (SegmentedPropertyTypeCodeItem::write);
 * - highdicom's SegmentDescription (src/highdicom/seg/content.py) writes SegmentNumber, SegmentLabel, both code
 *   sequences, SegmentAlgorithmType and SegmentAlgorithmName; Segmentation (seg/sop.py) writes SegmentationType
 *   BINARY with BitsAllocated 1, or FRACTIONAL with BitsAllocated 8, SegmentationFractionalType and
 *   MaximumFractionalValue.
 * `coding: 'legacy'` writes them as this helper first did (the retired category 91723000, the laterality at the
 * segment level), so that such files stay readable.
 */
import dcmjs from 'dcmjs';

// biome-ignore lint/suspicious/noExplicitAny: dcmjs derivations are untyped
const d = dcmjs as any;
const R = 16;
const C = 16;

export interface SegSide {
  side: 'left' | 'right';
  /** Pixels of the head per slice, and of the necrosis (a subset) per slice; necrosis omitted → head only. */
  headPixels: number;
  necrosisPixels?: number;
  /** Instead of headPixels: the head as a box [row0, col0, row1, col1] (inclusive). */
  headBox?: [number, number, number, number];
  /** FRACTIONAL only: pixels after the necrosis at a fraction under one half (not inside the lesion). */
  partialPixels?: number;
}

/** The MR signal: 100 in the heads, `lesion.value` in the lesion box, optional deterministic noise. */
export interface MrSignal {
  lesion?: { box: [number, number, number, number]; value: number };
  noise?: number;
}

const inBox = (p: number, b: [number, number, number, number]) => {
  const r = Math.floor(p / C);
  const c = p % C;
  return r >= b[0] && r <= b[2] && c >= b[1] && c <= b[3];
};

/** The source MR slices (naturalized) that buildSeg segments, for tests that pass them as source images. */
export function mrSlices(o: {
  patientId: string;
  studyUid: string;
  studyDate: string;
  slices?: number;
  signal?: MrSignal;
}) {
  const n = o.slices ?? 3;
  return Array.from({ length: n }, (_, k) => {
    const px = new Uint16Array(R * C);
    for (let p = 0; p < R * C; p++) {
      const noise = o.signal?.noise ? ((p * 7919 + k * 104729) % (2 * o.signal.noise + 1)) - o.signal.noise : 0;
      px[p] = (o.signal?.lesion && inBox(p, o.signal.lesion.box) ? o.signal.lesion.value : 100) + noise;
    }
    return {
      _meta: {},
      _vrMap: { PixelData: 'OW' },
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
      SOPInstanceUID: `${o.studyUid}.1.${k + 1}`,
      StudyInstanceUID: o.studyUid,
      SeriesInstanceUID: `${o.studyUid}.1`,
      FrameOfReferenceUID: `${o.studyUid}.9`,
      PatientID: o.patientId,
      PatientName: 'Test^Patient',
      StudyDate: o.studyDate.replace(/-/g, ''),
      Modality: 'MR',
      Rows: R,
      Columns: C,
      BitsAllocated: 16,
      BitsStored: 12,
      HighBit: 11,
      PixelRepresentation: 0,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelSpacing: [1, 1],
      SliceThickness: 5,
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      ImagePositionPatient: [0, 0, k * 5],
      InstanceNumber: k + 1,
      PixelData: [px.buffer],
    };
  });
}

export interface BuildSegOptions {
  patientId: string;
  studyUid: string;
  studyDate: string;
  slices?: number;
  sides: SegSide[];
  dropSourceReference?: boolean;
  signal?: MrSignal;
  coding?: 'toolkit' | 'legacy';
  /** The necrotic segment's category and type (default: Morphologically Altered Structure, Necrosis). */
  necrosis?: { category?: Code; type?: Code };
  /** FRACTIONAL: head 255, necrosis 200 of 255 (inside), `partialPixels` at 100 of 255 (outside). */
  segmentationType?: 'BINARY' | 'FRACTIONAL';
}

interface Code {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}
const code = (CodeValue: string, CodeMeaning: string): Code => ({
  CodeValue,
  CodingSchemeDesignator: 'SCT',
  CodeMeaning,
});
export const SEG_CODE = {
  anatomicalStructure: code('123037004', 'Anatomical Structure'),
  retiredAnatomicalStructure: code('91723000', 'Anatomical Structure'),
  morphologicallyAltered: code('49755003', 'Morphologically Altered Structure'),
  femoralHead: code('2812003', 'Femoral head'),
  hipJoint: code('24136001', 'Hip joint'),
  necrosis: code('6574001', 'Necrosis'),
  osteonecrosis: code('397758007', 'Avascular necrosis of bone'),
  left: code('7771000', 'Left'),
  right: code('24028007', 'Right'),
};

/** The naturalized SEG dataset (before writing), for tests that change it further. */
export function buildSegDataset(o: BuildSegOptions) {
  const n = o.slices ?? 3;
  const slices = mrSlices(o);
  const mf = d.normalizers.Normalizer.normalizeToDataset(slices);
  const seg = new d.derivations.Segmentation([mf], {
    includeSliceSpacing: true,
    SeriesDescription: 'ONFH',
    SeriesNumber: '300',
  });
  const fractional = o.segmentationType === 'FRACTIONAL';
  if (fractional) seg.dataset.SegmentationType = 'FRACTIONAL';
  const legacy = o.coding === 'legacy';
  const segmentCount = o.sides.reduce((s, x) => s + (x.necrosisPixels === undefined ? 1 : 2), 0);
  seg.setNumberOfFrames(segmentCount * n);
  const frames = Array.from({ length: n }, (_, i) => i + 1);
  const meta = (label: string, category: Code, type: Code) => ({
    SegmentLabel: label,
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: 'onfh-pipeline',
    SegmentedPropertyCategoryCodeSequence: category,
    SegmentedPropertyTypeCodeSequence: type,
  });
  const headCategory = legacy ? SEG_CODE.retiredAnatomicalStructure : SEG_CODE.anatomicalStructure;
  const necCategory = o.necrosis?.category ?? SEG_CODE.morphologicallyAltered;
  const necType = o.necrosis?.type ?? SEG_CODE.necrosis;
  const pixels = () => new Uint8Array(seg.dataset.PixelData);
  let label = 1;
  // Left and right heads sit in different image halves so that their masks never overlap.
  for (const s of o.sides) {
    const offset = s.side === 'left' ? 0 : (R * C) / 2;
    const head = Array.from({ length: n }, () => {
      const m = new Uint8Array(R * C);
      if (s.headBox) {
        for (let p = 0; p < R * C; p++) if (inBox(p, s.headBox)) m[p] = label;
      } else for (let i = 0; i < s.headPixels; i++) m[offset + i] = label;
      return m;
    });
    seg.addSegmentFromLabelmap(meta(`${s.side} femoral head`, headCategory, SEG_CODE.femoralHead), head, label, frames);
    label++;
    if (s.necrosisPixels !== undefined) {
      const nec = Array.from({ length: n }, () => {
        const m = new Uint8Array(R * C);
        for (let i = 0; i < s.necrosisPixels!; i++) m[offset + i] = label;
        return m;
      });
      const base = seg.dataset.PerFrameFunctionalGroupsSequence.length;
      seg.addSegmentFromLabelmap(meta(`${s.side} femoral head necrosis`, necCategory, necType), nec, label, frames);
      if (fractional) {
        const px = pixels();
        for (let f = base; f < base + n; f++) {
          for (let i = 0; i < s.necrosisPixels; i++) px[f * R * C + offset + i] = 200;
          for (let i = 0; i < (s.partialPixels ?? 0); i++) px[f * R * C + offset + s.necrosisPixels + i] = 100;
        }
      }
      label++;
    }
  }
  // The dcmjs derivation keeps only some segment attributes: set the laterality and the anatomic region.
  let k = 0;
  for (const s of o.sides) {
    const side = SEG_CODE[s.side];
    for (let j = 0; j < (s.necrosisPixels === undefined ? 1 : 2); j++) {
      const item = seg.dataset.SegmentSequence[k++];
      const type = [item.SegmentedPropertyTypeCodeSequence].flat()[0];
      if (legacy) {
        item.SegmentedPropertyTypeModifierCodeSequence = [side];
        item.AnatomicRegionSequence = [SEG_CODE.femoralHead];
      } else {
        item.SegmentedPropertyTypeCodeSequence = [{ ...type, SegmentedPropertyTypeModifierCodeSequence: [side] }];
        item.AnatomicRegionSequence = [{ ...SEG_CODE.hipJoint, AnatomicRegionModifierSequence: [side] }];
      }
    }
  }
  if (fractional) {
    Object.assign(seg.dataset, {
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      SegmentationFractionalType: 'PROBABILITY',
      MaximumFractionalValue: 255,
    });
  } else seg.bitPackPixelData();
  seg.dataset._vrMap = { ...seg.dataset._vrMap, PixelData: 'OB' };
  if (o.dropSourceReference)
    for (const f of seg.dataset.PerFrameFunctionalGroupsSequence) delete f.DerivationImageSequence;
  return seg.dataset;
}

export function buildSeg(o: BuildSegOptions): Buffer {
  return d.data.datasetToBuffer(buildSegDataset(o));
}

/**
 * A label-map SEG (Label Map Segmentation Storage, 1.2.840.10008.5.1.4.1.1.66.7) as highdicom writes one
 * (seg/sop.py, SegmentationType LABELMAP): one frame per source slice, each pixel the number of its segment,
 * BitsAllocated 8, PixelPaddingValue 0.
 */
export function buildLabelMapSeg(o: BuildSegOptions): Buffer {
  const ds = buildSegDataset({ ...o, segmentationType: 'FRACTIONAL' });
  const n = o.slices ?? 3;
  const src = new Uint8Array(ds.PixelData);
  const out = new Uint8Array(n * R * C);
  ds.PerFrameFunctionalGroupsSequence.forEach((f: { SegmentIdentificationSequence: unknown }, i: number) => {
    const segNo = [f.SegmentIdentificationSequence].flat()[0] as { ReferencedSegmentNumber: number };
    for (let p = 0; p < R * C; p++) if (src[i * R * C + p]) out[(i % n) * R * C + p] = segNo.ReferencedSegmentNumber;
  });
  for (const f of ds.PerFrameFunctionalGroupsSequence) delete f.SegmentIdentificationSequence;
  ds.PerFrameFunctionalGroupsSequence = ds.PerFrameFunctionalGroupsSequence.slice(0, n);
  for (const k of ['SegmentationFractionalType', 'MaximumFractionalValue']) delete ds[k];
  Object.assign(ds, {
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.66.7',
    SegmentationType: 'LABELMAP',
    NumberOfFrames: n,
    PixelPaddingValue: 0,
    PixelData: [out.buffer],
  });
  ds._meta = { ...ds._meta, MediaStorageSOPClassUID: { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.66.7'] } };
  return d.data.datasetToBuffer(ds);
}
