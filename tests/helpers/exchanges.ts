/** The example exchanges in cds-hooks/examples/, produced by sending real requests to the service. */
import { randomUUID } from 'node:crypto';
import { startCdsHarness } from './cdsSandbox.ts';
import { daily, fullPrefetch, myositisPatient } from './patients.ts';

export const DRAFT_PREDNISONE = {
  resourceType: 'MedicationRequest',
  id: 'draft-prednisone',
  status: 'draft',
  intent: 'order',
  subject: { reference: 'Patient/example' },
  medicationCodeableConcept: {
    coding: [
      {
        system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
        code: '312615',
        display: 'predniSONE 20 MG Oral Tablet',
      },
    ],
    text: 'predniSONE 20 MG Oral Tablet',
  },
  dosageInstruction: [
    {
      text: '2 tablets by mouth once daily',
      timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
      doseAndRate: [{ doseQuantity: { value: 2, unit: 'tablet', system: 'http://unitsofmeasure.org', code: '{tbl}' } }],
    },
  ],
  dispenseRequest: {
    expectedSupplyDuration: { value: 30, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
  },
};

export async function exampleExchanges(): Promise<
  Array<{ name: string; request: Record<string, unknown>; response: unknown }>
> {
  const h = await startCdsHarness({ now: '2026-06-01T10:00:00Z' });
  try {
    const id = 'example';
    const due = [...myositisPatient(id), daily(id, 1, 60, '2026-01-01', '2026-03-31'), daily(id, 2, 10, '2026-04-01')];
    const below = [...myositisPatient(id), daily(id, 1, 20, '2026-03-01')];
    const pv = {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/rheum-1', patientId: id },
      prefetch: fullPrefetch(due, id),
    };
    const os = {
      hook: 'order-sign',
      hookInstance: randomUUID(),
      context: {
        userId: 'Practitioner/rheum-1',
        patientId: id,
        draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: DRAFT_PREDNISONE }] },
      },
      prefetch: fullPrefetch(below, id),
    };
    return [
      { name: 'patient-view-screening-due', request: pv, response: (await h.call('osteonecrosis-screening', pv)).body },
      { name: 'order-sign-crossing', request: os, response: (await h.call('glucocorticoid-order-sign', os)).body },
    ];
  } finally {
    await h.close();
  }
}
