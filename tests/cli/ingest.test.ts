import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOsteowatch } from '../helpers/cli.ts';
import { DOC } from '../helpers/findings.ts';
import { myositisPatient } from '../helpers/patients.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'osteowatch-ingest-'));
const file = join(dir, 'findings.json');
writeFileSync(file, JSON.stringify(DOC));
let srv: RunningServer;
beforeAll(async () => {
  srv = await startServer(myositisPatient('p1'));
});
afterAll(() => srv.close());

// Each CLI run is a new process that opens the embedded store on disk: seconds each on a busy machine.
describe('osteowatch ingest FILE --fhir BASE_URL', { timeout: 120_000 }, () => {
  const env = { OSTEOWATCH_DATA_DIR: join(dir, 'store'), DATABASE_URL: '' };

  it('writes the findings to the FHIR server and records the write', async () => {
    const r = await runOsteowatch(['ingest', file, '--fhir', srv.fhirUrl], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^created: 4 Observations, DiagnosticReport\/\S+ — Multifocal osteonecrosis in 3 joints/);
    const again = await runOsteowatch(['ingest', file, '--fhir', srv.fhirUrl, '--json'], env);
    expect(JSON.parse(again.stdout).outcome).toBe('unchanged');
    const audit = await runOsteowatch(['audit', 'patient', 'p1', '--json'], env);
    const history = JSON.parse(audit.stdout) as { writeBacks: Array<{ studyUid: string; resourceRefs: string[] }> };
    expect(history.writeBacks).toHaveLength(2);
    // As text too: the auditor reading the terminal sees what was written to the EHR.
    const text = (await runOsteowatch(['audit', 'patient', 'p1'], env)).stdout;
    expect(text).toContain('Imaging findings written back:');
    for (const w of history.writeBacks) {
      expect(text).toContain(w.studyUid);
      expect(text).toContain(w.resourceRefs[0]!);
    }
  });

  it('a DICOM SR file is read with dcmjs and written the same way', async () => {
    const { buildSr } = await import('../helpers/sr.ts');
    const sr = join(dir, 'report.dcm');
    writeFileSync(sr, buildSr({ ...DOC, studyInstanceUid: '2.25.777' }, { patientId: 'p1' }));
    const r = await runOsteowatch(['ingest', sr, '--fhir', srv.fhirUrl, '--json'], env);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({
      outcome: 'created',
      conclusion:
        'Multifocal osteonecrosis in 3 joints (left hip, right knee, left ankle); high collapse risk: left hip.',
    });
  });

  it('a head-only SEG with --images: the lesion is estimated on the source MR', async () => {
    const dcmjs = (await import('dcmjs')).default;
    const { mkdirSync } = await import('node:fs');
    const { buildSeg, mrSlices } = await import('../helpers/seg.ts');
    const o = {
      patientId: 'p1',
      studyUid: '2.25.6060',
      studyDate: '2026-05-27',
      sides: [{ side: 'left' as const, headPixels: 0, headBox: [3, 3, 12, 12] as [number, number, number, number] }],
      signal: { lesion: { box: [5, 5, 8, 8] as [number, number, number, number], value: 400 } },
    };
    const images = join(dir, 'mr');
    mkdirSync(images, { recursive: true });
    for (const [i, s] of mrSlices(o).entries())
      writeFileSync(join(images, `mr${i}.dcm`), dcmjs.data.datasetToBuffer(s));
    const seg = join(dir, 'head-only.dcm');
    writeFileSync(seg, buildSeg(o));
    const without = await runOsteowatch(['ingest', seg, '--fhir', srv.fhirUrl], env);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('source images are missing');
    const r = await runOsteowatch(['ingest', seg, '--fhir', srv.fhirUrl, '--images', images, '--json'], env);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).conclusion).toBe('Osteonecrosis of the left hip.');
  });

  it('bad input: a clear message, a non-zero exit, nothing written', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...DOC, sites: [] }));
    const r = await runOsteowatch(['ingest', bad, '--fhir', srv.fhirUrl], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a valid findings document: sites must list at least one joint and side');
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ ...DOC, patient: 'Patient/ghost' }));
    const u = await runOsteowatch(['ingest', unknown, '--fhir', srv.fhirUrl], env);
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('Patient/ghost does not exist on the FHIR server; nothing was written');
  });
});
