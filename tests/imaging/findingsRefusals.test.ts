/**
 * POST /imaging/findings refuses what no reading can be — a control character in a field, a blank reader, a
 * study date before 1900 or in the future — with 400 and an OperationOutcome naming the field; and every
 * write-back refused to an authenticated caller leaves a `write-back-refused` record in the audit trail (the
 * patient and study as identifiers only, the chain intact), while an unauthenticated caller's leaves none.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRows } from '../../src/audit/queries.ts';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { DOC } from '../helpers/findings.ts';
import { myositisPatient } from '../helpers/patients.ts';

const TOKEN = 'ingest-token-for-tests-0123';
const NOW = '2026-06-01T10:00:00Z';
let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({
    now: NOW,
    ingestToken: TOKEN,
    resources: [...myositisPatient('p1'), ...myositisPatient('p2')],
  });
}, 120_000);
afterAll(() => h.close());

const post = (body: unknown, token = TOKEN) =>
  fetch(`${h.base}/imaging/findings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

interface RefusedRow {
  seq: number;
  patient_id: string | null;
  actor: string | null;
  payload: { studyUid?: string; status: number; reason: string; fields?: string[]; fhirServer?: string };
}
const refusals = () =>
  h.store.db.query<RefusedRow>(
    `select seq, patient_id, actor, payload from audit_log where kind = 'write-back-refused' order by seq`,
  );
const lastRefusal = async () => (await refusals()).at(-1);

const reader = (display: unknown) => ({ ...DOC, studyInstanceUid: '2.25.4242', reader: { display } });

describe('findings documents no reading can be: 400 naming the field', { timeout: 60_000 }, () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['a NUL in reader.display', reader('Dr\u0000Reader'), 'reader.display', /control character/],
    ['an ESC in reader.display', reader('Dr \u001b[31mReader'), 'reader.display', /control character/],
    ['a carriage return in reader.display', reader('Dr\rReader'), 'reader.display', /control character/],
    ['a C1 control (NEL) in reader.display', reader('Dr\u0085Reader'), 'reader.display', /control character/],
    ['DEL in reader.display', reader('Dr\u007fReader'), 'reader.display', /control character/],
    ['a lone surrogate in reader.display', reader('Dr \ud800'), 'reader.display', /not Unicode text/],
    ['an empty reader.display', reader(''), 'reader.display', /must not be blank/],
    ['a whitespace-only reader.display', reader(' \t\n\u00a0 '), 'reader.display', /must not be blank/],
    ['a 10,000-character reader.display', reader('x'.repeat(10_000)), 'reader.display', /at most 1024/],
    ['a NUL in the patient', { ...DOC, patient: 'Patient/p1\u0000' }, 'patient', /Patient\/<id>/],
    ['a NUL in the study UID', { ...DOC, studyInstanceUid: '2.25.1\u0000' }, 'studyInstanceUid', /DICOM UID/],
    ['a NUL in the study date', { ...DOC, studyDate: '2026-05-20\u0000' }, 'studyDate', /YYYY-MM-DD/],
    ['studyDate 0000-01-01', { ...DOC, studyDate: '0000-01-01' }, 'studyDate', /not be before 1900-01-01/],
    ['studyDate 1899-12-31', { ...DOC, studyDate: '1899-12-31' }, 'studyDate', /not be before 1900-01-01/],
    ['studyDate 2026-02-30 (no such day)', { ...DOC, studyDate: '2026-02-30' }, 'studyDate', /YYYY-MM-DD/],
    ['studyDate 9999-12-31', { ...DOC, studyDate: '9999-12-31' }, 'studyDate', /in the future/],
    // The harness's clock is 2026-06-01T10:00Z: a day ahead is allowed for time zones, two are not.
    [
      'studyDate two days ahead',
      { ...DOC, studyDate: '2026-06-03' },
      'studyDate',
      /in the future \(after 2026-06-02\)/,
    ],
    [
      'a joint that is not one',
      { ...DOC, sites: [{ joint: 'elbow\u0000', side: 'left', osteonecrosis: true }] },
      'sites[0].joint',
      /joint must be one of/,
    ],
    ['a member the document does not have', { ...DOC, note: 'x' }, 'note', /Unrecognized key/],
  ];
  it.each(cases)('%s', async (_what, body, field, message) => {
    const r = await post(body);
    expect(r.status).toBe(400);
    const outcome = (await r.json()) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]!.code).toBe('invalid');
    expect(outcome.issue[0]!.expression).toContain(field);
    expect(outcome.issue[0]!.details?.text).toMatch(message);
  });

  it('tab and newline in the reader are free text, and a date of 1900 or tomorrow is taken', async () => {
    const ok = await post({ ...DOC, studyInstanceUid: '2.25.4243', reader: { display: 'Dr R.\tReader\n(2nd read)' } });
    expect(ok.status).toBe(201);
    expect((await post({ ...DOC, studyInstanceUid: '2.25.4244', studyDate: '1900-01-01' })).status).toBe(201);
    expect((await post({ ...DOC, studyInstanceUid: '2.25.4245', studyDate: '2026-06-02' })).status).toBe(201);
  });
});

describe('a refused write-back is in the audit trail', { timeout: 60_000 }, () => {
  it('an invalid document: who, the patient and study ids, 400, the fields — not the content', async () => {
    const r = await post({ ...DOC, studyInstanceUid: '2.25.7001', reader: { display: 'Dr Secret\u0000Name' } });
    expect(r.status).toBe(400);
    const row = await lastRefusal();
    expect(row).toMatchObject({
      patient_id: 'p1',
      actor: 'static-token',
      payload: { studyUid: '2.25.7001', status: 400, reason: 'invalid', fields: ['reader.display'] },
    });
    expect(JSON.stringify(row)).not.toContain('Secret');
  });

  it('a study date before 1900 and one in the future are recorded with the field', async () => {
    expect((await post({ ...DOC, studyInstanceUid: '2.25.7002', studyDate: '0000-01-01' })).status).toBe(400);
    expect((await lastRefusal())?.payload).toMatchObject({ studyUid: '2.25.7002', fields: ['studyDate'] });
    expect((await post({ ...DOC, studyInstanceUid: '2.25.7003', studyDate: '2030-01-01' })).status).toBe(400);
    expect((await lastRefusal())?.payload).toMatchObject({ studyUid: '2.25.7003', status: 400, fields: ['studyDate'] });
  });

  it('a malformed patient or UID is not recorded as an identifier; a caller-made member name is not recorded', async () => {
    const r = await post({ patient: 'Patient/Jane Doe 1970-01-01', studyInstanceUid: 'MRN 12345', JaneDoe: 1 });
    expect(r.status).toBe(400);
    const row = await lastRefusal();
    expect(row?.patient_id).toBeNull();
    expect(row?.payload.studyUid).toBeUndefined();
    expect(row?.payload.fields).toEqual(expect.arrayContaining(['patient', 'studyInstanceUid']));
    expect(JSON.stringify(row)).not.toMatch(/Jane|12345/);
  });

  it('a body that is not JSON is recorded as refused (400), without its content', async () => {
    const before = (await refusals()).length;
    const r = await post('{"patient": "Patient/p1", "studyInstanceUid": ');
    expect(r.status).toBe(400);
    const rows = await refusals();
    expect(rows.length).toBe(before + 1);
    expect(rows.at(-1)).toMatchObject({ patient_id: null, payload: { status: 400, reason: 'invalid' } });
  });

  it('a findings document sent as another media type is refused (415) and recorded so, not read as no body', async () => {
    const before = (await refusals()).length;
    const r = await fetch(`${h.base}/imaging/findings`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ ...DOC, studyInstanceUid: '2.25.7009' }),
    });
    expect(r.status).toBe(415);
    expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    const rows = await refusals();
    expect(rows.length).toBe(before + 1);
    expect(rows.at(-1)).toMatchObject({ payload: { status: 415, reason: 'media-type' } });
    // As FHIR JSON it is read.
    const fhirJson = await fetch(`${h.base}/imaging/findings`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ ...DOC, studyInstanceUid: '2.25.7009' }),
    });
    expect(fhirJson.status).toBe(201);
  });

  it('an unknown patient (422) and a study of another patient (409) are recorded with their reason', async () => {
    expect((await post({ ...DOC, patient: 'Patient/nobody', studyInstanceUid: '2.25.7004' })).status).toBe(422);
    expect(await lastRefusal()).toMatchObject({
      patient_id: 'nobody',
      payload: { studyUid: '2.25.7004', status: 422, reason: 'unprocessable' },
    });
    expect((await post({ ...DOC, studyInstanceUid: '2.25.7005' })).status).toBe(201);
    expect((await post({ ...DOC, patient: 'Patient/p2', studyInstanceUid: '2.25.7005' })).status).toBe(409);
    expect(await lastRefusal()).toMatchObject({
      patient_id: 'p2',
      payload: { studyUid: '2.25.7005', status: 409, reason: 'conflict' },
    });
    // A refusal is no write-back: nothing in write_back, no WB-MRI study for the refused patients.
    const studies = await h.store.db.query<{ study_uid: string }>(
      `select study_uid from write_back where study_uid in ('2.25.7004', '2.25.7001', '2.25.7002', '2.25.7003')`,
    );
    expect(studies).toEqual([]);
  });

  it('an unauthenticated caller is answered 401 and leaves no record', async () => {
    const before = (await refusals()).length;
    expect((await post({ ...DOC, reader: { display: '' } }, 'wrong-token-wrong-token')).status).toBe(401);
    expect((await post('{"patient": ', 'wrong-token-wrong-token')).status).toBe(401);
    expect((await refusals()).length).toBe(before);
  });

  it('the hash chain holds over the refusals, and the export shows each as a failed Create', async () => {
    expect(await h.store.audit.verify()).toMatchObject({ ok: true });
    const page = await auditRows(h.store.db, { from: '2026-01-01', to: '2027-01-01', limit: 5000 });
    const refused = page.items.filter((r) => r.kind === 'write-back-refused');
    expect(refused.length).toBeGreaterThanOrEqual(6);
    const { toFhir } = await import('../../src/audit/fhirExport.ts');
    const event = toFhir(refused[0]!)[0] as { outcome: string; outcomeDesc: string; action: string };
    expect(event).toMatchObject({ action: 'C', outcome: '4' });
    expect(event.outcomeDesc).toBe('write-back refused: 400 invalid (reader.display)');
  });
});
