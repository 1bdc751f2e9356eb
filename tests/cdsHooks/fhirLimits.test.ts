/**
 * The FHIR server a CDS call reads from may be slow or hostile: real servers on loopback that never answer,
 * whose next links never end, or that hold thousands of Medication references. Each call answers within its
 * deadline with the right status and an OperationOutcome — 503 + Retry-After when the server is too slow, 412
 * when the data cannot be had — and the process keeps serving (/livez) meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchPatientRecords, fhirClient } from '../../src/fhir/patientRecords.ts';
import { daily, fullPrefetch, myositisPatient } from '../helpers/patients.ts';
import { type App, blackHole, bundle, isOutcome, patientView, scripted, startApp } from '../reliability/harness.ts';

const LIMITS = { timeoutMs: 1_000, maxPages: 50, maxResources: 10_000, concurrency: 8 };
// Generous: a test machine busy with other work must not turn an answer in time into a 503.
const DEADLINE = 5_000;
// Slack for a loaded 2-core machine: the answer is due at the deadline, and must come well before a hung call.
const SLACK = 2_500;

let app: App;
// Generous: opening the embedded store takes a minute on a loaded 2-core machine.
beforeAll(async () => {
  app = await startApp({ fhirLimits: LIMITS, hookDeadlineMs: DEADLINE });
}, 180_000);
afterAll(() => app?.close(), 60_000);

describe('a FHIR server that is slow or hostile', () => {
  it('accepts and never answers: 503 with Retry-After and an OperationOutcome within the timeout; /livez answers meanwhile', async () => {
    const hole = await blackHole();
    try {
      const pending = app.call('osteonecrosis-screening', patientView('p1', { fhirServer: hole.fhir }));
      const live = performance.now();
      const livez = await fetch(`${app.base}/livez`);
      expect(livez.status).toBe(200);
      expect(performance.now() - live).toBeLessThan(1_000);
      const r = await pending;
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(isOutcome(r.body)).toBe(true);
      expect(r.body.issue[0].code).toBe('timeout');
      expect(r.body.issue[0].details.text).toContain('did not answer within 1000 ms');
      expect(r.ms).toBeLessThan(LIMITS.timeoutMs + SLACK);
    } finally {
      await hole.close();
    }
  }, 30_000);

  it('the hook deadline bounds the call when each request would be allowed longer', async () => {
    const slowApp = await startApp({ fhirLimits: { ...LIMITS, timeoutMs: 60_000 }, hookDeadlineMs: 1_500 });
    const hole = await blackHole();
    try {
      const r = await slowApp.call('osteonecrosis-screening', patientView('p1', { fhirServer: hole.fhir }));
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBeTruthy();
      expect(r.body.issue[0].details.text).toContain('before the deadline');
      expect(r.ms).toBeLessThan(1_500 + SLACK);
    } finally {
      await hole.close();
      await slowApp.close();
    }
  }, 180_000);

  it('next links that never end: 412 naming the page cap, at most maxPages requests per key', async () => {
    const endless = await scripted((url, fhir) => {
      if (/\/Patient\/[^/]+$/.test(url.pathname)) return { body: { resourceType: 'Patient', id: 'p1' } };
      const n = Number(url.searchParams.get('n') ?? 0);
      return { body: bundle([], `${fhir}/page?n=${n + 1}&k=${url.pathname}`) };
    });
    try {
      const r = await app.call('osteonecrosis-screening', patientView('p1', { fhirServer: endless.fhir }));
      expect(r.status).toBe(412);
      expect(isOutcome(r.body)).toBe(true);
      expect(r.body.issue[0].details.text).toContain('more than 50 pages');
      // 8 search keys, each stopped at its 50th page, and the Patient read.
      expect(endless.requests.length).toBeLessThanOrEqual(8 * 50 + 1);
      expect(r.ms).toBeLessThan(DEADLINE + SLACK);
    } finally {
      await endless.close();
    }
  }, 30_000);

  it('a prefetched Bundle whose next links never end: 412, not a loop', async () => {
    const endless = await scripted((url, fhir) => ({
      body: bundle([], `${fhir}/page?n=${Number(url.searchParams.get('n') ?? 0) + 1}`),
    }));
    try {
      const p = fullPrefetch(myositisPatient('p2'), 'p2');
      p.medicationStatements = bundle([], `${endless.fhir}/page?n=0`);
      const r = await app.call('osteonecrosis-screening', patientView('p2', { fhirServer: endless.fhir, prefetch: p }));
      expect(r.status).toBe(412);
      expect(r.body.issue[0].details.text).toMatch(/medicationStatements: .*more than 50 pages/);
      expect(endless.requests.length).toBeLessThanOrEqual(50);
    } finally {
      await endless.close();
    }
  }, 30_000);

  it('a next link off the FHIR server is not followed (the token would go with it)', async () => {
    const elsewhere = await scripted(() => ({ body: bundle([]) }));
    const p = fullPrefetch(myositisPatient('p3'), 'p3');
    p.medicationStatements = bundle([], `${elsewhere.fhir.replace('127.0.0.1', 'localhost')}/page`);
    const fhir = await scripted(() => ({ body: bundle([]) }));
    try {
      const r = await app.call('osteonecrosis-screening', patientView('p3', { fhirServer: fhir.fhir, prefetch: p }));
      expect(r.status).toBe(412);
      expect(r.body.issue[0].details.text).toContain('leads off the FHIR server');
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.close();
      await fhir.close();
    }
  }, 30_000);

  it('pages of 1,000 entries without end: the resource cap stops the call (412), memory stays bounded', async () => {
    const big = await scripted((url, fhir) => {
      const n = Number(url.searchParams.get('n') ?? 0);
      return {
        body: bundle(
          Array.from({ length: 1_000 }, (_, i) => ({
            resourceType: 'Condition',
            id: `c${n}-${i}`,
            subject: { reference: 'Patient/p4' },
          })),
          `${fhir}/page?n=${n + 1}`,
        ),
      };
    });
    try {
      const p = fullPrefetch(myositisPatient('p4'), 'p4');
      delete p.conditions;
      const r = await app.call('osteonecrosis-screening', patientView('p4', { fhirServer: big.fhir, prefetch: p }));
      expect(r.status).toBe(412);
      expect(r.body.issue[0].details.text).toContain('more than 10000 resources');
      expect(big.requests.length).toBeLessThanOrEqual(11);
    } finally {
      await big.close();
    }
  }, 30_000);

  it('2,000 Medication references (1,000 distinct): each read once, at most 8 at a time, answered in time', async () => {
    const id = 'p5';
    const statements = Array.from({ length: 2_000 }, (_, i) => ({
      ...daily(id, i, 5, '2026-01-01', '2026-01-02'),
      medicationCodeableConcept: undefined,
      medicationReference: { reference: `Medication/m${i % 1_000}` },
    }));
    const fhir = await scripted((url) => {
      const m = /\/Medication\/(m\d+)$/.exec(url.pathname);
      if (m)
        return {
          delayMs: 2,
          body: {
            resourceType: 'Medication',
            id: m[1],
            code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8638' }] },
          },
        };
      return { body: bundle([]) };
    });
    try {
      const p = fullPrefetch(myositisPatient(id), id);
      p.medicationStatements = bundle(statements);
      const r = await app.call('osteonecrosis-screening', patientView(id, { fhirServer: fhir.fhir, prefetch: p }));
      expect(r.status).toBe(200);
      const reads = fhir.requests.filter((u) => u.includes('/Medication/'));
      expect(reads.length).toBe(1_000);
      expect(new Set(reads).size).toBe(1_000);
      expect(fhir.maxInFlight()).toBeLessThanOrEqual(8);
      expect(r.ms).toBeLessThan(DEADLINE + SLACK);
    } finally {
      await fhir.close();
    }
  }, 60_000);

  it('2,000 distinct Medications read slowly: 503 with Retry-After at the deadline, not 2,000 × the delay', async () => {
    const id = 'p6';
    const statements = Array.from({ length: 2_000 }, (_, i) => ({
      ...daily(id, i, 5, '2026-01-01', '2026-01-02'),
      medicationCodeableConcept: undefined,
      medicationReference: { reference: `Medication/m${i}` },
    }));
    const fhir = await scripted((url) => {
      const m = /\/Medication\/(m\d+)$/.exec(url.pathname);
      return m ? { delayMs: 300, body: { resourceType: 'Medication', id: m[1] } } : { body: bundle([]) };
    });
    try {
      const p = fullPrefetch(myositisPatient(id), id);
      p.medicationStatements = bundle(statements);
      const r = await app.call('osteonecrosis-screening', patientView(id, { fhirServer: fhir.fhir, prefetch: p }));
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBeTruthy();
      expect(isOutcome(r.body)).toBe(true);
      expect(r.ms).toBeLessThan(DEADLINE + SLACK);
      expect(fhir.maxInFlight()).toBeLessThanOrEqual(8);
      expect(fhir.requests.length).toBeLessThan(200);
    } finally {
      await fhir.close();
    }
  }, 60_000);
});

describe('osteowatch exposure --fhir (fetchPatientRecords) has the same bounds', () => {
  it('a server that never answers: a timeout error, not a hang', async () => {
    const hole = await blackHole();
    try {
      const started = performance.now();
      await expect(
        fetchPatientRecords(fhirClient(hole.fhir), 'p1', 100, { ...LIMITS, timeoutMs: 500 }),
      ).rejects.toThrow(/did not answer within 500 ms/);
      expect(performance.now() - started).toBeLessThan(500 + SLACK);
    } finally {
      await hole.close();
    }
  }, 30_000);

  it('next links without end: stopped at the page cap', async () => {
    const endless = await scripted((url, fhir) =>
      /\/Patient\//.test(url.pathname)
        ? { body: { resourceType: 'Patient', id: 'p1' } }
        : { body: bundle([], `${fhir}/page?n=${Number(url.searchParams.get('n') ?? 0) + 1}`) },
    );
    try {
      await expect(
        fetchPatientRecords(fhirClient(endless.fhir), 'p1', 100, { ...LIMITS, maxPages: 20 }),
      ).rejects.toThrow(/more than 20 pages/);
      expect(endless.requests.length).toBeLessThanOrEqual(21);
    } finally {
      await endless.close();
    }
  }, 30_000);
});
