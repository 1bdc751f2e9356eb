/**
 * Hand-worked regimens. Each comment shows the arithmetic the expected number comes from.
 */
import { describe, expect, it } from 'vitest';
import { computeExposure } from '../../src/exposure/index.ts';
import {
  administration,
  DEX,
  daily,
  dosage,
  exposure,
  IV,
  MP,
  mg,
  PRED,
  PREDNISONE,
  request,
  rx,
  SCT,
  statement,
  tabs,
  UCUM,
} from './builders.ts';

describe('hand-worked regimens (prednisolone-equivalent mg)', () => {
  it('1. 20 mg daily 1–31 Jan: 31 × 20 = 620', () => {
    const s = statement(PRED, [dosage({ dose: mg(20), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-31' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(620);
  });

  it('2. 10 mg twice daily for 28 days: 2 × 10 × 28 = 560, with a readable derivation', () => {
    const s = statement(PRED, [dosage({ dose: mg(10), freq: 2, period: 1, periodUnit: 'd' })], {
      effectivePeriod: { start: '2024-02-01', end: '2024-02-28' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(560);
    expect(r.contributions[0]!.derivation).toContain('prednisolone oral: 2 × 10 mg/day × 28 d = 560 mg');
  });

  it('3. every other day (frequency 1, period 2 d), 1–10 Mar: days 1,3,5,7,9 → 5 × 20 = 100', () => {
    const s = statement(PRED, [dosage({ dose: mg(20), freq: 1, period: 2, periodUnit: 'd' })], {
      effectivePeriod: { start: '2024-03-01', end: '2024-03-10' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    expect(r.timeline.map((t) => t.date)).toEqual([
      '2024-03-01',
      '2024-03-03',
      '2024-03-05',
      '2024-03-07',
      '2024-03-09',
    ]);
  });

  it('4. QOD as timing.code gives the same 100 mg', () => {
    const s = statement(PRED, [dosage({ dose: mg(20), code: 'QOD' })], {
      effectivePeriod: { start: '2024-03-01', end: '2024-03-10' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(100);
  });

  it('5. weekly IV pulse methylprednisolone 500 mg, 1–29 Jan: 5 doses × 500 × 1.25 = 3125', () => {
    const s = statement(MP, [dosage({ dose: mg(500), freq: 1, period: 1, periodUnit: 'wk', route: IV })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-29' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(3125);
    expect(r.contributions[0]!.ingredientMg).toBe(2500);
  });

  it('6. three IV methylprednisolone 1 g administrations: 3000 × 1.25 = 3750', () => {
    const g = { value: 1, unit: 'g', system: UCUM, code: 'g' };
    const rs = ['2024-05-01', '2024-05-02', '2024-05-03'].map((d) => administration(MP, `${d}T09:00:00+02:00`, g));
    const r = exposure(rs, '2025-01-01');
    expect(r.cumulativeMg).toBe(3750);
    expect(r.threshold.crossedOn).toBe('2024-05-03');
  });

  it('7. taper by boundsDuration: 60, 40, 20 mg × 14 d each → 14 × 120 = 1680', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(60), ...daily, duration: { value: 14, unit: 'd' } }),
        dosage({ sequence: 2, dose: mg(40), ...daily, duration: { value: 14, unit: 'd' } }),
        dosage({ sequence: 3, dose: mg(20), ...daily, duration: { value: 2, unit: 'wk' } }),
      ],
      { effectivePeriod: { start: '2024-01-01' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(1680);
    expect(r.timeline.at(-1)!.date).toBe('2024-02-11'); // 42 days from 1 Jan
    expect(r.issues.filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('8. taper by boundsPeriod, dosages listed out of order: sorted by sequence', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 2, dose: mg(30), ...daily, start: '2024-01-11', end: '2024-01-20' }),
        dosage({ sequence: 1, dose: mg(40), ...daily, start: '2024-01-01', end: '2024-01-10' }),
        dosage({ sequence: 3, dose: mg(7.5), ...daily, start: '2024-01-21', end: '2024-02-29' }),
      ],
      { effectivePeriod: { start: '2024-01-01', end: '2024-02-29' } },
    );
    // 10 × 40 + 10 × 30 + 40 × 7.5 (21 Jan – 29 Feb 2024, leap year) = 400 + 300 + 300
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(1000);
  });

  it('9. open-ended active therapy counts through the as-of day inclusive', () => {
    const s = statement(PREDNISONE, [dosage({ dose: mg(10), ...daily })], {
      status: 'active',
      effectivePeriod: { start: '2024-06-01' },
    });
    const r = exposure([s], '2024-06-30');
    expect(r.cumulativeMg).toBe(300);
    expect(r.currentDailyMg).toBe(10);
    expect(r.issues.map((i) => i.code)).toContain('open-ended-through-as-of');
  });

  it('10. as-of truncation: nothing after the as-of day counts (15 × 20 = 300)', () => {
    const s = statement(PRED, [dosage({ dose: mg(20), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-31' },
    });
    const r = exposure([s], '2024-01-15');
    expect(r.cumulativeMg).toBe(300);
    expect(r.currentDailyMg).toBe(20);
  });

  it('11. a regimen starting after the as-of day counts 0', () => {
    const s = statement(PRED, [dosage({ dose: mg(20), ...daily })], {
      effectivePeriod: { start: '2024-02-01', end: '2024-02-10' },
    });
    expect(exposure([s], '2024-01-31').cumulativeMg).toBe(0);
  });

  it('12. tablets × RxNorm strength: 3 × prednisone 5 MG tablet daily × 10 d = 150', () => {
    const s = statement(rx('312617', 'predniSONE 5 MG Oral Tablet'), [dosage({ dose: tabs(3), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(150);
    expect(r.contributions[0]!.derivation).toContain('3 tablet × 5 mg');
  });

  it('13. CDS Hooks Sandbox pill doses: 2 {pill} of 312615 (prednisone 20 MG) daily × 5 d = 200', () => {
    const pill = { value: 2, unit: 'pill', system: UCUM, code: '{pill}' };
    const r0 = request(rx('312615'), [
      { ...dosage({ ...daily, start: '2024-01-01', end: '2024-01-05' }), doseAndRate: [{ doseQuantity: pill }] },
    ]);
    expect(exposure([r0], '2025-01-01').cumulativeMg).toBe(200);
  });

  it('14. millilitres × mg/mL from the RxNorm name: 10 mL prednisolone 3 MG/ML daily × 7 d = 210', () => {
    const ml = { value: 10, unit: 'mL', system: UCUM, code: 'mL' };
    const s = statement(
      rx('999001', 'prednisolone 3 MG/ML Oral Solution'),
      [{ ...dosage({ ...daily }), doseAndRate: [{ doseQuantity: ml }] }],
      { effectivePeriod: { start: '2024-01-01', end: '2024-01-07' } },
    );
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(210);
  });

  it('15. dose in g: methylprednisolone 1 g IV once = 1000 × 1.25 = 1250', () => {
    const a = administration(MP, '2024-03-01', { value: 1, unit: 'g', system: UCUM, code: 'g' });
    expect(exposure([a], '2025-01-01').cumulativeMg).toBe(1250);
  });

  it('16. dose in µg: dexamethasone 750 ug daily × 10 d = 7.5 mg × 5/0.75 = 50', () => {
    const s = statement(
      DEX,
      [dosage({ dose: { value: 750, unit: 'µg', system: UCUM, code: 'ug' } as never, ...daily })],
      { effectivePeriod: { start: '2024-01-01', end: '2024-01-10' } },
    );
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(50);
  });

  it('17. dexamethasone 4 mg daily × 3 d = 12 mg × 6.667 = 80', () => {
    const s = statement(DEX, [dosage({ dose: mg(4), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-03' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(80);
  });

  it('18. hydrocortisone 20 mg twice daily × 10 d = 400 × 0.25 = 100', () => {
    const s = statement(rx('5492', 'hydrocortisone'), [dosage({ dose: mg(20), code: 'BID' })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(100);
  });

  it('19. deflazacort 6 mg daily × 30 d = 180 × 5/6 = 150', () => {
    const s = statement(rx('22396', 'deflazacort'), [dosage({ dose: mg(6), ...daily })], {
      effectivePeriod: { start: '2024-04-01', end: '2024-04-30' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(150);
  });

  it('20. switch of product: prednisone 40 mg × 10 d, then methylprednisolone 32 mg × 10 d = 400 + 400', () => {
    const a = statement(PREDNISONE, [dosage({ dose: mg(40), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
    });
    const b = statement(MP, [dosage({ dose: mg(32), ...daily })], {
      effectivePeriod: { start: '2024-01-11', end: '2024-01-20' },
    });
    const r = exposure([a, b], '2025-01-01');
    expect(r.cumulativeMg).toBe(800);
    expect(r.timeline.find((t) => t.date === '2024-01-11')!.mg).toBe(40);
  });

  it('21. overlapping distinct orders add up: 10 mg + 5 mg on the same 10 days = 150', () => {
    const a = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
    });
    const b = statement(PRED, [dosage({ dose: mg(5), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
    });
    expect(exposure([a, b], '2025-01-01').cumulativeMg).toBe(150);
  });

  it('22. every 8 hours for 2 days: 6 × hydrocortisone 50 mg = 300 × 0.25 = 75', () => {
    const s = statement(
      rx('5492', 'hydrocortisone'),
      [dosage({ dose: mg(50), freq: 1, period: 8, periodUnit: 'h', route: IV })],
      { effectivePeriod: { start: '2024-01-01', end: '2024-01-02' } },
    );
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(75);
  });

  it('23. three times a week for two weeks: 6 × 10 = 60, on days 1, 3, 5 of each week', () => {
    const s = statement(PRED, [dosage({ dose: mg(10), freq: 3, period: 1, periodUnit: 'wk' })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-14' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(60);
    expect(r.timeline.map((t) => t.date.slice(8))).toEqual(['01', '03', '05', '08', '10', '12']);
  });

  it('24. dayOfWeek mon + thu from Monday 1 Jan to 14 Jan 2024: 1, 4, 8, 11 → 4 × 10 = 40', () => {
    const d = dosage({ dose: mg(10), start: '2024-01-01', end: '2024-01-14' });
    d.timing!.repeat!.dayOfWeek = ['mon', 'thu'];
    const s = statement(PRED, [d], { effectivePeriod: { start: '2024-01-01', end: '2024-01-14' } });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(40);
    expect(r.timeline.map((t) => t.date.slice(8))).toEqual(['01', '04', '08', '11']);
  });

  it('25. IV pulse ordered with count 3: 3 × 1000 × 1.25 = 3750, then nothing more', () => {
    const r0 = request(MP, [dosage({ dose: mg(1000), ...daily, count: 3, route: IV })], { authoredOn: '2024-02-01' });
    const r = exposure([r0], '2024-12-31');
    expect(r.cumulativeMg).toBe(3750);
    expect(r.timeline.map((t) => t.date)).toEqual(['2024-02-01', '2024-02-02', '2024-02-03']);
    expect(r.currentDailyMg).toBe(0);
  });

  it('26. monthly triamcinolone 40 mg IM on the 15th, Jan–Apr: 4 × 40 × 1.25 = 200', () => {
    const IM = { coding: [{ system: SCT, code: '78421000' }] };
    const s = statement(
      rx('10759', 'triamcinolone'),
      [dosage({ dose: mg(40), freq: 1, period: 1, periodUnit: 'mo', route: IM })],
      { effectivePeriod: { start: '2024-01-15', end: '2024-04-30' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(200);
    expect(r.timeline.map((t) => t.date)).toEqual(['2024-01-15', '2024-02-15', '2024-03-15', '2024-04-15']);
  });

  it('27. dose range 10–20 mg daily × 10 d: upper bound 200 (default), midpoint 150, flagged', () => {
    const d = dosage({ ...daily });
    d.doseAndRate = [{ doseRange: { low: mg(10), high: mg(20) } }];
    const s = statement(PRED, [d], { effectivePeriod: { start: '2024-01-01', end: '2024-01-10' } });
    const up = exposure([s], '2025-01-01');
    expect(up.cumulativeMg).toBe(200);
    expect(up.issues.map((i) => i.code)).toContain('dose-range');
    expect(exposure([s], '2025-01-01', { rangePolicy: 'mid' }).cumulativeMg).toBe(150);
  });

  it('28. request supply: 30 d expected supply, 1 repeat → 60 d × 10 mg = 600', () => {
    const r0 = request(PRED, [dosage({ dose: mg(10), ...daily })], {
      status: 'completed',
      authoredOn: '2024-01-01',
      dispenseRequest: {
        expectedSupplyDuration: { value: 30, unit: 'days', system: UCUM, code: 'd' },
        numberOfRepeatsAllowed: 1,
      },
    });
    const r = exposure([r0], '2025-01-01');
    expect(r.cumulativeMg).toBe(600);
    expect(r.timeline.at(-1)!.date).toBe('2024-02-29');
  });

  it('29. request supply from quantity: 30 × prednisone 5 mg tablets, 2 tablets a day → 15 d × 10 mg = 150', () => {
    const r0 = request(rx('312617', 'predniSONE 5 MG Oral Tablet'), [dosage({ dose: tabs(2), ...daily })], {
      status: 'completed',
      authoredOn: '2024-01-01',
      dispenseRequest: { quantity: { value: 30, unit: 'tablet', system: UCUM, code: '{tbl}' } },
    });
    expect(exposure([r0], '2025-01-01').cumulativeMg).toBe(150);
  });

  it('30. concurrent dosages in one step (same sequence): 10 mg morning + 5 mg evening × 10 d = 150', () => {
    const s = statement(
      PRED,
      [dosage({ sequence: 1, dose: mg(10), ...daily }), dosage({ sequence: 1, dose: mg(5), ...daily })],
      { effectivePeriod: { start: '2024-01-01', end: '2024-01-10' } },
    );
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(150);
  });

  it('31. infusion rate × duration: hydrocortisone 10 mg/h for 10 h = 100 × 0.25 = 25', () => {
    const a = administration(rx('5492', 'hydrocortisone'), '2024-01-01', mg(0), {
      effectiveDateTime: undefined,
      effectivePeriod: { start: '2024-01-01T08:00:00Z', end: '2024-01-01T18:00:00Z' },
      dosage: { route: IV, rateQuantity: { value: 10, unit: 'mg/h', system: UCUM, code: 'mg/h' } },
    });
    expect(exposure([a], '2025-01-01').cumulativeMg).toBe(25);
  });

  it('32. active statement with only effectiveDateTime runs from that day through the as-of day', () => {
    const s = statement(PRED, [dosage({ dose: mg(5), ...daily })], {
      status: 'active',
      effectiveDateTime: '2024-03-01',
    });
    expect(exposure([s], '2024-03-10').cumulativeMg).toBe(50);
  });

  it('33. betamethasone 0.6 mg daily × 5 d = 3 mg × 6.667 = 20', () => {
    const s = statement(rx('1514', 'betamethasone'), [dosage({ dose: mg(0.6), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-05' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(20);
  });

  it('34. cortisone 25 mg daily × 4 d = 100 × 0.2 = 20', () => {
    const s = statement(rx('2878', 'cortisone'), [dosage({ dose: mg(25), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-04' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(20);
  });

  it('35. threshold: 100 mg/day from 1 Jan reaches 3000 mg on 30 Jan; projected from 20 Jan', () => {
    const s = statement(PRED, [dosage({ dose: mg(100), ...daily })], {
      status: 'active',
      effectivePeriod: { start: '2024-01-01' },
    });
    const before = exposure([s], '2024-01-20');
    expect(before.cumulativeMg).toBe(2000);
    expect(before.threshold).toEqual({ mg: 3000, crossedOn: null, projectedOn: '2024-01-30' });
    const after = exposure([s], '2024-02-15');
    expect(after.cumulativeMg).toBe(4600);
    expect(after.threshold.crossedOn).toBe('2024-01-30');
    expect(after.threshold.projectedOn).toBeNull();
  });

  it('36. taper across February of a leap year by calendar months: 1 mo from 15 Jan ends 14 Feb', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(20), ...daily, duration: { value: 1, unit: 'mo' } }),
        dosage({ sequence: 2, dose: mg(10), ...daily, duration: { value: 1, unit: 'mo' } }),
      ],
      { effectivePeriod: { start: '2024-01-15' } },
    );
    // 15 Jan–14 Feb = 31 d × 20 = 620; 15 Feb–14 Mar = 29 d × 10 = 290
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(910);
  });

  it('37. contained Medication with ingredient strength: 2 × 5 mg tablets daily × 10 d = 100', () => {
    const s = statement(undefined, [dosage({ dose: tabs(2), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
      medicationReference: { reference: '#m1' },
      contained: [
        {
          resourceType: 'Medication',
          id: 'm1',
          code: { text: 'Prednisolone tablets' },
          ingredient: [
            {
              itemCodeableConcept: { coding: [{ system: SCT, code: '116601002', display: 'Prednisolone' }] },
              strength: { numerator: mg(5), denominator: { value: 1, unit: 'tablet', system: UCUM, code: '{tbl}' } },
            },
          ],
        },
      ],
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(100);
    expect(r.issues.filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('38. referenced Medication in the same bundle (ATC coded, strength 4 mg/tablet): 2 × 4 × 10 × 1.25 = 100', () => {
    const med = {
      resourceType: 'Medication' as const,
      id: 'med-mp',
      code: { coding: [{ system: 'http://www.whocc.no/atc', code: 'H02AB04', display: 'methylprednisolone' }] },
      ingredient: [
        {
          itemCodeableConcept: { text: 'methylprednisolone' },
          strength: { numerator: mg(4), denominator: { value: 1, unit: 'tablet' } },
        },
      ],
    };
    const s = statement(undefined, [dosage({ dose: tabs(2), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-10' },
      medicationReference: { reference: 'Medication/med-mp' },
    });
    expect(exposure([med, s], '2025-01-01').cumulativeMg).toBe(100);
  });

  it('39. SNOMED CT substance code is recognised (prednisone 116602009)', () => {
    const s = statement({ coding: [{ system: SCT, code: '116602009' }] }, [dosage({ dose: mg(10), ...daily })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-03' },
    });
    expect(exposure([s], '2025-01-01').cumulativeMg).toBe(30);
  });

  it('40. a long realistic course: 60 mg × 4 wk, −10 mg every 2 wk to 10 mg, then 5 mg maintenance (active)', () => {
    const steps = [
      dosage({ sequence: 1, dose: mg(60), ...daily, duration: { value: 4, unit: 'wk' } }), // 28 × 60 = 1680
      dosage({ sequence: 2, dose: mg(50), ...daily, duration: { value: 2, unit: 'wk' } }), // 14 × 50 = 700
      dosage({ sequence: 3, dose: mg(40), ...daily, duration: { value: 2, unit: 'wk' } }), // 560
      dosage({ sequence: 4, dose: mg(30), ...daily, duration: { value: 2, unit: 'wk' } }), // 420
      dosage({ sequence: 5, dose: mg(20), ...daily, duration: { value: 2, unit: 'wk' } }), // 280
      dosage({ sequence: 6, dose: mg(10), ...daily, duration: { value: 2, unit: 'wk' } }), // 140
      dosage({ sequence: 7, dose: mg(5), ...daily }), // open, through as-of
    ];
    const s = statement(PRED, steps, { status: 'active', effectivePeriod: { start: '2024-01-01' } });
    // Steps 1–6 cover 98 days: 1 Jan – 7 Apr 2024 (3780 mg). 8 Apr – 17 Apr = 10 d × 5 = 50.
    const r = exposure([s], '2024-04-17');
    expect(r.cumulativeMg).toBe(3830);
    expect(r.currentDailyMg).toBe(5);
    // 1680 + 700 = 2380 by day 42; 3000 reached on day 42 + ceil(620 / 40) = day 58 = 27 Feb
    expect(r.threshold.crossedOn).toBe('2024-02-27');
  });

  it('41. without the timeline (CDS Hooks answers) the summary is the same, crossing and first day included', () => {
    const steps = [
      dosage({ sequence: 1, dose: mg(40), ...daily, duration: { value: 10, unit: 'd' } }),
      dosage({ sequence: 2, dose: mg(10), ...daily }),
    ];
    const s = statement(PRED, steps, { status: 'active', effectivePeriod: { start: '2024-03-05' } });
    const full = computeExposure({ resources: [s], asOf: '2025-01-10', patient: 'p1' });
    const lean = computeExposure({ resources: [s], asOf: '2025-01-10', patient: 'p1', timeline: false });
    expect(full.timeline.length).toBeGreaterThan(300);
    expect(lean.timeline).toEqual([]);
    expect({ ...lean, timeline: full.timeline }).toEqual(full);
    expect(lean.firstExposure).toBe('2024-03-05');
    // 400 by 14 Mar, then 10 mg/day: 3000 after 260 more days = 29 Nov 2024
    expect(lean.threshold.crossedOn).toBe('2024-11-29');
  });
});
