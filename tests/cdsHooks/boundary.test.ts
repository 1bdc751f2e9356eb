/**
 * Types at the boundary: what no FHIR or CDS Hooks value can be is refused before the code that takes the
 * types for granted sees it — 400 for a request that is not acceptable JSON (too deep, not Unicode), an
 * unusable prefetch (fetched, or 412) for a prefetch value in the wrong FHIR shape — with an OperationOutcome
 * that names the field, never 500, and nothing after the answer can end the process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daily, fullPrefetch, myositisPatient } from '../helpers/patients.ts';
import { type App, isOutcome, patientView, startApp } from '../reliability/harness.ts';

const ID = 'b1';
const records = [...myositisPatient(ID), daily(ID, 1, 20, '2026-01-01', '2026-03-31')];
let app: App;
// Generous: opening the embedded store takes a minute on a loaded 2-core machine.
beforeAll(async () => {
  app = await startApp({ resources: records });
}, 180_000);
afterAll(() => app?.close(), 60_000);

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('request shape', () => {
  it('a prefetched id nested 10,000 deep: 400 naming the field, the process alive', async () => {
    const p = fullPrefetch(records, ID);
    const body = JSON.stringify(patientView(ID, { prefetch: p })).replace('"id":"b1-ms-1"', `"id":${deep(10_000)}`);
    const r = await app.call('osteonecrosis-screening', body);
    expect(r.status).toBe(400);
    expect(isOutcome(r.body)).toBe(true);
    expect(r.body.issue[0].expression[0]).toMatch(/^prefetch\.medicationStatements\.entry\[0\]\.resource\.id/);
    expect((await fetch(`${app.base}/livez`)).status).toBe(200);
  }, 30_000);

  const unusable: Array<[string, (b: any) => void, string]> = [
    ['entry not an array', (b) => (b.entry = { resource: {} }), 'prefetch.medicationStatements.entry'],
    ['entry [null]', (b) => (b.entry = [null]), 'prefetch.medicationStatements.entry[0]'],
    [
      'coding not an array',
      (b) => (b.entry[0].resource.medicationCodeableConcept.coding = { code: '8638' }),
      'prefetch.medicationStatements.entry[0].resource.medicationCodeableConcept.coding',
    ],
    [
      'an id that is not a string',
      (b) => (b.entry[0].resource.id = 7),
      'prefetch.medicationStatements.entry[0].resource.id',
    ],
  ];
  for (const [what, mutate, field] of unusable) {
    it(`prefetch with ${what}: 412 naming ${field} without a fhirServer, fetched (200) with one`, async () => {
      const p = structuredClone(fullPrefetch(records, ID)) as Record<string, any>;
      mutate(p.medicationStatements);
      const refused = await app.call('osteonecrosis-screening', patientView(ID, { prefetch: p }));
      expect(refused.status).toBe(412);
      expect(isOutcome(refused.body)).toBe(true);
      expect(refused.body.issue[0].details.text).toContain(field);
      expect(refused.body.issue[0].expression).toContain(field);
      const fetched = await app.call(
        'osteonecrosis-screening',
        patientView(ID, { prefetch: p, fhirServer: `${app.base}/fhir` }),
      );
      expect(fetched.status).toBe(200);
    }, 30_000);
  }

  it('a draft order in the wrong shape: 400 naming the field', async () => {
    const p = fullPrefetch(records, ID);
    const r = await app.call('glucocorticoid-order-sign', {
      ...patientView(ID, { prefetch: p }),
      hook: 'order-sign',
      context: {
        patientId: ID,
        draftOrders: {
          resourceType: 'Bundle',
          entry: [{ resource: { resourceType: 'MedicationRequest', dosageInstruction: 'x' } }],
        },
      },
    });
    expect(r.status).toBe(400);
    expect(r.body.issue[0].expression).toEqual(['context.draftOrders.entry[0].resource.dosageInstruction']);
  }, 30_000);

  it('feedback with a lone surrogate: 400 naming feedback[0].card', async () => {
    const body = `{"feedback":[{"card":"c\\ud800","outcome":"overridden","outcomeTimestamp":"2026-06-01T10:00:00Z"}]}`;
    const r = await app.feedback('osteonecrosis-screening', body);
    expect(r.status).toBe(400);
    expect(isOutcome(r.body)).toBe(true);
    expect(r.body.issue[0].expression).toEqual(['feedback[0].card']);
  }, 30_000);
});
