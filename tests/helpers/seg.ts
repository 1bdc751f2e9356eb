/** Builds DICOM SEG files with dcmjs: MR slices, a femoral-head segment and a necrotic-region segment per side. */
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

export function buildSeg(o: {
  patientId: string;
  studyUid: string;
  studyDate: string;
  slices?: number;
  sides: SegSide[];
  dropSourceReference?: boolean;
  signal?: MrSignal;
}): Buffer {
  const n = o.slices ?? 3;
  const slices = mrSlices(o);
  const mf = d.normalizers.Normalizer.normalizeToDataset(slices);
  const seg = new d.derivations.Segmentation([mf], {
    includeSliceSpacing: true,
    SeriesDescription: 'ONFH',
    SeriesNumber: '300',
  });
  const segmentCount = o.sides.reduce((s, x) => s + (x.necrosisPixels === undefined ? 1 : 2), 0);
  seg.setNumberOfFrames(segmentCount * n);
  const frames = Array.from({ length: n }, (_, i) => i + 1);
  const sideCode = (side: 'left' | 'right') =>
    side === 'left'
      ? { CodeValue: '7771000', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Left' }
      : { CodeValue: '24028007', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Right' };
  const meta = (label: string, code: string, meaning: string, side: 'left' | 'right') => ({
    SegmentLabel: label,
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: 'onfh-pipeline',
    SegmentedPropertyCategoryCodeSequence: {
      CodeValue: code === '2812003' ? '91723000' : '49755003',
      CodingSchemeDesignator: 'SCT',
      CodeMeaning: code === '2812003' ? 'Anatomical Structure' : 'Morphologically Altered Structure',
    },
    SegmentedPropertyTypeCodeSequence: { CodeValue: code, CodingSchemeDesignator: 'SCT', CodeMeaning: meaning },
    AnatomicRegionSequence: {
      CodeValue: '2812003',
      CodingSchemeDesignator: 'SCT',
      CodeMeaning: 'Femoral head',
      AnatomicRegionModifierSequence: sideCode(side),
    },
  });
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
    seg.addSegmentFromLabelmap(meta(`${s.side} femoral head`, '2812003', 'Femoral head', s.side), head, label, frames);
    label++;
    if (s.necrosisPixels !== undefined) {
      const nec = Array.from({ length: n }, () => {
        const m = new Uint8Array(R * C);
        for (let i = 0; i < s.necrosisPixels!; i++) m[offset + i] = label;
        return m;
      });
      seg.addSegmentFromLabelmap(
        meta(`${s.side} femoral head necrosis`, '6574001', 'Necrosis', s.side),
        nec,
        label,
        frames,
      );
      label++;
    }
  }
  // The dcmjs derivation keeps only some segment attributes: set the laterality (a property-type modifier)
  // and the anatomic region on the written segments.
  let k = 0;
  for (const s of o.sides) {
    for (let j = 0; j < (s.necrosisPixels === undefined ? 1 : 2); j++) {
      const item = seg.dataset.SegmentSequence[k++];
      item.SegmentedPropertyTypeModifierCodeSequence = [sideCode(s.side)];
      item.AnatomicRegionSequence = [
        { CodeValue: '2812003', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Femoral head' },
      ];
    }
  }
  seg.bitPackPixelData();
  seg.dataset._vrMap = { ...seg.dataset._vrMap, PixelData: 'OB' };
  if (o.dropSourceReference)
    for (const f of seg.dataset.PerFrameFunctionalGroupsSequence) delete f.DerivationImageSequence;
  return d.data.datasetToBuffer(seg.dataset);
}
