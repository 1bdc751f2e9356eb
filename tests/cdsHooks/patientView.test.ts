/**
 * patient-view (`osteonecrosis-screening`): one fixture per screening scenario, sent with a complete prefetch
 * by a Sandbox-like client; numbers are hand-worked in the comments.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patientHistory } from '../../src/audit/queries.ts';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { daily, finding, fullPrefetch, myositisPatient, wbMri, wbMriOrder } from '../helpers/patients.ts';

const NOW = '2026-06-01T10:00:00Z';
let h: CdsHarness;
beforeAll(async () => {
  h = await startCdsHarness({ now: NOW });
});
afterAll(() => h.close());

// 60 mg/day 1 Jan–31 Mar 2026 (90 d = 5,400 mg, 3,000 mg reached on day 50 = 19 Feb), then 10 mg/day
// from 1 Apr, active (1 Apr–1 Jun = 62 d = 620 mg): 6,020 mg on 1 Jun.
const crossed = (id: string): Resource[] => [
  ...myositisPatient(id),
  daily(id, 1, 60, '2026-01-01', '2026-03-31'),
  daily(id, 2, 10, '2026-04-01'),
];

async function patientView(id: string, resources: Resource[]) {
  const r = await h.call('osteonecrosis-screening', {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/COREPRACTITIONER1', patientId: id },
    prefetch: fullPrefetch(resources, id),
  });
  expect(r.status).toBe(200);
  return r.body.cards as any[];
}

describe('patient-view cards', () => {
  it('below the threshold: info with the total, the daily dose and the date the threshold will be reached', async () => {
    // 20 mg/day from 1 Mar: 93 days to 1 Jun = 1,860 mg; 1,140 mg more at 20 mg/day = 57 days → 28 Jul.
    const cards = await patientView('below', [...myositisPatient('below'), daily('below', 1, 20, '2026-03-01')]);
    expect(cards).toHaveLength(1);
    expect(cards[0].indicator).toBe('info');
    expect(cards[0].summary).toBe(
      'Glucocorticoid exposure 1,860 mg prednisolone-eq., now 20 mg/day; 3,000 mg on 2026-07-28 if taken as recorded',
    );
    expect(cards[0].suggestions).toBeUndefined();
  });

  it('baseline screening due: a warning with exact numbers, evidence, a smart link and a one-click draft order', async () => {
    const cards = await patientView('due', crossed('due'));
    expect(cards).toHaveLength(1);
    const c = cards[0];
    expect(c.indicator).toBe('warning');
    expect(c.summary).toBe(
      'STIR whole-body MRI due: 6,020 mg prednisolone-eq., ≥ 3,000 mg since 2026-02-19, no WB-MRI since',
    );
    expect([...c.summary].length).toBeLessThan(140);
    expect(c.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.detail).toContain('**Cumulative prednisolone-equivalent dose: 6,020 mg** as of 2026-06-01');
    // The records as a clinician recognises them: drug and dose as prescribed, dates, not resource ids.
    expect(c.detail).toContain('| prednisolone 60 mg daily | 2026-01-01 – 2026-03-31 | 90 | 5,400 mg |');
    expect(c.detail).toContain('| prednisolone 10 mg daily | 2026-04-01 – 2026-06-01 | 62 | 620 mg |');
    expect(c.detail).toContain('Glucocorticoid therapy since 2026-01-01 (4 months); peak 60 mg/day on 2026-01-01.');
    expect(c.detail).not.toContain('MedicationStatement/');
    expect(c.detail).toContain('https://doi.org/10.1259/bjr.20160780');
    expect(c.source).toMatchObject({ label: 'OsteoWatch', url: h.base, topic: { code: 'osteonecrosis-screening' } });
    expect(c.overrideReasons.every((o: { display?: string }) => !!o.display)).toBe(true);
    expect(c.links).toBeUndefined(); // no link until the timeline app is served (clinician pages)
    expect(c.selectionBehavior).toBe('at-most-one');
    const s = c.suggestions[0];
    expect(s.uuid).toBeDefined();
    const sr = s.actions[0].resource;
    expect(s.actions[0].type).toBe('create');
    expect(sr).toMatchObject({
      resourceType: 'ServiceRequest',
      status: 'draft',
      intent: 'order',
      code: { coding: [{ system: 'http://loinc.org', code: '46358-8' }], text: 'STIR whole-body MRI, no contrast' },
      subject: { reference: 'Patient/due' },
      occurrencePeriod: { start: '2026-06-01' },
    });
    expect(sr.reasonCode[0].text).toContain('6,020 mg');
    expect(validateResource(sr).filter((i) => i.severity === 'error')).toEqual([]);
    const profile = JSON.parse(
      readFileSync(
        new URL('../../profiles/StructureDefinition-osteowatch-wbmri-servicerequest.json', import.meta.url),
        'utf8',
      ),
    );
    expect(sr.meta.profile).toEqual([profile.url]);
    expect(validateResource(sr, { profile }).filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('a WB-MRI more than 90 days before the crossing does not count as screening; one within 90 days is the baseline', async () => {
    // Crossed on 19 Feb 2026: 90 days before is 21 Nov 2025.
    const early = await patientView('early-mri', [...crossed('early-mri'), ...wbMri('early-mri', 1, '2025-11-20')]);
    expect(early[0].summary).toMatch(/^STIR whole-body MRI due/);
    const just = await patientView('just-mri', [...crossed('just-mri'), ...wbMri('just-mri', 1, '2025-11-21')]);
    expect(just[0].summary).toMatch(/^OVERDUE follow-up STIR WB-MRI: last 2025-11-21, overdue since 2026-05-21/);
  });

  it('already ordered: info, no second order', async () => {
    const cards = await patientView('ordered', [...crossed('ordered'), wbMriOrder('ordered', 1, '2026-05-20')]);
    expect(cards[0]).toMatchObject({
      indicator: 'info',
      summary: 'STIR WB-MRI ordered 2026-05-20 (6,020 mg prednisolone-eq., ≥ 3,000 mg since 2026-02-19)',
    });
    expect(cards[0].suggestions).toBeUndefined();
  });

  it('follow-up not yet due: info with the 3–6 month window', async () => {
    const cards = await patientView('fu-sched', [...crossed('fu-sched'), ...wbMri('fu-sched', 1, '2026-04-15')]);
    expect(cards[0]).toMatchObject({
      indicator: 'info',
      summary: 'Last STIR WB-MRI 2026-04-15, steroids given since: follow-up due 2026-07-15–2026-10-15 (6,020 mg)',
    });
  });

  it('follow-up due 3 months after the last WB-MRI while steroids continue', async () => {
    const cards = await patientView('fu-due', [...crossed('fu-due'), ...wbMri('fu-due', 1, '2026-02-25')]);
    expect(cards[0].indicator).toBe('warning');
    expect(cards[0].summary).toBe(
      'Follow-up STIR WB-MRI due: last 2026-02-25, due since 2026-05-25, overdue from 2026-08-25; 6,020 mg',
    );
    expect(cards[0].suggestions[0].actions[0].resource.occurrencePeriod).toEqual({
      start: '2026-06-01',
      end: '2026-08-25',
    });
  });

  it('follow-up overdue 6 months after the last WB-MRI: stronger wording', async () => {
    // 60 mg/day 1 Jun–29 Aug 2025 crosses on 20 Jul 2025; WB-MRI 15 Sep 2025; overdue from 15 Mar 2026.
    const id = 'fu-over';
    const resources = [
      ...myositisPatient(id),
      daily(id, 1, 60, '2025-06-01', '2025-08-29'),
      daily(id, 2, 10, '2025-08-30'),
      ...wbMri(id, 1, '2025-09-15'),
    ];
    const cards = await patientView(id, resources);
    expect(cards[0].indicator).toBe('warning');
    expect(cards[0].summary).toMatch(
      /^OVERDUE follow-up STIR WB-MRI: last 2025-09-15, overdue since 2026-03-15; steroids given since/,
    );
  });

  it('no follow-up prompt when no glucocorticoid was given on or after the scan day', async () => {
    const id = 'stopped';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      daily(id, 1, 60, '2026-01-01', '2026-02-28'),
      ...wbMri(id, 1, '2026-03-01'),
    ]);
    expect(cards).toEqual([]);
  });

  it('steroids stopped a week after the scan: the follow-up is still due (osteonecrosis appears with a lag)', async () => {
    const id = 'stopped-after';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      daily(id, 1, 60, '2026-01-01', '2026-03-08'),
      ...wbMri(id, 1, '2026-03-01'),
    ]);
    expect(cards[0].summary).toBe(
      'Follow-up STIR WB-MRI due: last 2026-03-01, due since 2026-06-01, overdue from 2026-09-01; 4,020 mg',
    );
    // Steroids stopped: the order's reason is the history of steroid therapy, not current use.
    expect(cards[0].suggestions[0].actions[0].resource.reasonCode[0].coding[0].code).toBe('Z92.241');
  });

  it('findings on the last WB-MRI: critical for high collapse risk, joints and sides listed', async () => {
    const id = 'found';
    const resources = [
      ...crossed(id),
      ...wbMri(id, 1, '2026-03-10'),
      finding(id, 1, '2026-03-10', '24136001', '7771000', true, 'hip-wb-gt-2/3'),
      finding(id, 2, '2026-03-10', '49076000', '24028007', true, 'knee-surface-lt-25'),
      finding(id, 3, '2026-03-10', '70258002', '7771000', false),
    ];
    const cards = await patientView(id, resources);
    const f = cards.find((c) => c.summary.startsWith('Osteonecrosis'));
    expect(f.indicator).toBe('critical');
    expect(f.summary).toBe('Osteonecrosis on WB-MRI: L hip, R knee — high collapse risk: L hip');
    expect(f.detail).toContain('| L hip | 2026-03-10 | over 2/3 of the weight-bearing area | **high collapse risk** |');
    expect(f.detail).toContain('joint-preserving treatment is still possible');
    expect(f.detail).toContain('Keep the glucocorticoid dose as low as disease control allows');
    expect(cards.find((c) => c !== f).summary).toMatch(
      /^Last STIR WB-MRI 2026-03-10, steroids given since: follow-up due 2026-06-10/,
    );
  });

  it('a finding without high-risk features is a warning', async () => {
    const id = 'found-low';
    const cards = await patientView(id, [
      ...crossed(id),
      ...wbMri(id, 1, '2026-03-10'),
      finding(id, 1, '2026-03-10', '49076000', '7771000', true, 'knee-surface-25-50'),
    ]);
    expect(cards.find((c) => c.summary.startsWith('Osteonecrosis')).indicator).toBe('warning');
  });

  it('data-quality problems are listed in the detail', async () => {
    const id = 'dq';
    const noDose = (n: number) =>
      ({ ...daily(id, n, 1, '2026-05-01', '2026-05-05'), dosage: [{ text: 'as directed' }] }) as Resource;
    const cards = await patientView(id, [...crossed(id), noDose(3), noDose(4)]);
    expect(cards[0].detail).toContain('2 MedicationStatements without a dose were not counted.');
    // A lower bound reads "at least" wherever a person reads the total: the summary and the detail.
    expect(cards[0].detail).toContain('Cumulative prednisolone-equivalent dose: at least 6,020 mg');
    expect(cards[0].summary).toContain('at least 6,020 mg');
  });

  it('an uncomputable exposure is reported as unknown, never as 0 mg', async () => {
    const id = 'unknown';
    const cards = await patientView(id, [
      ...myositisPatient(id),
      { ...daily(id, 1, 1, '2026-05-01', '2026-05-05'), dosage: [{ text: 'as directed' }] } as Resource,
    ]);
    expect(cards[0].indicator).toBe('info');
    expect(cards[0].summary).toMatch(/could not be computed/);
    expect(cards[0].detail).toContain('unknown');
    expect(cards[0].detail).not.toContain('0 mg**');
  });

  it('patients outside the myositis cohort get no card', async () => {
    const id = 'sle';
    const resources = [
      { resourceType: 'Patient', id },
      {
        resourceType: 'Condition',
        id: `${id}-c`,
        subject: { reference: `Patient/${id}` },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '55464009' }] },
      },
      daily(id, 1, 60, '2026-01-01', '2026-03-31'),
    ] as Resource[];
    expect(await patientView(id, resources)).toEqual([]);
    const refuted = crossed('refuted');
    (refuted[1] as any).verificationStatus = {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'refuted' }],
    };
    expect(await patientView('refuted', refuted)).toEqual([]);
  });

  it('every call is in the audit trail with its cards and exposure snapshot, and no access token', async () => {
    const id = 'audited';
    const resources = crossed(id);
    const r = await h.call('osteonecrosis-screening', {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      fhirServer: `${h.base}/fhir`,
      fhirAuthorization: {
        access_token: 'SECRET-ACCESS-TOKEN',
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'user/*.read',
        subject: 'osteowatch',
      },
      context: { userId: 'Practitioner/dr-9', patientId: id },
      prefetch: fullPrefetch(resources, id),
    });
    await h.flushAudit();
    const hist = await patientHistory(h.store.db, id);
    const inv = hist.invocations.items[0]!;
    expect(inv).toMatchObject({
      service: 'osteonecrosis-screening',
      hook: 'patient-view',
      userRef: 'Practitioner/dr-9',
      clientIss: 'https://sandbox.cds-hooks.org',
    });
    expect(inv.cards[0]!.uuid).toBe(r.body.cards[0].uuid);
    expect(inv.exposure!.cumulativeMg).toBe(6020);
    expect(inv.dataSources).toContain(`MedicationStatement/${id}-ms-1`);
    const raw = JSON.stringify(await h.store.db.query('select payload from audit_log'));
    expect(raw).not.toContain('SECRET-ACCESS-TOKEN');
  });
});

describe('counts in card wording: singular for one', () => {
  const detailOf = async (id: string, resources: Resource[]) => (await patientView(id, resources))[0].detail as string;
  /** `n` completed 10-day courses of 40 mg/day, one a month from January 2025 (400 mg each). */
  const courses = (id: string, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const month = String(i + 1).padStart(2, '0');
      return daily(id, i + 1, 40, `2025-${month}-01`, `2025-${month}-10`);
    });

  it('"… 1 earlier record" below the eighth row, "… 2 earlier records" for two', async () => {
    const nine = await detailOf('nine', [...myositisPatient('nine'), ...courses('nine', 9)]);
    expect(nine).toContain('| … 1 earlier record | | | 400 mg |');
    expect(nine).not.toContain('earlier records');
    const ten = await detailOf('ten', [...myositisPatient('ten'), ...courses('ten', 10)]);
    expect(ten).toContain('| … 2 earlier records | | | 800 mg |');
  });

  it('therapy of 1 day, of 60 days (1 month); 1 IV pulse', async () => {
    // 1 Jun is the call's day: one day of therapy.
    expect(await detailOf('oneday', [...myositisPatient('oneday'), daily('oneday', 1, 20, '2026-06-01')])).toContain(
      'Glucocorticoid therapy since 2026-06-01 (1 day); peak',
    );
    // 3 Apr – 1 Jun: 60 days, floor(60 / 30.4375) = 1 month.
    expect(
      await detailOf('onemonth', [...myositisPatient('onemonth'), daily('onemonth', 1, 20, '2026-04-03')]),
    ).toContain('Glucocorticoid therapy since 2026-04-03 (1 month); peak');
    const pulse: Resource = {
      resourceType: 'MedicationAdministration',
      id: 'onepulse-pulse-1',
      status: 'completed',
      subject: { reference: 'Patient/onepulse' },
      effectiveDateTime: '2026-05-15T09:00:00Z',
      medicationCodeableConcept: {
        coding: [
          { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '6902', display: 'methylprednisolone' },
        ],
      },
      dosage: {
        route: { coding: [{ system: 'http://snomed.info/sct', code: '47625008', display: 'Intravenous route' }] },
        dose: { value: 1000, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
      },
    } as Resource;
    const one = await detailOf('onepulse', [...myositisPatient('onepulse'), pulse]);
    expect(one).toContain('; 1 IV pulse (≥ 250 mg');
    expect(one).not.toContain('IV pulses');
  });
});
