/**
 * Prefetch states (CDS Hooks 2.0 §Prefetch Template): absent → fetch from fhirServer (the embedded FHIR
 * server, over HTTP, following paging); null → no data; OperationOutcome, wrong type or another patient's data
 * → fetch, or 412; required data that cannot be had → 412 with an OperationOutcome.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resource } from '@medplum/fhirtypes';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { daily, fullPrefetch, myositisPatient } from '../helpers/patients.ts';

const NOW = '2026-06-01T10:00:00Z';
const ID = 'pf';
// 60 mg/day 1 Jan–31 Mar (5,400 mg) + 10 mg/day from 1 Apr (620 mg) = 6,020 mg, split over 7 statements
// so that paging matters.
const resources: Resource[] = [
  ...myositisPatient(ID),
  daily(ID, 1, 60, '2026-01-01', '2026-01-31'),
  daily(ID, 2, 60, '2026-02-01', '2026-02-28'),
  daily(ID, 3, 60, '2026-03-01', '2026-03-31'),
  daily(ID, 4, 10, '2026-04-01', '2026-04-30'),
  daily(ID, 5, 10, '2026-05-01', '2026-05-15'),
  daily(ID, 6, 10, '2026-05-16', '2026-05-31'),
  daily(ID, 7, 10, '2026-06-01'),
  ...myositisPatient('other'),
  daily('other', 1, 5, '2026-05-01', '2026-05-31'),
];
const SUMMARY = 'STIR whole-body MRI due: 6,020 mg prednisolone-eq., ≥ 3,000 mg since 2026-02-19, no WB-MRI since';

let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({ now: NOW, resources });
});
afterAll(() => h.close());

const mine = resources.filter(
  (r) => (r as { subject?: { reference?: string } }).subject?.reference !== 'Patient/other' && r.id !== 'other',
);
const request = (
  prefetch: Record<string, unknown> | undefined,
  fhirServer?: string,
  extra: Record<string, unknown> = {},
) => ({
  hook: 'patient-view',
  hookInstance: randomUUID(),
  ...(fhirServer ? { fhirServer } : {}),
  context: { userId: 'Practitioner/x', patientId: ID },
  ...(prefetch ? { prefetch } : {}),
  ...extra,
});

describe('prefetch and FHIR access', () => {
  it('complete prefetch, no fhirServer: answered from the prefetch alone', async () => {
    const r = await h.call('osteonecrosis-screening', request(fullPrefetch(mine, ID)));
    expect(r.status).toBe(200);
    expect(r.body.cards[0].summary).toBe(SUMMARY);
  });

  it('no prefetch at all: everything is fetched from the FHIR server over HTTP, with the same answer', async () => {
    const r = await h.call('osteonecrosis-screening', request(undefined, `${h.base}/fhir`));
    expect(r.status).toBe(200);
    expect(r.body.cards[0].summary).toBe(SUMMARY);
  });

  it('some keys omitted (as the Sandbox does when a fetch fails): only those are fetched', async () => {
    const p = fullPrefetch(mine, ID);
    delete p.medicationStatements;
    delete p.conditions;
    const r = await h.call('osteonecrosis-screening', request(p, `${h.base}/fhir`));
    expect(r.body.cards[0].summary).toBe(SUMMARY);
  });

  it('null means no data: nothing is fetched for it', async () => {
    const p = fullPrefetch(mine, ID);
    p.medicationStatements = null;
    // The fhirServer is a closed port: a fetch would fail with 412.
    const r = await h.call('osteonecrosis-screening', request(p, 'http://127.0.0.1:9/fhir'));
    expect(r.status).toBe(200);
    expect(r.body.cards[0].summary).toBe('Glucocorticoid exposure 0 mg prednisolone-eq., no current dose');
  });

  it('an OperationOutcome in a prefetch key is not trusted: the key is fetched', async () => {
    const p = fullPrefetch(mine, ID);
    p.medicationStatements = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'timeout' }] };
    const r = await h.call('osteonecrosis-screening', request(p, `${h.base}/fhir`));
    expect(r.body.cards[0].summary).toBe(SUMMARY);
  });

  it("another patient's data in a prefetch key is not used: fetched instead, or 412 when it cannot be", async () => {
    const p = fullPrefetch(mine, ID);
    p.medicationStatements = fullPrefetch(resources, 'other').medicationStatements as object;
    (p.medicationStatements as { entry: Array<{ resource: Resource }> }).entry = [
      { resource: daily('other', 9, 500, '2026-01-01', '2026-05-01') },
    ];
    const fetched = await h.call('osteonecrosis-screening', request(p, `${h.base}/fhir`));
    expect(fetched.body.cards[0].summary).toBe(SUMMARY);
    const refused = await h.call('osteonecrosis-screening', request(p));
    expect(refused.status).toBe(412);
    expect(refused.body.issue[0].details.text).toContain(
      "medicationStatements: prefetch not usable (it holds another patient's resources)",
    );
  });

  it('a wrong resource type in a prefetch key is not used', async () => {
    const p = fullPrefetch(mine, ID);
    p.conditions = { resourceType: 'Patient', id: ID };
    const r = await h.call('osteonecrosis-screening', request(p));
    expect(r.status).toBe(412);
    expect(r.body.issue[0].details.text).toContain('conditions: prefetch not usable (expected a Bundle, got Patient)');
  });

  it('a paginated prefetch Bundle is followed to its last page', async () => {
    const p = fullPrefetch(mine, ID);
    p.medicationStatements = (await (
      await fetch(`${h.base}/fhir/MedicationStatement?patient=${ID}&_count=2`)
    ).json()) as object;
    const r = await h.call('osteonecrosis-screening', request(p, `${h.base}/fhir`));
    expect(r.body.cards[0].summary).toBe(SUMMARY);
  });

  it('required data missing and no fhirServer: 412 with an OperationOutcome naming the keys, never 0 mg', async () => {
    const r = await h.call('osteonecrosis-screening', request({ patient: { resourceType: 'Patient', id: ID } }));
    expect(r.status).toBe(412);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue[0].details.text).toMatch(
      /^Required data is missing: conditions, diagnosticReports, imagingStudies, medicationAdministrations, medicationRequests, medicationStatements/,
    );
  });

  it('an unreachable fhirServer: 412, and the process keeps serving', async () => {
    const r = await h.call('osteonecrosis-screening', request(undefined, 'http://127.0.0.1:9/fhir'));
    expect(r.status).toBe(412);
    expect(r.body.issue[0].details.text).toContain('the FHIR server query failed');
    expect((await h.call('osteonecrosis-screening', request(fullPrefetch(mine, ID)))).status).toBe(200);
  });

  it('a non-loopback fhirServer without fhirAuthorization is not queried (412, no request sent)', async () => {
    const r = await h.call('osteonecrosis-screening', request(undefined, 'https://ehr.invalid/fhir'));
    expect(r.status).toBe(412);
  });

  it('with fhirAuthorization the access token is sent to the FHIR server as a bearer token', async () => {
    const seen: string[] = [];
    const app = express();
    app.use((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res
        .type('application/fhir+json')
        .send(
          JSON.stringify(
            req.path.startsWith('/fhir/Patient/')
              ? { resourceType: 'Patient', id: ID }
              : { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] },
          ),
        );
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const fhir = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
      const p = fullPrefetch(mine, ID);
      delete p.imagingStudies;
      const r = await h.call(
        'osteonecrosis-screening',
        request(p, fhir, {
          fhirAuthorization: {
            access_token: 'tok-123',
            token_type: 'Bearer',
            expires_in: 300,
            scope: 'user/*.read',
            subject: 'osteowatch',
          },
        }),
      );
      expect(r.status).toBe(200);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((a) => a === 'Bearer tok-123')).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('the official CDS Hooks patient-view example (foreign prefetch key, FHIR server unreachable here) gets 412, not a guess', async () => {
    const { readFileSync } = await import('node:fs');
    const example = JSON.parse(
      readFileSync(
        new URL('../../cds-hooks/examples/official/spec-2.0.1/request-patient-view.json', import.meta.url),
        'utf8',
      ),
    );
    example.fhirServer = 'http://127.0.0.1:9/fhir'; // tests never leave loopback
    const r = await h.call('osteonecrosis-screening', example);
    expect(r.status).toBe(412);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });
});
