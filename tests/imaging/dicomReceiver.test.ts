/**
 * The DICOM receiver as a PACS uses it: DCMTK's storescu (Debian package dcmtk) pushes TID 1500 SR files built
 * with dcmjs; the Observations are read back from the embedded FHIR server over HTTP.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fhirClient } from '../../src/fhir/patientRecords.ts';
import { type DicomReceiver, startDicomReceiver } from '../../src/imaging/dicomReceiver.ts';
import { writeFindings } from '../../src/imaging/writeBack.ts';
import { DOC } from '../helpers/findings.ts';
import { myositisPatient } from '../helpers/patients.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';
import { buildSr } from '../helpers/sr.ts';
import { describeWithTool } from '../helpers/systemTools.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'osteowatch-dimse-'));
let srv: RunningServer;
let rx: DicomReceiver;
const errors: string[] = [];

const storescu = (file: string, aec = 'OSTEOWATCH') =>
  run('storescu', ['-v', '-R', '-aet', 'PACS', '-aec', aec, '127.0.0.1', String(rx.port), file]).then(
    (r) => ({ ok: true, out: r.stdout + r.stderr }),
    (e: { stdout?: string; stderr?: string }) => ({ ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
  );

describeWithTool('dcmtk', 'DICOM C-STORE receiver', () => {
  beforeAll(async () => {
    srv = await startServer(myositisPatient('p1'));
    rx = await startDicomReceiver({
      port: 0,
      host: '127.0.0.1',
      aeTitle: 'OSTEOWATCH',
      onReport: async (doc) => {
        await writeFindings(doc, { client: fhirClient(srv.fhirUrl), now: new Date('2026-06-01T10:00:00Z') });
      },
      onError: (m) => errors.push(m),
    });
  });
  afterAll(async () => {
    await rx.close();
    await srv.close();
  });

  it('answers C-ECHO', async () => {
    const r = await run('echoscu', ['-aec', 'OSTEOWATCH', '127.0.0.1', String(rx.port)]);
    expect(r.stderr).not.toMatch(/error/i);
  });

  it('a pushed SR becomes profiled Observations on the FHIR server', async () => {
    const file = join(dir, 'report.dcm');
    writeFileSync(file, buildSr(DOC, { patientId: 'p1' }));
    const r = await storescu(file);
    expect(r.ok).toBe(true);
    const obs = (await (await fetch(`${srv.fhirUrl}/Observation?subject=Patient/p1`)).json()) as Bundle;
    expect(obs.total).toBe(4);
  });

  it('a pushed SEG is graded: left femoral head 35 % necrotic → Steinberg severe, written as a hip Observation', async () => {
    const { buildSeg } = await import('../helpers/seg.ts');
    const file = join(dir, 'seg.dcm');
    writeFileSync(
      file,
      buildSeg({
        patientId: 'p1',
        studyUid: '2.25.9090',
        studyDate: '2026-05-25',
        sides: [{ side: 'left', headPixels: 100, necrosisPixels: 35 }],
      }),
    );
    const r = await storescu(file);
    expect(r.ok).toBe(true);
    const obs = (await (
      await fetch(
        `${srv.fhirUrl}/Observation?identifier=${encodeURIComponent('urn:osteowatch:osteonecrosis-finding|2.25.9090/hip/left')}`,
      )
    ).json()) as Bundle;
    const o = obs.entry![0]!.resource as {
      component: Array<{
        valueQuantity?: { value: number };
        valueCodeableConcept?: { coding: Array<{ code: string }> };
      }>;
    };
    expect(o.component.map((c) => c.valueQuantity?.value ?? c.valueCodeableConcept?.coding[0]?.code)).toEqual([
      35,
      'steinberg-severe',
    ]);
  });

  it('a series pushed before its head-only SEG: the lesion is estimated on the received MR (25 %)', async () => {
    const dcmjs = (await import('dcmjs')).default;
    const { buildSeg, mrSlices } = await import('../helpers/seg.ts');
    const o = {
      patientId: 'p1',
      studyUid: '2.25.7070',
      studyDate: '2026-05-26',
      sides: [{ side: 'right' as const, headPixels: 0, headBox: [3, 3, 12, 12] as [number, number, number, number] }],
      signal: { lesion: { box: [5, 5, 8, 8] as [number, number, number, number], value: 400 } },
    };
    const files = mrSlices(o).map((s, i) => {
      const f = join(dir, `mr${i}.dcm`);
      writeFileSync(f, dcmjs.data.datasetToBuffer(s));
      return f;
    });
    const segFile = join(dir, 'head-only-seg.dcm');
    writeFileSync(segFile, buildSeg(o));
    const r = await run('storescu', ['-R', '-aec', 'OSTEOWATCH', '127.0.0.1', String(rx.port), ...files, segFile]).then(
      () => true,
      () => false,
    );
    expect(r).toBe(true);
    const obs = (await (
      await fetch(
        `${srv.fhirUrl}/Observation?identifier=${encodeURIComponent('urn:osteowatch:osteonecrosis-finding|2.25.7070/hip/right')}`,
      )
    ).json()) as Bundle;
    const c = (obs.entry![0]!.resource as { component: Array<{ valueQuantity?: { value: number } }> }).component;
    expect(c[0]!.valueQuantity!.value).toBe(25);
  });

  it('a report with an unknown template is refused with a failure status, nothing written', async () => {
    const file = join(dir, 'other.dcm');
    writeFileSync(file, buildSr({ ...DOC, studyInstanceUid: '2.25.4242' }, { patientId: 'p1', template: '2000' }));
    const r = await storescu(file);
    expect(r.out).toMatch(/0xc000|Cannot understand|Error|Failed/i);
    expect(errors.at(-1)).toContain('unknown SR template 2000');
    expect(errors.length).toBe(1);
  });

  it('another called AE title is rejected', async () => {
    const r = await storescu(join(dir, 'report.dcm'), 'SOMEONE');
    expect(r.ok).toBe(false);
  });
});
