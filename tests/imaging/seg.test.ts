import { describe, expect, it } from 'vitest';
import { DicomInputError, findingsFromDicom } from '../../src/imaging/sr.ts';
import { buildSeg } from '../helpers/seg.ts';

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

  it('a share below 0.1 % is read as no necrosis (seed 004)', async () => {
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
