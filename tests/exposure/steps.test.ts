/**
 * Taper steps, record windows, the current dose and the projection: hand-worked cases for the rules in
 * plan.ts, steps.ts, schedule.ts and engine.ts. Each comment shows the arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { parseFhirDate } from '../../src/exposure/dates.ts';
import { daily, dosage, exposure, mg, PRED, request, rx, statement, tabs, UCUM } from './builders.ts';

const codes = (r: ReturnType<typeof exposure>) => r.issues.map((i) => i.code);

describe('steps of unknown length', () => {
  it('step 2 of 3 without bounds: step 1 counts (lower bound), step 3 with its own start date is still placed', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(40), ...daily, duration: { value: 10, unit: 'd' } }), // 1–10 Jan: 400
        dosage({ sequence: 2, dose: mg(30), ...daily }), // length unknown: not counted
        dosage({ sequence: 3, dose: mg(10), ...daily, start: '2024-02-01', end: '2024-02-05' }), // 5 × 10 = 50
      ],
      { effectivePeriod: { start: '2024-01-01' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(450);
    expect(r.cumulativeIsLowerBound).toBe(true);
    expect(r.timeline.map((t) => t.date)).not.toContain('2024-01-11');
    expect(r.issues.find((i) => i.code === 'step-without-bounds')!.message).toContain('step 2 has no end date');
  });

  it('a step whose dose cannot be read still takes its days: the next step starts after it (was laid from day 1)', () => {
    const s = statement(
      PRED,
      [
        {
          ...dosage({ sequence: 1, ...daily, duration: { value: 10, unit: 'd' } }),
          doseAndRate: [{ doseQuantity: { value: 2, unit: 'spoonfuls' } }],
        },
        dosage({ sequence: 2, dose: mg(10), ...daily, duration: { value: 10, unit: 'd' } }),
      ],
      { effectivePeriod: { start: '2024-01-01' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(100); // 10 × 10 on 11–20 January
    expect(r.firstExposure).toBe('2024-01-11');
    expect(r.cumulativeIsLowerBound).toBe(true);
  });
});

describe('counts, change-over days and record ends', () => {
  it('a count hands over where its next dose would fall: 4 weekly pulses, then daily from day 29 (was day 23)', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(500), freq: 1, period: 1, periodUnit: 'wk', count: 4 }), // 1, 8, 15, 22 Jan
        dosage({ sequence: 2, dose: mg(10), ...daily, duration: { value: 3, unit: 'd' } }), // 29–31 Jan
      ],
      { effectivePeriod: { start: '2024-01-01' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(2030);
    expect(r.timeline.map((t) => t.date.slice(8))).toEqual(['01', '08', '15', '22', '29', '30', '31']);
  });

  it('date steps that share their change-over day count it once, for the later step: 9 × 40 + 11 × 20 = 580', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(40), ...daily, start: '2024-01-01', end: '2024-01-10' }),
        dosage({ sequence: 2, dose: mg(20), ...daily, start: '2024-01-10', end: '2024-01-20' }),
      ],
      { effectivePeriod: { start: '2024-01-01', end: '2024-01-20' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(580);
    expect(r.timeline.find((t) => t.date === '2024-01-10')!.mg).toBe(20);
  });

  it('dosages without a sequence after numbered ones are each a step of their own, in the order written', () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(30), ...daily, duration: { value: 10, unit: 'd' } }), // 1–10 Jan: 300
        dosage({ dose: mg(20), ...daily, duration: { value: 5, unit: 'd' } }), // 11–15 Jan: 100
        dosage({ dose: mg(10), ...daily, duration: { value: 5, unit: 'd' } }), // 16–20 Jan: 50
      ],
      { effectivePeriod: { start: '2024-01-01' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(450);
    expect(r.timeline.at(-1)!.date).toBe('2024-01-20');
  });

  it('an order without a dispensed supply counts nothing after its validity end, whatever its bounds say', () => {
    const r0 = request(PRED, [dosage({ dose: mg(10), ...daily, start: '2024-01-01', end: '2024-03-31' })], {
      status: 'completed',
      dispenseRequest: { validityPeriod: { start: '2024-01-01', end: '2024-01-31' } },
    });
    const r = exposure([r0], '2025-01-01');
    expect(r.cumulativeMg).toBe(310); // 31 × 10, not 91 × 10
    expect(codes(r)).toContain('bounds-after-validity');
  });

  it('a stopped statement with an open period is reported as stopped without an end', () => {
    const s = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
      status: 'stopped',
      effectivePeriod: { start: '2024-01-01' },
    });
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(codes(r)).toEqual(['stopped-without-end']);
  });

  it('a dispensed quantity lasts as long as the doses laid, frequency-range scale included (was 15 d × 20 = 300)', () => {
    const d = dosage({ dose: tabs(2), freq: 1, period: 1, periodUnit: 'd' });
    d.timing!.repeat!.frequencyMax = 3; // midpoint: 2 doses a day of 2 tablets
    const r0 = request(rx('312617', 'predniSONE 5 MG Oral Tablet'), [d], {
      status: 'completed',
      authoredOn: '2024-01-01',
      dispenseRequest: { quantity: { value: 30, unit: 'tablet', system: UCUM, code: '{tbl}' } },
    });
    // 30 tablets / 4 a day = 7.5 → 8 days × 2 × 10 mg = 160
    expect(exposure([r0], '2025-01-01', { rangePolicy: 'mid' }).cumulativeMg).toBe(160);
    const inMg = request(
      rx('312617', 'predniSONE 5 MG Oral Tablet'),
      [{ ...d, doseAndRate: [{ doseQuantity: mg(10) }] }],
      {
        status: 'completed',
        authoredOn: '2024-01-01',
        dispenseRequest: { quantity: { value: 30, unit: 'tablet', system: UCUM, code: '{tbl}' } },
      },
    );
    // 150 mg dispensed / 20 mg a day = 7.5 → 8 days × 20 = 160
    expect(exposure([inMg], '2025-01-01', { rangePolicy: 'mid' }).cumulativeMg).toBe(160);
  });
});

describe('the current daily dose', () => {
  it("is unknown, not the other records' sum, when a record taken on the as-of day has no dose", () => {
    const ok = statement(PRED, [dosage({ dose: mg(10), ...daily })], {
      status: 'active',
      effectivePeriod: { start: '2024-06-01' },
    });
    const noDose = statement(PRED, [{ text: 'as directed' }], {
      effectivePeriod: { start: '2024-06-30', end: '2024-06-30' },
    });
    const r = exposure([ok, noDose], '2024-06-30');
    expect(r.cumulativeMg).toBe(300);
    expect(r.cumulativeIsLowerBound).toBe(true);
    expect(r.currentDailyMg).toBeNull();
    expect(r.projectedAtCurrentDoseOn).toBeNull();
    // A record that ended before the as-of day leaves today's dose known.
    expect(exposure([ok, noDose], '2024-07-10').currentDailyMg).toBe(10);
  });

  it('is unknown for an active record whose medication cannot be identified', () => {
    const ok = statement(PRED, [dosage({ dose: mg(5), ...daily })], {
      status: 'active',
      effectivePeriod: { start: '2024-06-01' },
    });
    const unknownDrug = statement({ text: 'the usual tablets' }, [dosage({ dose: mg(5), ...daily })], {
      status: 'active',
      effectivePeriod: { start: '2024-06-01' },
      medicationReference: { reference: 'Medication/missing' },
      medicationCodeableConcept: undefined,
    });
    const r = exposure([ok, unknownDrug], '2024-06-10');
    expect(r.cumulativeMg).toBe(50);
    expect(r.currentDailyMg).toBeNull();
  });
});

describe('the projected threshold day follows the recorded schedule', () => {
  it("future taper steps: 100 mg × 20 d, then 50 mg × 40 d — 3000 mg on day 40, not day 30 at today's dose", () => {
    const s = statement(
      PRED,
      [
        dosage({ sequence: 1, dose: mg(100), ...daily, duration: { value: 20, unit: 'd' } }),
        dosage({ sequence: 2, dose: mg(50), ...daily, duration: { value: 40, unit: 'd' } }),
      ],
      { status: 'active', effectivePeriod: { start: '2024-01-01' } },
    );
    const r = exposure([s], '2024-01-10');
    expect(r.cumulativeMg).toBe(1000);
    // 2000 by 20 Jan, then 20 days × 50 → 9 Feb
    expect(r.threshold.projectedOn).toBe('2024-02-09');
    // 2000 mg more at 100 mg/day → 30 Jan
    expect(r.projectedAtCurrentDoseOn).toBe('2024-01-30');
  });

  it('looks at most ten years ahead, and counts taken from the data never drive a loop', () => {
    const slow = statement(PRED, [dosage({ dose: mg(0.5), ...daily })], {
      status: 'active',
      effectivePeriod: { start: '2024-01-01' },
    });
    const huge = request(PRED, [dosage({ dose: mg(0.001), freq: 1, period: 1, periodUnit: 'wk', count: 1e12 })], {
      authoredOn: '2024-01-01',
    });
    // The densest regimen still counted: 100 doses a day (timing.ts MAX_DOSES_PER_DAY).
    const dense = statement(PRED, [dosage({ dose: mg(1), freq: 100, period: 1, periodUnit: 'd' })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-14' },
    });
    // About 142,857,143 doses a day: not a regimen, reported and never laid (it used to be laid, day by day).
    const absurd = statement(PRED, [dosage({ dose: mg(0.000001), freq: 1e9, period: 7, periodUnit: 'd' })], {
      effectivePeriod: { start: '2024-01-01', end: '2024-01-14' },
    });
    const t0 = performance.now();
    const r = exposure([slow, huge, dense], '2024-01-14');
    expect(performance.now() - t0).toBeLessThan(1000);
    // 14 × 0.5 + 2 × 0.001 + 14 × 100 × 1 mg = 1407.002
    expect(r.cumulativeMg).toBe(1407);
    // Today all three run (≈ 100.5 mg/day): 1593 mg more in 16 days at that dose. The dense record ends today,
    // so the schedule goes on at 0.5 mg/day (+ 0.001 mg weekly, from 15 Jan): 3186 days → 4 October 2032.
    expect(r.projectedAtCurrentDoseOn).toBe('2024-01-30');
    expect(r.threshold.projectedOn).toBe('2032-10-04');
    const t1 = performance.now();
    const withAbsurd = exposure([slow, absurd], '2024-01-14');
    expect(performance.now() - t1).toBeLessThan(1000);
    expect(withAbsurd.cumulativeMg).toBe(7);
    expect(withAbsurd.cumulativeIsLowerBound).toBe(true);
    expect(withAbsurd.issues.map((i) => i.code)).toContain('frequency-implausible');
    const tooSlow = exposure([slow], '2024-01-14');
    // (3000 − 7) / 0.5 = 5986 days, more than ten years: the schedule projects no day
    expect(tooSlow.threshold.projectedOn).toBeNull();
    expect(tooSlow.projectedAtCurrentDoseOn).toBe('2040-06-04');
  });
});

describe('wall-clock instants', () => {
  it('a dateTime keeps its written time; a period end covers its whole last second', () => {
    const end = parseFhirDate('2021-08-16T18:16:59Z')!;
    const next = parseFhirDate('2021-08-16T18:17:00+02:00')!;
    expect(end.hasTime).toBe(true);
    expect(end.wallEndMs).toBe(next.wallMs);
    expect(parseFhirDate('2024-02')!.wallEndMs).toBe(parseFhirDate('2024-03-01')!.wallMs);
  });
});
