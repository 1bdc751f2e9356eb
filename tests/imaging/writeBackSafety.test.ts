/**
 * Nobody writes where they do not belong: a study UID reused for another patient is refused (409) and moves
 * nothing; concurrent identical posts create once; an unauthenticated caller's body is never read.
 */
import { request } from 'node:http';
import type { Bundle, DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { DOC } from '../helpers/findings.ts';
import { myositisPatient } from '../helpers/patients.ts';

const TOKEN = 'ingest-token-for-tests-0123';
let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({
    now: '2026-06-01T10:00:00Z',
    ingestToken: TOKEN,
    resources: [...myositisPatient('p1'), ...myositisPatient('p2')],
  });
}, 120_000);
afterAll(() => h.close());

const post = (body: unknown) =>
  fetch(`${h.base}/imaging/findings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
const search = async (q: string) => (await (await fetch(`${h.base}/fhir/${q}`)).json()) as Bundle;
const writeBacks = async () => (await h.store.db.query('select seq from write_back')).length;

describe('a study UID reused for another patient', { timeout: 120_000 }, () => {
  it("is refused with 409 and an OperationOutcome; the first patient's findings stay theirs", async () => {
    expect((await post(DOC)).status).toBe(201);
    const before = await writeBacks();
    // Patient p2, the same StudyInstanceUID, a different read (it would have been "amended").
    const forB = {
      ...DOC,
      patient: 'Patient/p2',
      sites: DOC.sites.map((s) => (s.joint === 'ankle' ? { ...s, osteonecrosis: false } : s)),
    };
    const r = await post(forB);
    expect(r.status).toBe(409);
    const outcome = (await r.json()) as {
      resourceType: string;
      issue: Array<{ code: string; details: { text: string } }>;
    };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]!.code).toBe('conflict');
    expect(outcome.issue[0]!.details.text).toContain(DOC.studyInstanceUid);
    expect(outcome.issue[0]!.details.text).not.toContain('p1');

    const obs = (
      await search(
        `Observation?identifier=${encodeURIComponent(`urn:osteowatch:osteonecrosis-finding|${DOC.studyInstanceUid}/ankle/left`)}`,
      )
    ).entry!.map((e) => e.resource as Observation);
    expect(obs).toHaveLength(1);
    expect(obs[0]!.subject?.reference).toBe('Patient/p1');
    expect(obs[0]!.status).toBe('final');
    const reports = (await search('DiagnosticReport')).entry!.map((e) => e.resource as DiagnosticReport);
    expect(reports.map((x) => x.subject?.reference)).toEqual(['Patient/p1']);
    expect((await search('Observation?subject=Patient/p2')).total).toBe(0);
    // Nothing written, so no write-back record; the refused attempt is recorded as such, naming no one else.
    expect(await writeBacks()).toBe(before);
    const refused = await h.store.db.query<{ patient_id: string; payload: Record<string, unknown> }>(
      `select patient_id, payload from audit_log where kind = 'write-back-refused'`,
    );
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      patient_id: 'p2',
      payload: { studyUid: DOC.studyInstanceUid, status: 409, reason: 'conflict' },
    });
    expect(JSON.stringify(refused[0])).not.toContain('p1');
  });
});

describe('concurrent identical findings', { timeout: 120_000 }, () => {
  it('ten at once: exactly one created, the others unchanged, nothing duplicated', async () => {
    const doc = { ...DOC, patient: 'Patient/p2', studyInstanceUid: '2.25.987654321' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(doc)));
    const outcomes = await Promise.all(answers.map(async (r) => ((await r.json()) as { outcome: string }).outcome));
    expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'unchanged')).toHaveLength(9);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect((await search('Observation?subject=Patient/p2')).total).toBe(4);
    expect((await search('DiagnosticReport?subject=Patient/p2')).total).toBe(1);
  });
});

describe('authentication before the body', { timeout: 120_000 }, () => {
  // A DICOM upload: under its 50 MB limit, so a server that parsed before authenticating would buffer it all.
  it('an unauthenticated 40 MB DICOM upload gets 401 at once, its body not read', async () => {
    const total = 40 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const url = new URL(`${h.base}/imaging/findings`);
    const started = Date.now();
    const result = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/dicom',
            'content-length': total,
            authorization: 'Bearer wrong-token-x',
          },
        },
        (res) => {
          answered = true;
          res.resume();
          resolve({ status: res.statusCode ?? 0, sent });
          req.destroy();
        },
      );
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      // Sends the body a megabyte at a time, only as fast as the server reads it.
      const pump = () => {
        while (!answered && sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!answered && sent >= total) req.end();
      };
      pump();
    });
    expect(result.status).toBe(401);
    // Socket buffers take a few megabytes; a server that read the body would have taken all 40.
    expect(result.sent).toBeLessThan(16 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a wrong token with a malformed body is 401, not 400', async () => {
    const r = await fetch(`${h.base}/imaging/findings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-token-x' },
      body: '{"patient": ',
    });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('Bearer');
  });
});
