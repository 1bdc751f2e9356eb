/**
 * DICOM SEG as DCMTK writes it: segmentations built with the attributes highdicom and dcmqi write
 * (tests/helpers/seg.ts) are passed through DCMTK (dcmdump → dump2dcm) and read; the committed fixtures in
 * tests/fixtures/dicom were made the same way (README.md there) and read the same.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { DicomInputError } from '../../src/imaging/dicom.ts';
import { findingsFromDicom } from '../../src/imaging/fromDicom.ts';
import { buildLabelMapSeg, buildSeg, SEG_CODE } from '../helpers/seg.ts';
import { viaDcmtk } from '../helpers/sr.ts';
import { describeWithTool } from '../helpers/systemTools.ts';

const base = { patientId: 'p1', studyUid: '2.25.8080', studyDate: '2026-05-20' };
const fixture = (name: string) => readFileSync(new URL(`../fixtures/dicom/${name}`, import.meta.url));

describeWithTool('dcmtk', 'DICOM SEG written by DCMTK', () => {
  it('a necrotic segment typed osteonecrosis (397758007) with nested laterality is graded: 35 of 100 pixels', async () => {
    const bytes = await viaDcmtk(
      buildSeg({
        ...base,
        sides: [
          { side: 'left', headPixels: 100, necrosisPixels: 35 },
          { side: 'right', headPixels: 100, necrosisPixels: 10 },
        ],
        necrosis: { type: SEG_CODE.osteonecrosis },
      }),
    );
    expect((await findingsFromDicom(bytes)).sites).toEqual([
      { joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 35 },
      { joint: 'hip', side: 'right', osteonecrosis: true, necroticSharePercent: 10 },
    ]);
    expect((await findingsFromDicom(fixture('seg-osteonecrosis-397758007.dcm'))).sites).toEqual([
      { joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 35 },
    ]);
  });

  it('a FRACTIONAL SEG is read as fractions of MaximumFractionalValue, not as bit planes', async () => {
    const bytes = await viaDcmtk(
      buildSeg({
        ...base,
        segmentationType: 'FRACTIONAL',
        sides: [{ side: 'left', headPixels: 100, necrosisPixels: 30, partialPixels: 20 }],
      }),
    );
    const sites = [{ joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 30 }];
    expect((await findingsFromDicom(bytes)).sites).toEqual(sites);
    expect((await findingsFromDicom(fixture('seg-fractional.dcm'))).sites).toEqual(sites);
  });

  it('a label-map SEG (1.2.840.10008.5.1.4.1.1.66.7) is refused with a message that says so', async () => {
    const bytes = await viaDcmtk(
      buildLabelMapSeg({ ...base, sides: [{ side: 'left', headPixels: 100, necrosisPixels: 35 }] }),
    );
    for (const b of [bytes, fixture('seg-labelmap.dcm')]) {
      const refused = findingsFromDicom(b);
      await expect(refused).rejects.toThrow(DicomInputError);
      await expect(refused).rejects.toThrow(
        'a DICOM Segmentation (label map) is not read: SOP class 1.2.840.10008.5.1.4.1.1.66.7; send a binary Segmentation (1.2.840.10008.5.1.4.1.1.66.4)',
      );
    }
  });
});
