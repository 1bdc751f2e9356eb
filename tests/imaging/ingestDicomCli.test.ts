/** `osteowatch ingest` with DICOM objects as real toolkits write them (DCMTK-written fixtures, README.md there). */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOsteowatch } from '../helpers/cli.ts';
import { myositisPatient } from '../helpers/patients.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/dicom/${name}`, import.meta.url));
const env = {
  OSTEOWATCH_DATA_DIR: join(mkdtempSync(join(tmpdir(), 'osteowatch-ingest-dicom-')), 'store'),
  DATABASE_URL: '',
};
let srv: RunningServer;
beforeAll(async () => {
  srv = await startServer(myositisPatient('p1'));
});
afterAll(() => srv.close());

describe('osteowatch ingest FILE.dcm', () => {
  it('a label-map SEG is refused with a message that says so, exit 1, nothing written', async () => {
    const r = await runOsteowatch(['ingest', fixture('seg-labelmap.dcm'), '--fhir', srv.fhirUrl], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'seg-labelmap.dcm: a DICOM Segmentation (label map) is not read: SOP class 1.2.840.10008.5.1.4.1.1.66.7',
    );
    expect((await srv.repo.searchResources({ resourceType: 'Observation' })).length).toBe(0);
  });

  it('a DCMTK-written SR with LongCodeValue items: the collapsed knee is written with its collapse and extent', async () => {
    const r = await runOsteowatch(['ingest', fixture('sr-collapsed-knee.dcm'), '--fhir', srv.fhirUrl, '--json'], env);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({
      outcome: 'created',
      conclusion: 'Osteonecrosis of the left knee; high collapse risk: left knee.',
    });
    // The first write opens the embedded audit store: slow on a loaded 2-core machine.
  }, 120_000);
});
