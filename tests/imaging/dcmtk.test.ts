/**
 * Interoperability with DCMTK (Debian package dcmtk): its SR parser accepts our TID 1500 test reports, our writer
 * encodes codes over 16 characters as LongCodeValue as DCMTK does, and reports written by DCMTK's own tools
 * (dcmdump → dump2dcm, or dump2dcm of a hand-written dump) are read by OsteoWatch.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import type { FindingsDocument } from '../../src/imaging/findingsDocument.ts';
import { findingsFromSr } from '../../src/imaging/sr.ts';
import { DOC } from '../helpers/findings.ts';
import { buildSr, dump2dcm, viaDcmtk } from '../helpers/sr.ts';
import { describeWithTool } from '../helpers/systemTools.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'osteowatch-dcmtk-'));
const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));

/** A collapsed left knee over half of its articular surface: every grading code here is over 16 characters. */
const COLLAPSED_KNEE: FindingsDocument = {
  ...DOC,
  sites: [
    { joint: 'knee', side: 'left', osteonecrosis: true, articularSurface: '>50%', collapse: true },
    { joint: 'hip', side: 'right', osteonecrosis: true, hipWeightBearingShare: '1/3-2/3' },
  ],
};

describeWithTool('dcmtk', 'DCMTK interoperability', () => {
  it('dsrdump parses the TID 1500 report as a structured report', async () => {
    const file = join(dir, 'sr.dcm');
    writeFileSync(file, buildSr(DOC, { patientId: 'p1' }));
    const r = await run('dsrdump', [file]);
    expect(r.stdout).toContain('Imaging Measurement Report');
    expect(r.stdout).toContain('Measurement Group');
  });

  it('our writer puts codes over 16 characters in LongCodeValue (UC), never in CodeValue (SH)', async () => {
    const file = join(dir, 'long.dcm');
    writeFileSync(file, buildSr(COLLAPSED_KNEE, { patientId: 'p1' }));
    const dump = (await run('dcmdump', ['+L', file])).stdout;
    for (const code of [
      'knee-articular-surface',
      'knee-surface-gt-50',
      'articular-collapse',
      'hip-weight-bearing-share',
    ])
      expect(dump).toContain(`(0008,0119) UC [${code}]`);
    const shCodes = [...dump.matchAll(/\(0008,0100\) SH \[([^\]]*)\]/g)].map((m) => m[1]!);
    expect(shCodes.length).toBeGreaterThan(0);
    expect(shCodes.filter((c) => c.length > 16)).toEqual([]);
  });

  it('a report written by DCMTK (dcmdump → dump2dcm) is read back with the same findings, long codes included', async () => {
    const out = await viaDcmtk(buildSr(DOC, { patientId: 'p1' }), (d) => d.replace(/\[p1\]/, '[p2]'));
    const doc = findingsFromSr(out);
    expect(doc.patient).toBe('Patient/p2');
    expect(doc.sites).toEqual(DOC.sites);
    expect(findingsFromSr(await viaDcmtk(buildSr(COLLAPSED_KNEE, { patientId: 'p1' }))).sites).toEqual(
      COLLAPSED_KNEE.sites,
    );
  });

  it('the hand-written DCMTK dump with (0008,0119) LongCodeValue makes the committed fixture, and reads as a collapsed knee', async () => {
    const made = await dump2dcm(join(FIXTURES, 'sr-collapsed-knee.dump'));
    const doc = findingsFromSr(made);
    expect(doc.sites).toEqual([
      {
        joint: 'knee',
        side: 'left',
        osteonecrosis: true,
        condyles: ['medial-femoral'],
        articularSurface: '>50%',
        collapse: true,
      },
    ]);
    expect(findingsFromSr(readFileSync(join(FIXTURES, 'sr-collapsed-knee.dcm')))).toEqual(doc);
  });
});
