/**
 * Interoperability with DCMTK (Debian package dcmtk): its SR parser accepts our TID 1500 test reports, and a
 * report written by DCMTK's own tools (dcmdump → dump2dcm) is read by OsteoWatch.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { findingsFromSr } from '../../src/imaging/sr.ts';
import { DOC } from '../helpers/findings.ts';
import { buildSr } from '../helpers/sr.ts';
import { describeWithTool } from '../helpers/systemTools.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'osteowatch-dcmtk-'));

describeWithTool('dcmtk', 'DCMTK interoperability', () => {
  it('dsrdump parses the TID 1500 report as a structured report', async () => {
    const file = join(dir, 'sr.dcm');
    writeFileSync(file, buildSr(DOC, { patientId: 'p1' }));
    const r = await run('dsrdump', [file]);
    expect(r.stdout).toContain('Imaging Measurement Report');
    expect(r.stdout).toContain('Measurement Group');
  });

  it('a report written by DCMTK (dump2dcm) is read back with the same findings', async () => {
    const src = join(dir, 'src.dcm');
    writeFileSync(src, buildSr(DOC, { patientId: 'p1' }));
    const dump = (await run('dcmdump', ['+L', '+U8', src], { maxBuffer: 10 * 1024 * 1024 })).stdout.replace(
      /\[p1\]/,
      '[p2]',
    );
    const dumpFile = join(dir, 'sr.txt');
    writeFileSync(dumpFile, dump);
    const out = join(dir, 'dcmtk.dcm');
    await run('dump2dcm', ['+E', dumpFile, out]);
    const doc = findingsFromSr(readFileSync(out));
    expect(doc.patient).toBe('Patient/p2');
    expect(doc.sites).toEqual(DOC.sites);
  });
});
