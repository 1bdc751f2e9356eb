/**
 * Taper steps, counts, instants and projections on published FHIR instances (tests/fixtures/exposure/README.md
 * names each source, licence and the one change where the drug was not a glucocorticoid), counted to the
 * milligram. Each comment shows the arithmetic.
 */
import type { Medication, MedicationStatement, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { computeExposure } from '../../src/exposure/index.ts';
import { fixture as load } from './fixtures.ts';

/** No patient filter: each fixture is one patient's record as published. */
const run = (resources: Resource[], asOf: string) => computeExposure({ resources, asOf });
const days = (r: ReturnType<typeof run>) => r.timeline.map((t) => `${t.date.slice(5)} ${t.mg}`);

describe('French medication IG: prednisolone 60 mg "until 3 negative dipsticks", then 50 → 10 mg weekly steps', () => {
  const has = () => load('fr-has-l13-1-prednisolone-taper.json');

  it('a first step of unknown length places none of the later steps (was 13 × 10 mg laid from the start = 130 mg)', () => {
    const r = run(has(), '2025-08-29');
    expect(r.cumulativeMg).toBeNull();
    expect(r.timeline).toEqual([]);
    expect(r.contributions[0]!.status).toBe('unquantified');
    const issue = r.issues.find((i) => i.code === 'step-without-bounds')!;
    expect(issue.severity).toBe('error');
    expect(issue.message).toContain('step 1 has no end date, duration or count');
    expect(issue.message).toContain('steps 2, 3, 4, 5, 6 after it cannot be placed');
    // Unknown today, and nothing to project (was "1.43 mg/day", threshold projected for 2031).
    expect(r.currentDailyMg).toBeNull();
    expect(r.threshold.projectedOn).toBeNull();
    expect(r.projectedAtCurrentDoseOn).toBeNull();
  });

  it('beside a record that is certain, the total is that record, flagged as a lower bound', () => {
    // HL7 R4 medrx0303: prednisone 5 mg, 4 tablets × 5 d + 2 × 8 d + 1 × 7 d = 100 + 80 + 35 = 215 mg
    const r = run([...has(), ...load('hl7-r4-medrx0303-prednisone-taper.json')], '2025-08-29');
    expect(r.cumulativeMg).toBe(215);
    expect(r.cumulativeIsLowerBound).toBe(true);
    expect(r.currentDailyMg).toBeNull();
  });
});

describe('HL7 R4 examples', () => {
  it('medrx0303: three steps with their own boundsPeriods, gaps left empty: 215 mg', () => {
    const r = run(load('hl7-r4-medrx0303-prednisone-taper.json'), '2016-01-01');
    expect(r.cumulativeMg).toBe(215);
    expect(r.timeline.map((t) => t.date.slice(5))).not.toContain('01-21');
    expect(days(r).slice(4, 6)).toEqual(['01-20 20', '01-23 10']);
  });

  it('medrx0317 (drug → methylprednisolone): three steps without bounds are never laid from the start', () => {
    const r = run(load('hl7-r4-medrx0317-unbounded-steps-methylprednisolone.json'), '2016-01-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.issues.map((i) => i.message)).toContain(
      'taper step 1 has no end date, duration or count: length unknown; steps 2, 3 after it cannot be placed; not counted',
    );
  });
});

describe('eMediplan (CHMED) Spiricort taper: no effective[x], outer bounds on the base entry, steps ended by count', () => {
  const spiricort = () => load('chmed-tt-4-spiricort-taper.json') as MedicationStatement[];

  it('2 × 40 + 7 × 30 + 7 × 25 = 465 mg on 5–20 September, the days the note lists (was no start date)', () => {
    const r = run(spiricort(), '2017-10-01');
    expect(r.cumulativeMg).toBe(465);
    expect(r.cumulativeIsLowerBound).toBe(false);
    expect(r.firstExposure).toBe('2017-09-05');
    expect(days(r)).toEqual([
      ...['05', '06'].map((d) => `09-${d} 40`),
      ...['07', '08', '09', '10', '11', '12', '13'].map((d) => `09-${d} 30`),
      ...['14', '15', '16', '17', '18', '19', '20'].map((d) => `09-${d} 25`),
    ]);
  });

  it('a count hands over after its last dose, not at the end of the bounds (with the period also given: was 390 mg, steps 2–3 laid after 20 September)', () => {
    const [s] = spiricort();
    s!.effectivePeriod = { start: '2017-09-05', end: '2017-09-20' };
    expect(run([s!], '2017-10-01').cumulativeMg).toBe(465);
  });

  it('mid-taper: 200 mg so far at 30 mg/day; the schedule ends at 465 mg, so no crossing is projected', () => {
    const r = run(spiricort(), '2017-09-10');
    expect(r.cumulativeMg).toBe(200); // 2 × 40 + 4 × 30
    expect(r.currentDailyMg).toBe(30);
    expect(r.threshold.projectedOn).toBeNull();
    // At today's dose for ever: (3000 − 200) / 30 = 93.3 → 94 days after 10 September
    expect(r.projectedAtCurrentDoseOn).toBe('2017-12-13');
  });
});

describe('CH EMED split dosing (2-3, drug → Spiricort 20 mg): 1 tablet morning + ½ tablet evening', () => {
  it('sequence 2 is the evening dose of the same days, not a taper step: 30 mg/day × 30 d = 900 mg', () => {
    const r = run(load('ch-emed-2-3-split-dosage.json'), '2012-03-04');
    expect(r.cumulativeMg).toBe(900);
    expect(r.currentDailyMg).toBe(30);
    expect(r.firstExposure).toBe('2012-02-04');
    expect(r.issues.find((i) => i.code === 'split-dosage')!.severity).toBe('info');
    // (3000 − 900) / 30 = 70 days, and the active open-ended schedule says the same
    expect(r.threshold.projectedOn).toBe('2012-05-13');
  });
});

describe('French medication IG: methylprednisolone 6 mg 2 d, 4 mg 2 d, 2 mg 2 d at 07:00', () => {
  const instants = () => load('fr-methylprednisolone-doses-evolutives-instants.json');

  it('steps 18:17 → 18:16:59 count the 07:00 doses inside them: (2 × 6 + 2 × 4 + 2 × 2) × 1.25 = 30 mg', () => {
    const r = run(instants(), '2021-09-01');
    expect(r.cumulativeMg).toBe(30);
    expect(days(r)).toEqual(['08-15 7.5', '08-16 7.5', '08-17 5', '08-18 5', '08-19 2.5', '08-20 2.5']);
    // The published Bundle writes "#id" for the Medication beside the order: used, and said so.
    expect(r.issues.find((i) => i.code === 'contained-reference-in-bundle')!.severity).toBe('warning');
  });

  it('with the Medication contained as its "#id" says, the change-over days no longer count twice (was 45 mg)', () => {
    const [med, order] = instants() as [Medication, Resource & { contained?: Resource[] }];
    order.contained = [med];
    const r = run([order], '2021-09-01');
    expect(r.cumulativeMg).toBe(30);
    expect(r.issues.map((i) => i.code)).not.toContain('contained-reference-in-bundle');
  });

  it('the boundsDuration version starts at authoredOn 18:17: its first 07:00 dose is the next morning (30 mg)', () => {
    const r = run(load('fr-methylprednisolone-doses-evolutives-duration.json'), '2021-09-01');
    expect(r.cumulativeMg).toBe(30);
    expect(r.firstExposure).toBe('2021-08-15');
    expect(r.timeline.at(-1)!.date).toBe('2021-08-20');
  });

  it('on a change-over day the current dose is the step that carries on (4 mg × 1.25 = 5)', () => {
    const r = run(instants(), '2021-08-16');
    expect(r.cumulativeMg).toBe(15); // 6 mg on 15 and 16 August × 1.25
    expect(r.currentDailyMg).toBe(5);
  });
});

describe('French medication IG 14641 (drug → prednisolone 5 mg): 2 tablets at 07:00 + 1 at 18:00, 12 Aug 14:08 → 17 Aug 14:07:59', () => {
  it('07:00 doses on 13–17, 18:00 doses on 12–16: (5 × 2 + 5 × 1) × 5 mg = 75 mg (was 6 days × 15 = 90)', () => {
    const r = run(load('fr-14641-two-times-of-day-prednisolone.json'), '2021-09-01');
    expect(r.cumulativeMg).toBe(75);
    expect(days(r)).toEqual(['08-12 5', '08-13 15', '08-14 15', '08-15 15', '08-16 15', '08-17 10']);
  });
});
