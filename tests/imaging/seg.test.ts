import { describe, expect, it } from 'vitest';
import { DicomInputError } from '../../src/imaging/dicom.ts';
import { findingsFromDicom } from '../../src/imaging/fromDicom.ts';
import { buildSeg, mrSlices } from '../helpers/seg.ts';

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
