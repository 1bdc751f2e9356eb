/**
 * Screening scenarios over HTTP (docs/screening-rules.md), one per clinical situation a review found the old
 * rules silent or wrong on. As of 1 Jun 2026; every figure worked by hand in the comment above it.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { DRAFT_PREDNISONE } from '../helpers/exchanges.ts';
import { daily, finding, fullPrefetch, myositisPatient, wbMri, wbMriOrder } from '../helpers/patients.ts';

const HIP = '24136001';
const KNEE = '49076000';
const LEFT = '7771000';
const RIGHT = '24028007';

let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({ now: '2026-06-01T10:00:00Z' });
});
afterAll(() => h.close());

async function patientView(id: string, resources: Resource[]) {
  const r = await h.call('osteonecrosis-screening', {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/rheum-1', patientId: id },
    prefetch: fullPrefetch(resources, id),
  });
  expect(r.status).toBe(200);
  return r.body.cards as Array<{ indicator: string; summary: string; detail: string; suggestions?: unknown[] }>;
}

/** A 1 g IV methylprednisolone pulse (= 1,250 mg prednisolone-equivalent) given on `date`. */
const pulse = (id: string, n: number, date: string): Resource => ({
  resourceType: 'MedicationAdministration',
  id: `${id}-pulse-${n}`,
  status: 'completed',
  subject: { reference: `Patient/${id}` },
  effectiveDateTime: `${date}T09:00:00Z`,
  medicationCodeableConcept: {
    coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '6902', display: 'methylprednisolone' }],
  },
  dosage: {
    route: { coding: [{ system: 'http://snomed.info/sct', code: '47625008', display: 'Intravenous route' }] },
    dose: { value: 1000, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
  },
});

describe('screening scenarios', () => {
  it('monthly 1 g IV pulses after the baseline scan: the follow-up is due though there is no daily dose', async () => {
    // Pulses 15 Jan, 15 Feb, 15 Mar, 15 Apr = 4 × 1,250 = 5,000 mg; crossed on 15 Mar (3,750 mg). The scan of
    // 1 Mar, 14 days before the crossing, is the baseline; pulses were given after it → due 1 Jun.
    const id = 'pulses';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      ...['2026-01-15', '2026-02-15', '2026-03-15', '2026-04-15'].map((d, i) => pulse(id, i + 1, d)),
      ...wbMri(id, 1, '2026-03-01'),
    ]);
    expect(cards[0]).toMatchObject({
      indicator: 'warning',
      summary: 'Follow-up STIR WB-MRI due: last 2026-03-01, due since 2026-06-01, overdue from 2026-09-01; 5,000 mg',
    });
    // Four 1 g pulses: the detail counts them and names the peak day.
    expect(cards[0]!.detail).toContain('peak 1,250 mg/day on 2026-01-15; 4 IV pulses');
  });

  it('myositis in remission on maintenance prednisolone with a known hip lesion: still screened, findings shown', async () => {
    const id = 'remission';
    const [patient, condition] = myositisPatient(id) as [Resource, Resource & Record<string, unknown>];
    const remission = {
      ...condition,
      clinicalStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'remission' }],
      },
    } as Resource;
    const cards = await patientView(id, [
      patient,
      remission,
      daily(id, 1, 60, '2026-01-01', '2026-03-31'),
      daily(id, 2, 5, '2026-04-01'),
      ...wbMri(id, 1, '2026-03-10'),
      finding(id, 1, '2026-03-10', HIP, LEFT, true, 'hip-wb-gt-2/3'),
    ]);
    expect(cards.map((c) => c.indicator)).toEqual(['info', 'critical']);
    expect(cards[1]!.summary).toBe('Osteonecrosis on WB-MRI: L hip — high collapse risk: L hip');
  });

  it('a follow-up read that lists only a new site does not hide the known hip lesion', async () => {
    const id = 'new-site';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      daily(id, 1, 60, '2026-01-01', '2026-03-31'),
      daily(id, 2, 10, '2026-04-01'),
      ...wbMri(id, 1, '2025-12-01'),
      finding(id, 1, '2025-12-01', HIP, LEFT, true, 'hip-wb-gt-2/3'),
      ...wbMri(id, 2, '2026-03-10'),
      finding(id, 2, '2026-03-10', KNEE, RIGHT, true, 'knee-surface-lt-25'),
    ]);
    const f = cards.find((c) => c.summary.startsWith('Osteonecrosis'))!;
    expect(f.summary).toBe('Osteonecrosis on WB-MRI: L hip, R knee — high collapse risk: L hip');
    expect(f.detail).toContain('| L hip | 2025-12-01 | over 2/3 of the weight-bearing area | **high collapse risk** |');
    expect(f.detail).toContain('| R knee | 2026-03-10 | under 25% of the articular surface |  |');
  });

  it('collapse is named as collapse, with orthopaedic management, not as a risk', async () => {
    const id = 'collapse';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      daily(id, 1, 60, '2026-01-01', '2026-03-31'),
      ...wbMri(id, 1, '2026-03-10'),
      finding(id, 1, '2026-03-10', KNEE, LEFT, true, 'knee-surface-25-50', true),
    ]);
    const f = cards.find((c) => c.summary.startsWith('Osteonecrosis'))!;
    expect(f.indicator).toBe('critical');
    expect(f.summary).toBe('Osteonecrosis on WB-MRI: L knee — collapsed: L knee');
    expect(f.detail).toContain('**Articular collapse** (L knee): irreversible; orthopaedic management');
    expect(f.detail).not.toContain('High risk of collapse');
  });

  it.each([
    ['Steinberg severe without a hip share', HIP, 'steinberg-severe', 'L hip'],
    ['a knee lesion over 50 % of the articular surface', KNEE, 'knee-surface-gt-50', 'L knee'],
  ])('%s is a pre-collapse lesion at high risk: referral and regional MRI', async (_name, joint, grade, site) => {
    const id = `risk-${grade}`;
    const cards = await patientView(id, [
      ...myositisPatient(id),
      daily(id, 1, 60, '2026-01-01', '2026-03-31'),
      ...wbMri(id, 1, '2026-03-10'),
      finding(id, 1, '2026-03-10', joint, LEFT, true, grade),
    ]);
    const f = cards.find((c) => c.summary.startsWith('Osteonecrosis'))!;
    expect(f.indicator).toBe('critical');
    expect(f.summary).toBe(`Osteonecrosis on WB-MRI: ${site} — high collapse risk: ${site}`);
    expect(f.detail).toContain('consider orthopaedic referral and a regional MRI now');
  });

  it('an order placed 101 days ago and never performed is not "already ordered"', async () => {
    // Crossed 19 Feb; ordered 20 Feb, 101 days before 1 Jun, no study since → due, with the order named.
    const id = 'stale-order';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      daily(id, 1, 60, '2026-01-01', '2026-03-31'),
      daily(id, 2, 10, '2026-04-01'),
      wbMriOrder(id, 1, '2026-02-20'),
    ]);
    expect(cards[0]!.summary).toMatch(/^STIR whole-body MRI due/);
    expect(cards[0]!.detail).toContain('A WB-MRI was ordered on 2026-02-20 (101 days ago) and has not been performed');
    expect(cards[0]!.suggestions).toHaveLength(1);
  });

  it('re-screening: after baseline and follow-up, due once 3,000 mg more have been given', async () => {
    // 60 mg/day from 1 Jan 2025 (crossed 19 Feb 2025); baseline 1 Jan 2026, follow-up 1 Apr 2026. Since 1 Apr:
    // 60 mg × 50 days = 3,000 mg on 20 May; by 1 Jun 62 days = 3,720 mg.
    const id = 'rescreen';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      daily(id, 1, 60, '2025-01-01'),
      ...wbMri(id, 1, '2026-01-01'),
      ...wbMri(id, 2, '2026-04-01'),
    ]);
    expect(cards[0]).toMatchObject({
      indicator: 'warning',
      summary: 'Re-screening STIR WB-MRI due: 3,720 mg since the last WB-MRI (2026-04-01), ≥ 3,000 mg on 2026-05-20',
    });
  });
});

describe('order-sign with known osteonecrosis', () => {
  it('a high-dose draft (prednisone 2 × 20 mg a day = 40 mg/day) gets a card naming the known lesion', async () => {
    const id = 'on-high';
    const resources = [
      ...myositisPatient(id),
      daily(id, 1, 60, '2026-01-01', '2026-03-31'),
      ...wbMri(id, 1, '2026-03-10'),
      finding(id, 1, '2026-03-10', HIP, LEFT, true, 'hip-wb-gt-2/3'),
    ];
    const draft = { ...DRAFT_PREDNISONE, subject: { reference: `Patient/${id}` } };
    const r = await h.call('glucocorticoid-order-sign', {
      hook: 'order-sign',
      hookInstance: randomUUID(),
      context: {
        userId: 'Practitioner/rheum-1',
        patientId: id,
        draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: draft }] },
      },
      prefetch: fullPrefetch(resources, id),
    });
    expect(r.status).toBe(200);
    const card = (r.body.cards as Array<{ summary: string; indicator: string }>).find((c) =>
      c.summary.startsWith('Known osteonecrosis'),
    );
    expect(card).toMatchObject({
      indicator: 'critical',
      summary: 'Known osteonecrosis (L hip): this order is high dose, 40 mg/day prednisolone-eq.',
    });
  });
});

describe('order-sign replaces, it does not add', () => {
  it('a prednisone draft for a patient on an active prednisone order is projected in place of that order', async () => {
    // Active order: prednisone 20 mg/day from 1 Mar (92 days to 31 May = 1,840 mg; 1,860 mg on 1 Jun).
    // The draft, 2 × 20 mg tablets a day for 30 days from 1 Jun, replaces it: 1,840 + 30 × 40 = 3,040 mg by
    // 30 Jun, crossing 3,000 mg on 29 Jun. Added on top it would have been 3,640 mg, crossing on 20 Jun.
    const id = 'replace';
    const active: Resource = {
      resourceType: 'MedicationRequest',
      id: `${id}-rx`,
      status: 'active',
      intent: 'order',
      subject: { reference: `Patient/${id}` },
      authoredOn: '2026-03-01',
      medicationCodeableConcept: {
        coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8640', display: 'prednisone' }],
      },
      dosageInstruction: [
        {
          timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd', boundsPeriod: { start: '2026-03-01' } } },
          doseAndRate: [{ doseQuantity: { value: 20, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }],
        },
      ],
    } as Resource;
    const draft = { ...DRAFT_PREDNISONE, subject: { reference: `Patient/${id}` } };
    const r = await h.call('glucocorticoid-order-sign', {
      hook: 'order-sign',
      hookInstance: randomUUID(),
      context: {
        userId: 'Practitioner/rheum-1',
        patientId: id,
        draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: draft }] },
      },
      prefetch: fullPrefetch([...myositisPatient(id), active], id),
    });
    expect(r.status).toBe(200);
    expect(r.body.cards[0].summary).toBe(
      'With this order: 1,860 → 3,040 mg prednisolone-eq. by 2026-06-30, crossing 3,000 mg on 2026-06-29; WB-MRI screening due',
    );
    expect(r.body.cards[0].detail).toContain('The draft replaces the current order');
  });
});

describe('exact to the milligram on the card', () => {
  it('7.5 mg a day reads 7.5, not 8', async () => {
    const id = 'exact';
    const cards = await patientView(id, [...myositisPatient(id), daily(id, 1, 7.5, '2026-03-01')]);
    // 1 Mar–1 Jun = 93 days × 7.5 = 697.5 mg; 2,302.5 mg more at 7.5 mg/day = 307 days → 4 Apr 2027.
    expect(cards[0]!.summary).toBe(
      'Glucocorticoid exposure 697.5 mg prednisolone-eq., now 7.5 mg/day; 3,000 mg on 2027-04-04 if taken as recorded',
    );
    expect(cards[0]!.detail).toContain('Current dose 7.5 mg/day');
  });
});
