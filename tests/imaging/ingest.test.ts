/**
 * POST /imaging/findings end to end: written to the embedded FHIR server over HTTP as one transaction,
 * idempotent, amended on a corrected read, audited, refused for an unknown patient, and read by the next card.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { DOC } from '../helpers/findings.ts';
import { daily, myositisPatient } from '../helpers/patients.ts';

const TOKEN = 'ingest-token-for-tests-0123';
let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({
    now: '2026-06-01T10:00:00Z',
    ingestToken: TOKEN,
    resources: [
      ...myositisPatient('p1'),
      daily('p1', 1, 60, '2026-01-01', '2026-03-31'),
      daily('p1', 2, 10, '2026-04-01'),
    ],
  });
});
afterAll(() => h.close());

const post = (body: unknown, token = TOKEN) =>
  fetch(`${h.base}/imaging/findings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
const search = async (q: string) => (await (await fetch(`${h.base}/fhir/${q}`)).json()) as Bundle;

describe('POST /imaging/findings', () => {
  it('writes profiled Observations, a DiagnosticReport and a Provenance; the write is audited', async () => {
    const r = await post(DOC);
    expect(r.status).toBe(201);
    const body = (await r.json()) as {
      outcome: string;
      observations: string[];
      diagnosticReport: string;
      conclusion: string;
    };
    expect(body.outcome).toBe('created');
    expect(body.observations).toHaveLength(4);
    const obs = await search('Observation?subject=Patient/p1&code=http://snomed.info/sct|397758007');
    expect(obs.total).toBe(4);
    const report = await search('DiagnosticReport?subject=Patient/p1');
    expect(report.entry![0]!.resource).toMatchObject({ status: 'final', conclusion: body.conclusion });
    expect((report.entry![0]!.resource as { result: unknown[] }).result).toHaveLength(4);
    expect((await search('Provenance')).total).toBe(1);
    const rows = await h.store.db.query<{ study_uid: string; resource_refs: string[] }>(
      'select study_uid, resource_refs from write_back',
    );
    expect(rows[0]).toMatchObject({ study_uid: '2.25.123456789' });
    expect(rows[0]!.resource_refs).toHaveLength(6);
  });

  it('re-ingesting the same study updates and never duplicates', async () => {
    const r = await post(DOC);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { outcome: string }).outcome).toBe('unchanged');
    expect((await search('Observation?subject=Patient/p1')).total).toBe(4);
    expect((await search('DiagnosticReport?subject=Patient/p1')).total).toBe(1);
    expect((await search('Provenance')).total).toBe(1);
  });

  it('a corrected read becomes amended', async () => {
    const corrected = {
      ...DOC,
      sites: DOC.sites.map((s) => (s.joint === 'ankle' ? { ...s, osteonecrosis: false } : s)),
    };
    const r = await post(corrected);
    expect(((await r.json()) as { outcome: string }).outcome).toBe('amended');
    const ankle = (
      await search(
        `Observation?identifier=${encodeURIComponent('urn:osteowatch:osteonecrosis-finding|2.25.123456789/ankle/left')}`,
      )
    ).entry![0]!.resource as Observation;
    expect(ankle.status).toBe('amended');
    expect(ankle.valueCodeableConcept!.coding![0]!.code).toBe('2667000');
    expect((await search('Observation?subject=Patient/p1')).total).toBe(4);
  });

  it('the next patient-view shows the findings card (critical for the left hip)', async () => {
    const r = await h.call('osteonecrosis-screening', {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      fhirServer: `${h.base}/fhir`,
      context: { userId: 'Practitioner/x', patientId: 'p1' },
    });
    const f = r.body.cards.find((c: { summary: string }) => c.summary.startsWith('Osteonecrosis'));
    expect(f.indicator).toBe('critical');
    expect(f.summary).toBe('Osteonecrosis on WB-MRI: L hip, R knee — high collapse risk: L hip');
  });

  it('an unknown patient is refused and nothing is written', async () => {
    const before = (await search('Observation')).total;
    const r = await post({ ...DOC, patient: 'Patient/nobody', studyInstanceUid: '2.25.999' });
    expect(r.status).toBe(422);
    expect(((await r.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toBe(
      'Patient/nobody does not exist on the FHIR server; nothing was written',
    );
    expect((await search('Observation')).total).toBe(before);
  });

  it('accepts a DICOM SR (TID 1500) as application/dicom and writes the same resources', async () => {
    const { buildSr } = await import('../helpers/sr.ts');
    const sr = buildSr({ ...DOC, studyInstanceUid: '2.25.555', sites: [DOC.sites[1]!] }, { patientId: 'p1' });
    const r = await fetch(`${h.base}/imaging/findings`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom', authorization: `Bearer ${TOKEN}` },
      body: sr,
    });
    expect(r.status).toBe(201);
    const knee = (
      await search(
        `Observation?identifier=${encodeURIComponent('urn:osteowatch:osteonecrosis-finding|2.25.555/knee/right')}`,
      )
    ).entry![0]!.resource as Observation;
    expect(knee.component!.map((c) => c.valueCodeableConcept?.coding?.[0]?.code)).toEqual([
      'medial-femoral',
      'lateral-tibial',
      'knee-surface-lt-25',
    ]);
    const junk = await fetch(`${h.base}/imaging/findings`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom', authorization: `Bearer ${TOKEN}` },
      body: Buffer.from('no dicom here'),
    });
    expect(junk.status).toBe(400);
    // Kind-neutral: the route cannot know an SR from a SEG before reading the bytes.
    expect(((await junk.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toMatch(
      /^DICOM: not a DICOM Part 10 file/,
    );
  });

  it('a label-map SEG posted as application/dicom is refused with a message that says so (400)', async () => {
    const { readFileSync } = await import('node:fs');
    // DCMTK-written (tests/fixtures/dicom/README.md).
    const labelMap = readFileSync(new URL('../fixtures/dicom/seg-labelmap.dcm', import.meta.url));
    const before = (await search('Observation')).total;
    const r = await fetch(`${h.base}/imaging/findings`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom', authorization: `Bearer ${TOKEN}` },
      body: labelMap,
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toBe(
      'DICOM: a DICOM Segmentation (label map) is not read: SOP class 1.2.840.10008.5.1.4.1.1.66.7; send a binary Segmentation (1.2.840.10008.5.1.4.1.1.66.4)',
    );
    expect((await search('Observation')).total).toBe(before);
  });

  it('invalid documents get 400 with an OperationOutcome; no token gets 401', async () => {
    const bad = await post({ ...DOC, studyDate: 'May 20' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toContain(
      'studyDate',
    );
    expect((await post(DOC, 'wrong-token-wrong-token')).status).toBe(401);
  });
});
