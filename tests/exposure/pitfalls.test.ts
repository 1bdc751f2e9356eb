/**
 * The CDC opioid calculator's pitfalls (docs/references.md, P1–P13), one test each,
 * plus status, route and "unknown is never 0 mg" rules from the README.
 */
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ConfigError, computeExposure, resolveExposureConfig } from '../../src/exposure/index.ts';
import {
  administration,
  daily,
  dosage,
  exposure,
  IV,
  MP,
  mg,
  PRED,
  request,
  rx,
  SCT,
  statement,
  tabs,
  UCUM,
} from './builders.ts';

const jan = { effectivePeriod: { start: '2024-01-01', end: '2024-01-10' } };
const codes = (r: ReturnType<typeof exposure>) => r.issues.map((i) => i.code);

describe('pitfalls P1–P13', () => {
  it('P1: every dosage of a taper is read, not only the first', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(40), ...daily, start: '2024-01-01', end: '2024-01-05' }),
        dosage({ sequence: 2, dose: mg(20), ...daily, start: '2024-01-06', end: '2024-01-10' }),
      ],
      jan,
    );
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(300); // 5 × 40 + 5 × 20
  });

  it('P2: boundsDuration and count bound a step; the next step starts the day after', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(30), ...daily, count: 3 }), // 1–3 Jan
        dosage({ sequence: 2, dose: mg(20), ...daily, duration: { value: 2, unit: 'd' } }), // 4–5 Jan
        dosage({ sequence: 3, dose: mg(10), ...daily, duration: { value: 1, unit: 'd' } }), // 6 Jan
      ],
      { effectivePeriod: { start: '2024-01-01' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(140);
    expect(r.timeline.map((t) => [t.date.slice(8), t.mg])).toEqual([
      ['01', 30],
      ['02', 30],
      ['03', 30],
      ['04', 20],
      ['05', 20],
      ['06', 10],
    ]);
  });

  it('P3: expectedSupplyDuration units are converted (4 wk = 28 d); an unknown unit is reported, not guessed', () => {
    const base = { status: 'completed' as const, authoredOn: '2024-01-01' };
    const wk = request(PRED, [dosage({ dose: mg(5), ...daily })], {
      ...base,
      dispenseRequest: { expectedSupplyDuration: { value: 4, unit: 'weeks', system: UCUM, code: 'wk' } },
    });
    expect(exposure([wk], '2025-01-01').cumulativeMg).toBe(140);
    const bad = request(PRED, [dosage({ dose: mg(5), ...daily })], {
      ...base,
      dispenseRequest: { expectedSupplyDuration: { value: 4, unit: 'fortnights' } },
    });
    const r = exposure([bad], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(codes(r)).toContain('duration-unknown');
  });

  it('P4: dispensed tablets and a dose in mg are both converted to mg before dividing', () => {
    // 30 tablets × 5 mg = 150 mg dispensed; 10 mg a day → 15 days → 150 mg
    const r0 = request(rx('312617', 'predniSONE 5 MG Oral Tablet'), [dosage({ dose: mg(10), ...daily })], {
      status: 'completed',
      authoredOn: '2024-01-01',
      dispenseRequest: { quantity: { value: 30, unit: 'tablet', system: UCUM, code: '{tbl}' } },
    });
    const r = exposure([r0], '2025-01-01');
    expect(r.cumulativeMg).toBe(150);
    expect(r.timeline.at(-1)!.date).toBe('2024-01-15');
  });

  it('P5: ranges and PRN are flagged (and PRN can be excluded by policy)', () => {
    const d = dosage({ dose: mg(10), freq: 1, period: 1, periodUnit: 'd' });
    d.timing!.repeat!.frequencyMax = 2;
    d.asNeededBoolean = true;
    const s = statement(PRED, [d], jan);
    const counted = exposure([s], '2025-01-01');
    expect(counted.cumulativeMg).toBe(200); // upper: 2 × 10 × 10
    expect(codes(counted)).toEqual(expect.arrayContaining(['frequency-range', 'as-needed']));
    const excluded = exposure([s], '2025-01-01', { asNeededPolicy: 'exclude' });
    expect(excluded.cumulativeMg).toBeNull();
    expect(excluded.issues.find((i) => i.code === 'as-needed')!.severity).toBe('error');
  });

  it('P6: no timing at all is counted once daily and flagged, never silently', () => {
    const s = statement(PRED, [{ doseAndRate: [{ doseQuantity: mg(10) }] }], jan);
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    expect(codes(r)).toContain('timing-assumed-once-daily');
  });

  it('P7: timing.code (BID, TID, QID, Q12H) is honoured when repeat is absent', () => {
    const mk = (code: string) => statement(PRED, [dosage({ dose: mg(5), code })], jan);
    expect(exposure([mk('BID')], '2025-01-01').cumulativeMg).toBe(100);
    expect(exposure([mk('TID')], '2025-01-01').cumulativeMg).toBe(150);
    expect(exposure([mk('QID')], '2025-01-01').cumulativeMg).toBe(200);
    expect(exposure([mk('Q12H')], '2025-01-01').cumulativeMg).toBe(100);
    const snomedTwice = statement(
      PRED,
      [{ doseAndRate: [{ doseQuantity: mg(5) }], timing: { code: { coding: [{ system: SCT, code: '229799001' }] } } }],
      jan,
    );
    expect(exposure([snomedTwice], '2025-01-01').cumulativeMg).toBe(100);
    const unknown = statement(PRED, [dosage({ dose: mg(5), code: 'XYZ' })], jan);
    expect(codes(exposure([unknown], '2025-01-01'))).toContain('unknown-timing-code');
  });

  it('P8: a frequency range is counted at the documented bound (upper by default, midpoint on request)', () => {
    const d = dosage({ dose: mg(10), freq: 2, period: 1, periodUnit: 'd' });
    d.timing!.repeat!.frequencyMax = 4;
    const s = statement(PRED, [d], jan);
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(400);
    expect(exposure([s], '2025-01-01', { rangePolicy: 'mid' }).cumulativeMg).toBe(300);
  });

  it('P9: Quantity.code (UCUM) is read before Quantity.unit', () => {
    const s = statement(
      PRED,
      [
        {
          ...dosage({ ...daily }),
          doseAndRate: [{ doseQuantity: { value: 10, unit: 'tablets', system: UCUM, code: 'mg' } }],
        },
      ],
      jan,
    );
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(100);
  });

  it('P10: an unknown unit fails loudly; the record is unquantified, not 0 mg', () => {
    const s = statement(
      PRED,
      [{ ...dosage({ ...daily }), doseAndRate: [{ doseQuantity: { value: 2, unit: 'spoonfuls' } }] }],
      jan,
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]!.mg).toBeNull();
    expect(r.contributions[0]!.status).toBe('unquantified');
    expect(codes(r)).toContain('dose-unit-unknown');
  });

  it('P11: thresholds are half-open — exactly 3000 mg has crossed', () => {
    const s = statement(PRED, [dosage({ dose: mg(100), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-30' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(3000);
    expect(r.threshold.crossedOn).toBe('2024-01-30');
    const below = exposure([s], '2024-01-29');
    expect(below.threshold.crossedOn).toBeNull();
  });

  it('P12: a period without a periodUnit is never defaulted', () => {
    const d = dosage({ dose: mg(10) });
    d.timing = { repeat: { frequency: 1, period: 3 } };
    const r = exposure([statement(PRED, [d], jan)], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(codes(r)).toContain('period-without-unit');
  });

  it('P13: identical orders on different dates are all counted; only identity links merge', () => {
    const a = request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' })]);
    const b = request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-02-01', end: '2024-02-10' })]);
    const c = request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' })]); // same sig, distinct order
    expect(exposure([a, b, c], '2025-01-01').cumulativeMg).toBe(300);
  });
});

describe('de-duplication by identity', () => {
  it('a MedicationStatement basedOn a MedicationRequest counts once (the statement)', () => {
    const req = request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' })]);
    const st = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
      ...jan,
      basedOn: [{ reference: `MedicationRequest/${req.id}` }],
    });
    const r = exposure([req, st], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    const dup = r.contributions.find((x) => x.source === `MedicationRequest/${req.id}`)!;
    expect(dup.status).toBe('duplicate');
    expect(dup.countedVia).toBe(`MedicationStatement/${st.id}`);
  });

  it('derivedFrom with an absolute URL and a shared identifier also link', () => {
    const req = request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' })], {
      identifier: [{ system: 'urn:ehr:orders', value: 'O-1' }],
    });
    const byUrl = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
      ...jan,
      derivedFrom: [{ reference: `https://ehr.example/fhir/MedicationRequest/${req.id}` }],
    });
    expect(exposure([req, byUrl], '2025-01-01').cumulativeMg).toBe(100);
    const byId = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
      ...jan,
      identifier: [{ system: 'urn:ehr:orders', value: 'O-1' }],
    });
    expect(exposure([req, byId], '2025-01-01').cumulativeMg).toBe(100);
  });

  it('administrations that fulfil a request replace it: 3 × 1 g given, not the order as well', () => {
    const req = request(MP, [dosage({ dose: mg(1000), ...daily, count: 3, route: IV })], { authoredOn: '2024-05-01' });
    const given = ['2024-05-01', '2024-05-02', '2024-05-03'].map((d) =>
      administration(MP, d, mg(1000), { request: { reference: `MedicationRequest/${req.id}` } }),
    );
    expect(exposure([req, ...given], '2025-01-01').cumulativeMg).toBe(3750);
  });

  it('an id-less order linked by basedOn: urn:uuid (its fullUrl, as a transaction Bundle writes it) counts once', () => {
    const { id: _, ...order } = request(PRED, [
      dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' }),
    ]);
    const url = 'urn:uuid:0b6c2f40-5d4e-4c3a-9f1e-7a2b8c9d0e11';
    const st = statement(PRED, [dosage({ dose: mg(10), ...daily })], { ...jan, basedOn: [{ reference: url }] });
    const fullUrls = new Map<Resource, string>([[order as Resource, url]]);
    const r = computeExposure({ resources: [order as Resource, st], fullUrls, patient: 'p1', asOf: '2025-01-01' });
    expect(r.cumulativeMg).toBe(100);
    expect(r.contributions.find((c) => c.resourceType === 'MedicationRequest')).toMatchObject({
      mg: 0,
      status: 'duplicate',
      countedVia: `MedicationStatement/${st.id}`,
    });
  });

  it('the same resource twice in a bundle counts once', () => {
    const s = statement(PRED, [dosage({ dose: mg(10), ...daily })], jan);
    expect(exposure([s, structuredClone(s)], '2025-01-01').cumulativeMg).toBe(100);
  });

  it('an unquantifiable statement does not suppress the order it is based on', () => {
    const req = request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' })]);
    const st = statement(PRED, [{ text: 'as directed' }], {
      ...jan,
      basedOn: [{ reference: `MedicationRequest/${req.id}` }],
    });
    const r = exposure([req, st], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    expect(r.cumulativeIsLowerBound).toBe(true);
  });
});

describe('status rules', () => {
  it.each(['entered-in-error', 'not-taken', 'intended'] as const)(
    'statement %s counts 0 and is not an issue',
    (status) => {
      const r = exposure([statement(PRED, [dosage({ dose: mg(10), ...daily })], { ...jan, status })], '2025-01-01');
      expect(r.cumulativeMg).toBe(0);
      expect(r.issues).toEqual([]);
      expect(r.contributions).toEqual([]);
    },
  );

  it.each(['cancelled', 'draft', 'entered-in-error'] as const)('request %s counts 0 and is not an issue', (status) => {
    const r = exposure(
      [request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' })], { status })],
      '2025-01-01',
    );
    expect(r.cumulativeMg).toBe(0);
    expect(r.issues).toEqual([]);
  });

  it.each(['unknown', 'on-hold'] as const)(
    'statement %s counts 0 and is reported; the total is unknown, not 0',
    (status) => {
      const r = exposure([statement(PRED, [dosage({ dose: mg(10), ...daily })], { ...jan, status })], '2025-01-01');
      expect(r.cumulativeMg).toBeNull();
      expect(r.issues).toHaveLength(1);
      expect(r.issues[0]!.severity).toBe('error');
    },
  );

  it.each(['unknown', 'on-hold'] as const)(
    'statement %s that starts after the as-of day: said, but the total as of that day is exact, not unknown',
    (status) => {
      const taken = statement(PRED, [dosage({ dose: mg(10), ...daily })], jan);
      const later = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
        effectivePeriod: { start: '2025-01-02', end: '2025-01-20' },
        status,
      });
      const r = exposure([taken, later], '2025-01-01');
      expect(r.cumulativeMg).toBe(100);
      expect(r.cumulativeIsLowerBound).toBe(false);
      expect(r.issues.map((i) => [i.source, i.severity])).toEqual([[`MedicationStatement/${later.id}`, 'warning']]);
      const contribution = r.contributions.find((c) => c.source === `MedicationStatement/${later.id}`);
      expect(contribution).toMatchObject({ status: 'excluded', mg: 0 });
      // What the timeline shows beside it says why it is not counted.
      expect(contribution?.derivation).toMatch(/\(starts after the as-of day: not counted yet\)$/);
      // Alone, it leaves nothing taken: 0 mg, not unknown.
      expect(exposure([later], '2025-01-01').cumulativeMg).toBe(0);
      // Once the as-of day reaches it, it is unknown again (an error), and with it the total.
      const onIt = exposure([taken, later], '2025-01-02');
      expect(onIt.cumulativeIsLowerBound).toBe(true);
      expect(onIt.issues.map((i) => i.severity)).toEqual(['error']);
    },
  );

  it('an order or administration that starts after the as-of day, unquantified or unidentified, leaves the total exact', () => {
    const taken = statement(PRED, [dosage({ dose: mg(10), ...daily })], jan);
    // No dose on a future order (authored after the as-of day); an administration of an unknown product tomorrow.
    const order = request(PRED, [dosage({ ...daily, start: '2025-02-01', end: '2025-02-10' })], {
      authoredOn: '2025-01-15',
    });
    const given = administration({ text: 'unknown infusion' }, '2025-01-02T09:00:00Z', mg(1000));
    const r = exposure([taken, order, given], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    expect(r.cumulativeIsLowerBound).toBe(false);
    expect(r.issues.length).toBeGreaterThan(0);
    expect(r.issues.every((i) => i.severity !== 'error')).toBe(true);
    // The same records dated before the as-of day are errors that make the total a lower bound.
    const before = exposure(
      [
        taken,
        request(PRED, [dosage({ ...daily, start: '2024-02-01', end: '2024-02-10' })], { authoredOn: '2024-01-15' }),
      ],
      '2025-01-01',
    );
    expect(before.cumulativeIsLowerBound).toBe(true);
  });

  it('a record with any step that began by the as-of day is not "later": its unread dose keeps the total unknown', () => {
    const asOf = '2025-01-15';
    // An order whose dosages are out of sequence: the first in the array starts after the as-of day, the step
    // that began on 2024-12-01 has no dose.
    const order = request(
      PRED,
      [
        dosage({ sequence: 2, dose: mg(5), ...daily, start: '2025-02-01', end: '2025-02-28' }),
        dosage({ sequence: 1, ...daily, start: '2024-12-01', end: '2025-01-31' }),
      ],
      { authoredOn: '2024-12-01' },
    );
    expect(exposure([order], asOf).cumulativeMg).toBeNull();
    // A statement of status unknown dated from February whose dosage ran in January.
    const unknown = statement(PRED, [dosage({ dose: mg(10), ...daily, start: '2025-01-01', end: '2025-01-31' })], {
      status: 'unknown',
      effectivePeriod: { start: '2025-02-01' },
    });
    const r = exposure([unknown], asOf);
    expect(r.cumulativeMg).toBeNull();
    expect(r.issues.map((i) => i.severity)).toContain('error');
    // A taper whose first steps precede its effective start: 10 mg for five days counted, the undosed step
    // after them makes the total a lower bound (doses laid by the as-of day: never "later").
    const taper = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(10), ...daily, start: '2025-01-01', end: '2025-01-05' }),
        dosage({ sequence: 2, ...daily, start: '2025-01-06', end: '2025-01-31' }),
      ],
      { effectivePeriod: { start: '2025-02-01' } },
    );
    const t = exposure([taper], asOf);
    expect(t.cumulativeMg).toBe(50);
    expect(t.cumulativeIsLowerBound).toBe(true);
    // An administration on the as-of day itself is not later.
    const given = administration({ text: 'unknown infusion' }, '2025-01-15T09:00:00Z', mg(1000));
    const onTheDay = exposure([statement(PRED, [dosage({ dose: mg(10), ...daily })], jan), given], asOf);
    expect(onTheDay.issues.filter((i) => i.severity === 'error').length).toBe(
      exposure([statement(PRED, [dosage({ dose: mg(10), ...daily })], jan), given], '2025-06-01').issues.filter(
        (i) => i.severity === 'error',
      ).length,
    );
  });

  it('a proposal or plan is not an order', () => {
    const r = exposure(
      [
        request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-01-10' })], {
          intent: 'proposal',
        }),
      ],
      '2025-01-01',
    );
    expect(r.cumulativeMg).toBe(0);
  });

  it('not-done administrations count 0', () => {
    expect(
      exposure([administration(MP, '2024-01-01', mg(1000), { status: 'not-done' })], '2025-01-01').cumulativeMg,
    ).toBe(0);
  });
});

describe('routes and ingredients', () => {
  it('inhaled and nasal products are excluded; inhaled is flagged', () => {
    const inhaled = statement(
      rx('745813', 'budesonide 0.08 MG/ACTUAT / formoterol 0.0045 MG/ACTUAT Metered Dose Inhaler'),
      [dosage({ dose: mg(0.16), code: 'BID', route: undefined })],
      jan,
    );
    delete inhaled.dosage![0]!.route;
    const r = exposure([inhaled], '2025-01-01');
    expect(r.cumulativeMg).toBe(0);
    expect(r.contributions[0]!.status).toBe('excluded');
  });

  it('topical triamcinolone cream is excluded', () => {
    const s = statement(rx('106256', 'triamcinolone 1 MG/ML Topical Cream'), [dosage({ dose: mg(1), ...daily })], jan);
    delete s.dosage![0]!.route;
    const r = exposure([s], '2025-01-01');
    expect(r.contributions[0]!.route).toBe('topical');
    expect(r.cumulativeMg).toBe(0);
  });

  it('intra-articular triamcinolone 40 mg is counted and flagged: 40 × 1.25 = 50', () => {
    const IA = { coding: [{ system: SCT, code: '12130007', display: 'Intra-articular route' }] };
    const a = administration(rx('10759', 'triamcinolone'), '2024-06-01', mg(40), {
      dosage: { dose: mg(40), route: IA },
    });
    const r = exposure([a], '2025-01-01');
    expect(r.cumulativeMg).toBe(50);
    expect(codes(r)).toContain('route-flagged');
  });

  it('oral budesonide is excluded and flagged by default, counted when configured', () => {
    const s = statement(
      rx('999', 'budesonide 3 MG Delayed Release Oral Capsule'),
      [dosage({ dose: tabs(3), ...daily })],
      jan,
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(0);
    expect(codes(r)).toContain('budesonide-excluded');
    const counted = exposure([s], '2025-01-01', { budesonide: { policy: 'count', equivalentToPrednisolone5mg: 15 } });
    expect(counted.cumulativeMg).toBe(30); // 9 mg/d × 10 d × 5/15
  });

  it('a glucocorticoid named only in text is counted and flagged', () => {
    const s = statement({ text: 'Prednisolone 5mg tablets' }, [dosage({ dose: mg(10), ...daily })], jan);
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    expect(codes(r)).toContain('ingredient-from-text');
  });

  it('non-glucocorticoids (methotrexate, fludrocortisone) are ignored without issues', () => {
    const mtx = statement(
      rx('6851', 'methotrexate'),
      [dosage({ dose: mg(15), freq: 1, period: 1, periodUnit: 'wk' })],
      jan,
    );
    const fludro = statement(rx('4452', 'fludrocortisone'), [dosage({ dose: mg(0.1), ...daily })], jan);
    const r = exposure([mtx, fludro], '2025-01-01');
    expect(r.cumulativeMg).toBe(0);
    expect(r.issues).toEqual([]);
  });

  it('a glucocorticoid with no equivalence factor is reported, not counted as 0', () => {
    const s = statement(rx('7910', 'paramethasone'), [dosage({ dose: mg(2), ...daily })], jan);
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(codes(r)).toContain('no-equivalence-factor');
  });

  it('the Sandbox "prednisolone Pill" (no strength) in pills is unquantified with the reason', () => {
    const pill = { value: 1, unit: 'pill', system: UCUM, code: '{pill}' };
    const r0 = request(rx('1156758'), [
      { ...dosage({ ...daily, start: '2024-01-01', end: '2024-01-05' }), doseAndRate: [{ doseQuantity: pill }] },
    ]);
    const r = exposure([r0], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.issues[0]!.code).toBe('strength-unknown');
  });

  it('an RxNorm code whose display names another strength is flagged', () => {
    const s = statement(rx('312617', 'prednisone 10 MG Oral Tablet'), [dosage({ dose: tabs(1), ...daily })], jan);
    expect(codes(exposure([s], '2025-01-01'))).toContain('code-display-conflict');
  });
});

describe('unknown is never 0 mg', () => {
  it('a statement without a dose: total unknown, issue says why', () => {
    const r = exposure([statement(PRED, [{ text: 'take as directed' }], jan)], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]!.mg).toBeNull();
    expect(r.issues.find((i) => i.code === 'no-dose')!.message).toContain('take as directed');
  });

  it('with one quantified record the total is a lower bound', () => {
    const ok = statement(PRED, [dosage({ dose: mg(10), ...daily })], jan);
    const bad = statement(PRED, [{ text: 'as directed' }], jan);
    const r = exposure([ok, bad], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    expect(r.cumulativeIsLowerBound).toBe(true);
  });

  it('weight-based doses need a weight and are reported', () => {
    const s = statement(
      MP,
      [dosage({ dose: { value: 30, unit: 'mg/kg', system: UCUM, code: 'mg/kg' } as never, ...daily })],
      jan,
    );
    expect(codes(exposure([s], '2025-01-01'))).toContain('weight-based-dose');
  });

  it('an unresolvable medicationReference is reported', () => {
    const s = statement(undefined, [dosage({ dose: mg(10), ...daily })], {
      ...jan,
      medicationReference: { reference: 'Medication/missing' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(codes(r)).toContain('medication-unresolved');
  });

  it('no medication records at all is a known 0', () => {
    expect(exposure([], '2025-01-01').cumulativeMg).toBe(0);
  });
});

describe('configuration', () => {
  it('defaults follow the README', () => {
    const c = resolveExposureConfig();
    expect(c.thresholdMg).toBe(3000);
    expect(c.equivalentToPrednisolone5mg.methylprednisolone).toBe(4);
    expect(c.routePolicy.inhaled).toBe('exclude-flag');
  });

  it('bad values produce messages a person can act on', () => {
    try {
      resolveExposureConfig({ thresholdMg: -5, routePolicy: { oral: 'maybe', teleport: 'count' }, rangePolicy: 'max' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const text = (e as Error).message;
      expect(text).toContain('thresholdMg must be greater than 0 mg');
      expect(text).toContain('route policy "maybe" is not one of count, count-flag, exclude, exclude-flag');
      expect(text).toContain('rangePolicy must be "upper" or "mid"');
    }
  });

  it('dexamethasone at 0.6 mg (US tables) changes the total', () => {
    const s = statement(rx('3264', 'dexamethasone'), [dosage({ dose: mg(6), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-01' },
    });
    expect(exposure([s], '2025-01-01', { equivalentToPrednisolone5mg: { dexamethasone: 0.6 } }).cumulativeMg).toBe(50);
  });
});

describe('absurd values are reported, not computed', () => {
  it('a dose of 1.8e308 mg (found by the CDS fuzz) is not counted and cannot make the total Infinity', () => {
    const r = computeExposure({
      resources: [
        {
          resourceType: 'MedicationStatement',
          id: 'huge',
          status: 'active',
          subject: { reference: 'Patient/p' },
          effectivePeriod: { start: '2026-01-01', end: '2026-01-10' },
          medicationCodeableConcept: {
            coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8638', display: 'prednisolone' }],
          },
          dosage: [
            {
              timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
              doseAndRate: [
                {
                  doseQuantity: {
                    value: 1.7976931348623137e308,
                    unit: 'mg',
                    system: 'http://unitsofmeasure.org',
                    code: 'mg',
                  },
                },
              ],
            },
          ],
        } as Resource,
      ],
      patient: 'p',
      asOf: '2026-02-01',
    });
    expect(r.cumulativeMg).toBeNull();
    expect(r.issues.map((i) => i.code)).toContain('dose-implausible');
  });
});

describe('timings and dates no regimen can have are reported, not computed', () => {
  const issue = (r: ReturnType<typeof exposure>, code: string) => r.issues.find((i) => i.code === code);
  /** The accounting invariant for one record: a contribution, and an error issue naming why it is short. */
  const accountedFor = (r: ReturnType<typeof exposure>, source: string, code: string) => {
    expect(r.contributions.map((c) => c.source)).toContain(source);
    expect(r.issues).toContainEqual(expect.objectContaining({ source, code, severity: 'error' }));
  };

  it('a dayOfWeek code that is not mon…sun is named; the known days are counted, the total a lower bound', () => {
    const d = dosage({ dose: mg(10), start: '2024-01-01', end: '2024-01-14' });
    d.timing!.repeat!.dayOfWeek = ['mon', 'funday' as 'mon'];
    const s = statement(PRED, [d], { effectivePeriod: { start: '2024-01-01', end: '2024-01-14' } });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(20); // Mondays 1 and 8 January
    expect(r.cumulativeIsLowerBound).toBe(true);
    accountedFor(r, `MedicationStatement/${s.id}`, 'unknown-day-of-week');
    expect(issue(r, 'unknown-day-of-week')!.message).toBe(
      'timing.repeat.dayOfWeek "funday" is not a day of the week (mon … sun); the doses of that day are not counted',
    );
  });

  it('only unknown dayOfWeek codes: nothing can be placed, the record is unquantified (not 0 mg)', () => {
    const d = dosage({ dose: mg(10), start: '2024-01-01', end: '2024-01-14' });
    d.timing!.repeat!.dayOfWeek = ['Monday' as 'mon', 'THU' as 'mon'];
    const s = statement(PRED, [d], { effectivePeriod: { start: '2024-01-01', end: '2024-01-14' } });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]).toMatchObject({ status: 'unquantified', mg: null });
    accountedFor(r, `MedicationStatement/${s.id}`, 'unknown-day-of-week');
    expect(issue(r, 'unknown-day-of-week')!.message).toContain('"Monday", "THU" are not a day of the week');
  });

  it.each([
    ['101 a day', { freq: 101, period: 1, periodUnit: 'd' as const }],
    ['every minute', { freq: 1, period: 1, periodUnit: 'min' as 'd' }],
    ['every second', { freq: 1, period: 1, periodUnit: 's' as 'd' }],
    ['period 0 (no interval at all)', { freq: 1, period: 0, periodUnit: 'd' as const }],
    ['1,000 a week on Mondays only', { freq: 1000, period: 1, periodUnit: 'wk' as const }],
  ])('more than 100 doses a day (%s): reported, the record not computed', (_what, timing) => {
    const s = statement(PRED, [dosage({ dose: mg(5), ...timing })], jan);
    const counted = statement(PRED, [dosage({ dose: mg(10), ...daily })], jan);
    const r = exposure([s, counted], '2025-01-01');
    expect(r.cumulativeMg).toBe(100); // only the other record: 10 × 10 mg
    expect(r.cumulativeIsLowerBound).toBe(true);
    expect(r.contributions.find((c) => c.source === `MedicationStatement/${s.id}`)).toMatchObject({
      status: 'unquantified',
      mg: null,
    });
    accountedFor(r, `MedicationStatement/${s.id}`, 'frequency-implausible');
    expect(issue(r, 'frequency-implausible')!.message).toMatch(/a day \(more than 100\): not a plausible regimen/);
  });

  it('100 doses a day is the most still counted; a frequency range is judged at the doses it lays', () => {
    const s = statement(PRED, [dosage({ dose: mg(1), freq: 100, period: 1, periodUnit: 'd' })], jan);
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(1000);
    const ranged = dosage({ dose: mg(1), freq: 50, period: 1, periodUnit: 'd' });
    ranged.timing!.repeat!.frequencyMax = 500;
    const mid = exposure([statement(PRED, [ranged], jan)], '2025-01-01', { rangePolicy: 'mid' });
    expect(mid.cumulativeMg).toBeNull();
    expect(mid.issues.map((i) => i.code)).toContain('frequency-implausible');
  });

  it.each([
    ['effectivePeriod.start 0000-01-01', { effectivePeriod: { start: '0000-01-01', end: '2024-01-10' } }],
    ['effectivePeriod.start 1899-12-31', { effectivePeriod: { start: '1899-12-31', end: '2024-01-10' } }],
    ['effectivePeriod.end 0024-01-10', { effectivePeriod: { start: '2024-01-01', end: '0024-01-10' } }],
    ['effectiveDateTime 1850-06-01', { status: 'active' as const, effectiveDateTime: '1850-06-01' }],
  ])('a record dated before 1900 (%s): reported, not computed', (_what, extra) => {
    const s = statement(PRED, [dosage({ dose: mg(10), ...daily })], extra);
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]).toMatchObject({ status: 'unquantified', mg: null, days: 0 });
    accountedFor(r, `MedicationStatement/${s.id}`, 'date-implausible');
    expect(issue(r, 'date-implausible')!.message).toMatch(
      /before 1900-01-01, not a plausible date; the record is not counted$/,
    );
  });

  it('dosage bounds, an order and an administration dated before 1900 are reported too', () => {
    const bounded = statement(PRED, [dosage({ dose: mg(10), ...daily, start: '0202-01-01', end: '2024-01-05' })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
    });
    const order = request(PRED, [dosage({ dose: mg(10), ...daily, count: 5 })], { authoredOn: '1066-10-14' });
    const given = administration(MP, '1899-01-01T10:00:00Z', mg(1000));
    const ok = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
      effectivePeriod: { start: '1900-01-01', end: '1900-01-02' },
    });
    const r = exposure([bounded, order, given, ok], '2025-01-01');
    expect(r.cumulativeMg).toBe(20); // 1900-01-01 is a date: the last record counts
    expect(r.cumulativeIsLowerBound).toBe(true);
    accountedFor(r, `MedicationStatement/${bounded.id}`, 'date-implausible');
    accountedFor(r, `MedicationRequest/${order.id}`, 'date-implausible');
    accountedFor(r, `MedicationAdministration/${given.id}`, 'date-implausible');
    expect(r.issues.find((i) => i.source === `MedicationStatement/${bounded.id}`)!.message).toContain(
      'dosage[0].timing.repeat.boundsPeriod.start 0202-01-01',
    );
    expect(r.issues.find((i) => i.source === `MedicationRequest/${order.id}`)!.message).toContain(
      'authoredOn 1066-10-14',
    );
  });
});
