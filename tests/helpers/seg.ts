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
}

export function buildSeg(o: {
  patientId: string;
  studyUid: string;
  studyDate: string;
  slices?: number;
  sides: SegSide[];
  dropSourceReference?: boolean;
}): Buffer {
  const n = o.slices ?? 3;
  const slices = Array.from({ length: n }, (_, k) => ({
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
    PixelData: [new Uint16Array(R * C).fill(100).buffer],
  }));
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
      for (let i = 0; i < s.headPixels; i++) m[offset + i] = label;
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
