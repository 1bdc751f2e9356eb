/**
 * order-select / order-sign: the cumulative dose projected with the draft glucocorticoid orders, including the
 * CDS Hooks Sandbox's non-conformant R4 drafts (doses in pills, category as an object, no intent).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { daily, fullPrefetch, myositisPatient, wbMri } from '../helpers/patients.ts';

let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({ now: '2026-06-01T10:00:00Z' });
});
afterAll(() => h.close());

/** The Sandbox's R4 draft: prednisone 20 MG tablets (RxNorm 312615), 2 {pill} daily, 30-day supply. */
function sandboxDraft(patientId: string, supplyDays?: number): Record<string, unknown> {
  return {
    resourceType: 'MedicationRequest',
    id: 'request-123',
    status: 'draft',
    subject: { reference: `Patient/${patientId}` },
    category: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category', code: 'outpatient' }],
    },
    reasonCode: { coding: [{ system: 'http://snomed.info/sct', code: '396230008' }] },
    medicationCodeableConcept: {
      coding: [
        {
          system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
          code: '312615',
          display: 'Prednisone 20 MG Oral Tablet',
        },
      ],
      text: 'Prednisone 20 MG Oral Tablet',
    },
    dosageInstruction: [
      {
        timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [
          { doseQuantity: { value: 2, unit: 'pill', system: 'http://unitsofmeasure.org', code: '{pill}' } },
        ],
      },
    ],
    ...(supplyDays
      ? {
          dispenseRequest: {
            expectedSupplyDuration: { value: supplyDays, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
          },
        }
      : {}),
  };
}

async function order(
  service: string,
  hook: string,
  patientId: string,
  resources: Resource[],
  drafts: unknown[],
  selections?: string[],
) {
  return h.call(service, {
    hook,
    hookInstance: randomUUID(),
    context: {
      userId: 'Practitioner/x',
      patientId,
      ...(selections ? { selections } : {}),
      draftOrders: { resourceType: 'Bundle', entry: drafts.map((resource) => ({ resource })) },
    },
    prefetch: fullPrefetch(resources, patientId),
  });
}

// 20 mg/day from 1 Mar: 1,860 mg on 1 Jun (below 3,000 mg).
const below = (id: string): Resource[] => [...myositisPatient(id), daily(id, 1, 20, '2026-03-01')];
// 6,020 mg on 1 Jun, 3,000 mg crossed on 19 Feb.
const crossed = (id: string): Resource[] => [
  ...myositisPatient(id),
  daily(id, 1, 60, '2026-01-01', '2026-03-31'),
  daily(id, 2, 10, '2026-04-01'),
];

describe('order-sign', () => {
  it('an order that crosses the threshold: exact projection and a draft WB-MRI order from the crossing day', async () => {
    // With the draft (40 mg/day, 1–30 Jun) and current 20 mg/day: 122 d × 20 + 30 × 40 = 3,640 mg on 30 Jun.
    // 1,840 mg by 31 May + 60 mg/day → 3,040 mg on 20 Jun (3,000 mg crossed that day).
    const r = await order('glucocorticoid-order-sign', 'order-sign', 'os1', below('os1'), [sandboxDraft('os1', 30)]);
    expect(r.status).toBe(200);
    const [card] = r.body.cards;
    expect(card.indicator).toBe('warning');
    expect(card.summary).toBe(
      'With this order: 1,860 → 3,640 mg prednisolone-eq. by 2026-06-30, crossing 3,000 mg on 2026-06-20; WB-MRI screening due',
    );
    expect([...card.summary].length).toBeLessThan(140);
    expect(card.detail).toContain('the order adds 1,200 mg');
    const sr = card.suggestions[0].actions[0].resource;
    expect(sr.occurrencePeriod).toEqual({ start: '2026-06-20' });
    expect(validateResource(sr).filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('an open-ended draft is projected for 30 days', async () => {
    const r = await order('glucocorticoid-order-sign', 'order-sign', 'os2', below('os2'), [sandboxDraft('os2')]);
    expect(r.body.cards[0].summary).toBe(
      'With this order (30 d if continued): 1,860 → 3,640 mg prednisolone-eq. by 2026-06-30, crossing 3,000 mg on 2026-06-20; WB-MRI screening due',
    );
    expect(r.body.cards[0].detail).toContain('open-ended order projected for 30 days');
  });

  it('an order that keeps an unscreened patient above the threshold', async () => {
    const r = await order('glucocorticoid-order-sign', 'order-sign', 'os3', crossed('os3'), [sandboxDraft('os3', 30)]);
    expect(r.body.cards[0].summary).toBe(
      'Unscreened: 6,020 mg prednisolone-eq. (≥ 3,000 mg since 2026-02-19, no WB-MRI); this order adds 1,200 mg',
    );
    expect(r.body.cards[0].suggestions[0].actions[0].resource.occurrencePeriod).toEqual({ start: '2026-06-01' });
  });

  it('no card when a screened patient stays below the next prompt, or for a small order below the threshold', async () => {
    const screened = [...crossed('os4'), ...wbMri('os4', 1, '2026-03-01')];
    expect(
      (await order('glucocorticoid-order-sign', 'order-sign', 'os4', screened, [sandboxDraft('os4', 30)])).body.cards,
    ).toEqual([]);
    const small = { ...sandboxDraft('os5', 3) };
    expect((await order('glucocorticoid-order-sign', 'order-sign', 'os5', below('os5'), [small])).body.cards).toEqual(
      [],
    );
  });

  it('non-glucocorticoid drafts (the official order-sign example) give no card', async () => {
    const example = JSON.parse(
      readFileSync(
        new URL('../../cds-hooks/examples/official/hooks-library/order-sign-context-r4.json', import.meta.url),
        'utf8',
      ),
    );
    const id = example.context.patientId;
    const r = await h.call('glucocorticoid-order-sign', {
      hook: 'order-sign',
      hookInstance: randomUUID(),
      context: example.context,
      prefetch: fullPrefetch(crossed(id), id),
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ cards: [] });
  });
});

describe('order-select', () => {
  it('projects the drafts in the official order-select context plus a glucocorticoid draft', async () => {
    const example = JSON.parse(
      readFileSync(
        new URL('../../cds-hooks/examples/official/hooks-library/order-select-context-r4.json', import.meta.url),
        'utf8',
      ),
    );
    const id = example.context.patientId;
    example.context.draftOrders.entry.push({ resource: sandboxDraft(id, 30) });
    example.context.selections.push('MedicationRequest/request-123');
    const r = await h.call('glucocorticoid-order-select', {
      hook: 'order-select',
      hookInstance: randomUUID(),
      context: example.context,
      prefetch: fullPrefetch(below(id), id),
    });
    expect(r.status).toBe(200);
    expect(r.body.cards[0].summary).toMatch(/^With this order: 1,860 → 3,640 mg/);
  });
});
