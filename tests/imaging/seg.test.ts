import { readFileSync } from 'node:fs';
import dcmjs from 'dcmjs';
import { describe, expect, it } from 'vitest';
import { DicomInputError } from '../../src/imaging/dicom.ts';
import { findingsFromDicom } from '../../src/imaging/fromDicom.ts';
import { buildSeg, buildSegDataset, mrSlices, SEG_CODE } from '../helpers/seg.ts';

const base = { patientId: 'p1', studyUid: '2.25.8080', studyDate: '2026-05-20' };

describe('DICOM SEG (femoral head + necrotic region) → necrotic share and Steinberg grade', () => {
  it('computes the share of each femoral head from its segments: 35 of 100 pixels = 35 % (severe), 10 of 100 = 10 % (mild)', async () => {
    const doc = await findingsFromDicom(
      buildSeg({
        ...base,
        sides: [
          { side: 'left', headPixels: 100, necrosisPixels: 35 },
          { side: 'right', headPixels: 100, necrosisPixels: 10 },
        ],
      }),
    );
    expect(doc).toMatchObject({
      patient: 'Patient/p1',
      studyInstanceUid: '2.25.8080',
      studyDate: '2026-05-20',
      reader: { display: 'onfh-pipeline' },
    });
    expect(doc.sites).toEqual([
      { joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 35 },
      { joint: 'hip', side: 'right', osteonecrosis: true, necroticSharePercent: 10 },
    ]);
  });

  it('a share below 0.1 % is read as no necrosis (Steinberg 1995)', async () => {
    // 100 pixels per slice over 3 slices = 300 head pixels; an empty necrotic segment → 0 %.
    const doc = await findingsFromDicom(
      buildSeg({ ...base, sides: [{ side: 'left', headPixels: 120, necrosisPixels: 0 }] }),
    );
    expect(doc.sites).toEqual([{ joint: 'hip', side: 'left', osteonecrosis: false }]);
  });

  it.each([
    [
      'frames that do not reference their source images',
      { ...base, sides: [{ side: 'left' as const, headPixels: 100, necrosisPixels: 20 }], dropSourceReference: true },
      'does not reference its source image',
    ],
    [
      'a head segmented without its necrotic region',
      { ...base, sides: [{ side: 'left' as const, headPixels: 100 }] },
      'only the left femoral head is segmented',
    ],
  ])('refuses %s with a message', async (_n, opts, message) => {
    await expect(findingsFromDicom(buildSeg(opts))).rejects.toThrow(DicomInputError);
    await expect(findingsFromDicom(buildSeg(opts))).rejects.toThrow(message);
  });
});

describe('SEG with only the femoral head: Otsu inside the head on the source MR (Otsu 1979)', () => {
  const head: [number, number, number, number] = [3, 3, 12, 12]; // 10 × 10; 8 × 8 = 64 px after removing the rim
  const lesion = { box: [5, 5, 8, 8] as [number, number, number, number], value: 400 }; // 4 × 4 = 16 px, bright on STIR

  const sourcesOf = async (o: Parameters<typeof mrSlices>[0]) => {
    const dcmjs = (await import('dcmjs')).default;
    const map = new Map<string, Record<string, unknown>>();
    for (const s of mrSlices(o)) {
      const bytes = dcmjs.data.datasetToBuffer(s);
      const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
        dcmjs.data.DicomMessage.readFile(
          bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        ).dict,
      );
      map.set(String(ds.SOPInstanceUID), ds);
    }
    return map;
  };

  it('a bright lesion of 16 of the 64 inner head pixels → 25 % (Steinberg moderate)', async () => {
    const o = { ...base, sides: [{ side: 'left' as const, headPixels: 0, headBox: head }], signal: { lesion } };
    const doc = await findingsFromDicom(buildSeg(o), await sourcesOf(o));
    expect(doc.sites).toEqual([{ joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 25 }]);
  });

  it('a lesion-free head with noise is not split into a fake lesion (separability guard)', async () => {
    const o = { ...base, sides: [{ side: 'left' as const, headPixels: 0, headBox: head }], signal: { noise: 5 } };
    const doc = await findingsFromDicom(buildSeg(o), await sourcesOf(o));
    expect(doc.sites).toEqual([{ joint: 'hip', side: 'left', osteonecrosis: false }]);
  });

  it('without its source images the SEG is refused, naming the missing images', async () => {
    const o = { ...base, sides: [{ side: 'left' as const, headPixels: 0, headBox: head }], signal: { lesion } };
    await expect(findingsFromDicom(buildSeg(o))).rejects.toThrow(
      /only the left femoral head is segmented, and 3 of its 3 source images are missing \(2\.25\.8080\.1\.\d/,
    );
  });
});

describe('SEG segments coded as real toolkits code them (highdicom, dcmqi; PS3.3 C.8.20.2)', () => {
  const fixture = (name: string) => readFileSync(new URL(`../fixtures/dicom/${name}`, import.meta.url));
  const left35 = [{ joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 35 }];
  const sourcesOf = async (o: Parameters<typeof mrSlices>[0]) => {
    const map = new Map<string, Record<string, unknown>>();
    for (const s of mrSlices(o)) map.set(String(s.SOPInstanceUID), s as unknown as Record<string, unknown>);
    return map;
  };

  it('laterality nested in the type item (DCMTK dcmseg, dcmqi), necrosis typed Necrosis 6574001: graded', async () => {
    const o = { ...base, sides: [{ side: 'left' as const, headPixels: 100, necrosisPixels: 35 }] };
    expect((await findingsFromDicom(buildSeg(o))).sites).toEqual(left35);
    // Only the type modifier says the side (no AnatomicRegionSequence, as dcmqi writes it when none is given).
    const ds = buildSegDataset(o);
    for (const segment of ds.SegmentSequence) delete segment.AnatomicRegionSequence;
    expect((await findingsFromDicom(dcmjs.data.datasetToBuffer(ds))).sites).toEqual(left35);
  });

  it('a necrotic segment typed osteonecrosis 397758007 (as our SR codes it) is graded, never replaced by the estimate', async () => {
    const o = {
      ...base,
      sides: [{ side: 'left' as const, headPixels: 100, necrosisPixels: 35 }],
      necrosis: { type: SEG_CODE.osteonecrosis },
      signal: { lesion: { box: [0, 0, 1, 15] as [number, number, number, number], value: 400 } },
    };
    // With the source images at hand, a reader that did not know 397758007 would estimate instead (Otsu).
    expect((await findingsFromDicom(buildSeg(o), await sourcesOf(o))).sites).toEqual(left35);
    // The DCMTK-written fixture of the same object (README.md in tests/fixtures/dicom).
    expect((await findingsFromDicom(fixture('seg-osteonecrosis-397758007.dcm'))).sites).toEqual(left35);
  });

  it('a SEG written the way this helper first wrote it (retired category 91723000, laterality on the segment) still reads', async () => {
    const doc = await findingsFromDicom(
      buildSeg({ ...base, coding: 'legacy', sides: [{ side: 'left', headPixels: 100, necrosisPixels: 35 }] }),
    );
    expect(doc.sites).toEqual(left35);
  });

  it('no usable segment: the message lists the segments found (number, label, category and type)', async () => {
    const ds = buildSegDataset({
      ...base,
      sides: [{ side: 'left', headPixels: 100, necrosisPixels: 35 }],
      necrosis: {
        category: SEG_CODE.anatomicalStructure,
        type: { ...SEG_CODE.femoralHead, CodeValue: '71341001', CodeMeaning: 'Femur' },
      },
    });
    ds.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue = '24136001';
    const refused = findingsFromDicom(dcmjs.data.datasetToBuffer(ds));
    await expect(refused).rejects.toThrow(DicomInputError);
    await expect(refused).rejects.toThrow(
      'the segmentation has no femoral-head (2812003, SCT) segment; segments found: 1 "left femoral head" (category 123037004 SCT, type 24136001 SCT), 2 "left femoral head necrosis" (category 123037004 SCT, type 71341001 SCT)',
    );
  });

  it('a lesion segment of a type it does not read is refused, never replaced by the estimate from the source images', async () => {
    const o = {
      ...base,
      sides: [{ side: 'left' as const, headPixels: 100, necrosisPixels: 35 }],
      necrosis: { type: { ...SEG_CODE.necrosis, CodeValue: '79654002', CodeMeaning: 'Edema' } },
    };
    await expect(findingsFromDicom(buildSeg(o), await sourcesOf(o))).rejects.toThrow(
      'segment 2 "left femoral head necrosis" (category 49755003 SCT, type 79654002 SCT) is a morphologically altered structure of a type not read',
    );
  });

  it('FRACTIONAL: a pixel is inside when its fraction is over one half of MaximumFractionalValue', async () => {
    // Necrosis 30 px at 200/255 inside, 20 px at 100/255 outside: 30 of the 100 head pixels.
    const doc = await findingsFromDicom(
      buildSeg({
        ...base,
        segmentationType: 'FRACTIONAL',
        sides: [{ side: 'left', headPixels: 100, necrosisPixels: 30, partialPixels: 20 }],
      }),
    );
    expect(doc.sites).toEqual([{ joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 30 }]);
    expect((await findingsFromDicom(fixture('seg-fractional.dcm'))).sites).toEqual(doc.sites);
  });

  it.each([
    ['no SegmentationType', undefined, 'SegmentationType is missing'],
    ['an unknown SegmentationType', 'PROBABILISTIC', 'SegmentationType PROBABILISTIC is not read'],
    ['a FRACTIONAL SEG without MaximumFractionalValue', 'FRACTIONAL', 'MaximumFractionalValue'],
  ])('refuses %s with a message', async (_n, type, message) => {
    const ds = buildSegDataset({ ...base, sides: [{ side: 'left', headPixels: 100, necrosisPixels: 35 }] });
    if (type === undefined) delete ds.SegmentationType;
    else ds.SegmentationType = type;
    await expect(findingsFromDicom(dcmjs.data.datasetToBuffer(ds))).rejects.toThrow(message);
  });
});
