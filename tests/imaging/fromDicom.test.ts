/** The one dispatcher from a DICOM object to a findings document, and the import graph of src/imaging around it. */
import { readdirSync, readFileSync } from 'node:fs';
import dcmjs from 'dcmjs';
import { describe, expect, it } from 'vitest';
import { DicomInputError, LABEL_MAP_SEG_SOP_CLASS, readDataset } from '../../src/imaging/dicom.ts';
import { findingsFromDicom } from '../../src/imaging/fromDicom.ts';
import { DOC } from '../helpers/findings.ts';
import { buildSeg, mrSlices } from '../helpers/seg.ts';
import { buildSr } from '../helpers/sr.ts';

const SEG = {
  patientId: 'p1',
  studyUid: '2.25.3030',
  studyDate: '2026-05-20',
  sides: [{ side: 'left' as const, headPixels: 100, necrosisPixels: 35 }],
};

describe('findingsFromDicom: a switch on the SOP class', () => {
  it('sends a TID 1500 SR to the SR reader', async () => {
    const doc = await findingsFromDicom(buildSr(DOC, { patientId: 'p1' }));
    expect(doc.reader.display).toBe('Dr R. Reader');
    expect(doc.sites).toEqual(DOC.sites);
  });

  it('sends a SEG to the SEG reader, as bytes or as a dataset already read (the receiver)', async () => {
    const bytes = buildSeg(SEG);
    const sites = [{ joint: 'hip', side: 'left', osteonecrosis: true, necroticSharePercent: 35 }];
    expect(await findingsFromDicom(bytes)).toMatchObject({ reader: { display: 'onfh-pipeline' }, sites });
    expect((await findingsFromDicom(readDataset(bytes))).sites).toEqual(sites);
  });

  it.each([
    ['bytes that are not DICOM', () => Buffer.from('no dicom here'), 'not a DICOM Part 10 file'],
    [
      'a label-map SEG',
      () => ({ ...readDataset(buildSeg(SEG)), SOPClassUID: LABEL_MAP_SEG_SOP_CLASS }),
      'a DICOM Segmentation (label map) is not read: SOP class 1.2.840.10008.5.1.4.1.1.66.7',
    ],
    [
      'an MR image',
      () => dcmjs.data.datasetToBuffer(mrSlices(SEG)[0]!),
      'an MR image is a source image, not a structured report or segmentation: SOP class 1.2.840.10008.5.1.4.1.1.4',
    ],
    [
      'a CT image',
      () => ({ ...readDataset(buildSr(DOC, { patientId: 'p1' })), SOPClassUID: '1.2.840.10008.5.1.4.1.1.2' }),
      'not a structured report or segmentation: SOP class 1.2.840.10008.5.1.4.1.1.2',
    ],
  ])('refuses %s with a message naming it', async (_n, make, message) => {
    const refused = findingsFromDicom(make());
    await expect(refused).rejects.toThrow(DicomInputError);
    await expect(refused).rejects.toThrow(message);
  });
});

/** The first cycle found in a module graph, as a path that ends where it starts. */
function findCycle(graph: ReadonlyMap<string, string[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (path.includes(file)) return [...path.slice(path.indexOf(file)), file];
    if (done.has(file)) return undefined;
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(file);
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('src/imaging', () => {
  it('has no import cycle, counting dynamic imports', () => {
    const dir = new URL('../../src/imaging/', import.meta.url);
    const graph = new Map(
      readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => [
          f,
          [...readFileSync(new URL(f, dir), 'utf8').matchAll(/(?:from|import\s*\()\s*['"]\.\/([\w.-]+\.ts)['"]/g)].map(
            (m) => m[1]!,
          ),
        ]),
    );
    expect(graph.get('fromDicom.ts')).toEqual(expect.arrayContaining(['dicom.ts', 'seg.ts', 'sr.ts']));
    expect(findCycle(graph)).toBeUndefined();
    // The check would see the circle this module graph once had (sr.ts ↔ seg.ts through a dynamic import).
    expect(findCycle(new Map([...graph, ['seg.ts', ['sr.ts']], ['sr.ts', ['seg.ts']]]))).toBeDefined();
  });
});
