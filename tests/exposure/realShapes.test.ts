/**
 * Defects found on real-world record shapes, each tested on the published FHIR instance it was found on
 * (tests/fixtures/exposure/README.md names each source and the changes made to it), counted to the milligram.
 * Where a test changes the fixture, the change is the one commented; everything else is as published.
 * Each test name or comment shows the arithmetic.
 */
import type {
  Medication,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Resource,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { computeExposure } from '../../src/exposure/index.ts';
import type { IngredientId } from '../../src/exposure/ingredients.ts';
import { type ProductStrength, readStrength } from '../../src/exposure/strength.ts';
import { fixture, one } from './fixtures.ts';

/** No patient filter: each fixture is one patient's record as published. */
const run = (resources: Resource[], asOf: string) => computeExposure({ resources, asOf, timeline: false });
const codes = (r: ReturnType<typeof run>) => r.issues.map((i) => i.code);
const issue = (r: ReturnType<typeof run>, code: string) => r.issues.find((i) => i.code === code)!;
/** The contained Medication of a CH EMED record (each has exactly one). */
const containedMedication = (r: { contained?: Resource[] }) => r.contained![0] as Medication;

const OID_EDQM = 'urn:oid:0.4.0.127.0.16.1.1.2.1';
const EDQM = 'http://standardterms.edqm.eu';

/** The strength alone, as readStrength gives it ({} when none; undefined when no mass is written). */
const strength = (text: string, ingredient: IngredientId | undefined): ProductStrength | undefined =>
  readStrength(text, ingredient)?.strength;

// ---------------------------------------------------------------------------------------------------------------
// 1. Thousands separators
// ---------------------------------------------------------------------------------------------------------------

describe('CH EMED 3-2 (drug → "Methylprednisolone 1,000 mg powder for injection"): a thousands separator in a strength', () => {
  const PULSE = 'ch-emed-3-2-medadmin-methylprednisolone-pulse.json';
  const pulse = () => one<MedicationAdministration>(PULSE);
  /** The published administration with the product name changed to `name` (no structured strength in it). */
  const named = (name: string) => {
    const a = pulse();
    containedMedication(a).code!.text = name;
    return a;
  };

  it('1 ampule × 1,000 mg = 1000 mg methylprednisolone × 1.25 = 1250 mg prednisolone-equivalent (not 1 mg)', () => {
    const r = run([pulse()], '2020-03-01');
    expect(r.cumulativeMg).toBe(1250);
    expect(r.cumulativeIsLowerBound).toBe(false);
    const [c] = r.contributions;
    expect(c!.status).toBe('counted');
    expect(c!.ingredient).toBe('methylprednisolone');
    expect(c!.ingredientMg).toBe(1000);
    expect(c!.mg).toBe(1250);
    expect(c!.route).toBe('intravenous'); // EDQM 20045000 "Intravenous use" under CH EMED's OID
    expect(c!.firstDay).toBe('2020-02-03');
    expect(c!.derivation).toContain('1 ampule × 1000 mg');
    expect(codes(r)).toEqual([]);
  });

  it.each([
    ['1.000 mg', 'a point'],
    ["1'000 mg", 'an apostrophe (Swiss)'],
    ['1’000 mg', 'a typographic apostrophe'],
    ['1 000 mg', 'a space'],
    ['1\u202f000 mg', 'a narrow no-break space'],
  ])('"%s" (%s as the separator): 1000 mg × 1.25 = 1250 mg', (strengthText) => {
    const r = run([named(`Methylprednisolone ${strengthText} powder for injection`)], '2020-03-01');
    expect(r.cumulativeMg).toBe(1250);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual([]);
  });

  it('"2,000 mg" is the largest methylprednisolone unit sold (Solu-Medrol 2 g): 2000 mg × 1.25 = 2500 mg', () => {
    const r = run([named('Methylprednisolone 2,000 mg powder for injection')], '2020-03-01');
    expect(r.cumulativeMg).toBe(2500);
    expect(r.contributions[0]!.ingredientMg).toBe(2000);
  });

  it('"3,000 mg" is 3 g (more than any unit sold) or 3 mg: ambiguous, so no strength is read and the vial is reported, never a thousandfold guess', () => {
    const r = run([named('Methylprednisolone 3,000 mg powder for injection')], '2020-03-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]!.status).toBe('unquantified');
  });

  it('a strength of 0 is never a strength: "0 mg" leaves the vial unquantified (strength-unknown), not 0 mg', () => {
    const r = run([named('Methylprednisolone 0 mg powder for injection')], '2020-03-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]!.status).toBe('unquantified');
    expect(r.contributions[0]!.mg).toBeNull();
    expect(codes(r)).toEqual(['strength-unknown']);
    expect(issue(r, 'strength-unknown').severity).toBe('error');
  });

  describe('readStrength (src/exposure/strength.ts) reads the number by the fixed rule', () => {
    it.each<[string, IngredientId | undefined, ProductStrength, string]>([
      // One or two digits after "," or ".": a decimal.
      ['2,5 mg', 'prednisolone', { mgPerUnit: 2.5 }, 'one digit after ",": decimal'],
      ['1.5 mg', 'prednisolone', { mgPerUnit: 1.5 }, 'one digit after ".": decimal'],
      ['0,25 mg', 'dexamethasone', { mgPerUnit: 0.25 }, 'two digits after ",": decimal'],
      // Exactly three digits, integer part not starting with 0, result within the largest unit sold: thousands.
      ['1,000 mg', 'methylprednisolone', { mgPerUnit: 1000 }, 'thousands, 1000 ≤ 2000 (methylprednisolone)'],
      ['1.000 mg', 'methylprednisolone', { mgPerUnit: 1000 }, 'thousands with ".", 1000 ≤ 2000'],
      ["1'000 mg", 'methylprednisolone', { mgPerUnit: 1000 }, 'thousands with "\'", 1000 ≤ 2000'],
      ['1 000 mg', 'methylprednisolone', { mgPerUnit: 1000 }, 'thousands with a space, 1000 ≤ 2000'],
      ['2,000 mg', 'methylprednisolone', { mgPerUnit: 2000 }, 'thousands, 2000 ≤ 2000 (the limit itself)'],
      ['1,000 mg', 'prednisolone', { mgPerUnit: 1000 }, 'thousands, 1000 ≤ 1000 (prednisolone)'],
      ['1.000 mg', 'hydrocortisone', { mgPerUnit: 1000 }, 'thousands, 1000 ≤ 1000 (hydrocortisone)'],
      // Otherwise "," or "." is a decimal mark.
      ['3,000 mg', 'methylprednisolone', {}, '3000 > 2000: ambiguous (3 g or 3 mg), no strength'],
      ['2.000 mg', 'prednisolone', {}, '2000 > 1000: ambiguous, no strength'],
      ['1.000 mg', 'dexamethasone', {}, 'no gram unit of dexamethasone, 1 mg or 1 g: ambiguous, no strength'],
      ['1,000 mg', undefined, {}, 'no ingredient known: ambiguous (1 g or 1 mg), no strength'],
      ['0,125 mg', 'dexamethasone', { mgPerUnit: 0.125 }, 'integer part 0: decimal, 0.125 mg'],
      ['0,125 mg', 'methylprednisolone', { mgPerUnit: 0.125 }, 'integer part 0: decimal even where 125 would fit'],
      // A space or an apostrophe has no decimal meaning: an implausible grouping is no strength.
      ["1'000 mg", 'dexamethasone', {}, 'apostrophe, 1000 mg of dexamethasone implausible: no strength'],
      ['1 000 mg', 'dexamethasone', {}, 'space, implausible: no strength'],
      [
        '2 500 mg',
        'methylprednisolone',
        {},
        'space, 2500 > 2000: two numbers or one, no strength (never the last group)',
      ],
      ['1,000,000 mg', 'methylprednisolone', {}, 'two groups, implausible, not a decimal: no strength'],
      // A strength of 0 is never accepted.
      ['0 mg', 'prednisolone', {}, 'zero: no strength'],
      ['0,0 mg', 'prednisolone', {}, 'zero as a decimal: no strength'],
    ])('"%s" (%s) → %j: %s', (text, ingredient, expected) => {
      expect(strength(text, ingredient)).toEqual(expected);
    });

    it('the whole CH EMED product name: "Methylprednisolone 1,000 mg powder for injection" → 1000 mg a unit', () => {
      const read = readStrength('Methylprednisolone 1,000 mg powder for injection', 'methylprednisolone')!;
      expect(read.strength).toEqual({ mgPerUnit: 1000 });
      // The dose form follows the strength.
      expect('Methylprednisolone 1,000 mg powder for injection'.slice(read.end).trim()).toBe('powder for injection');
    });

    it('a name without a mass gives undefined, not a strength', () => {
      expect(readStrength('Methylprednisolone powder for injection', 'methylprednisolone')).toBeUndefined();
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 2. Per-volume strengths
// ---------------------------------------------------------------------------------------------------------------

describe('CH EMED 1-1 (drug → "Prednisolon 15 mg/5 ml Lösung zum Einnehmen"): a strength per 5 mL', () => {
  const SOLUTION = 'ch-emed-1-1-medstat-prednisolone-solution-per-5-ml.json';
  const solution = () => one<MedicationStatement>(SOLUTION);
  // The statement: 5 mL every morning (when MORN) from 2011-11-29, no end (status active). As of 2011-12-08 that is
  // 10 days: 29 November … 8 December.
  const AS_OF = '2011-12-08';

  it('5 mL × (15 mg / 5 mL) = 15 mg/day × 10 d = 150 mg (not 5 × 15 = 75 mg a day, 750 mg)', () => {
    const r = run([solution()], AS_OF);
    expect(r.cumulativeMg).toBe(150);
    expect(r.currentDailyMg).toBe(15);
    const [c] = r.contributions;
    expect(c!.status).toBe('counted');
    expect(c!.route).toBe('oral');
    expect(c!.days).toBe(10);
    expect(c!.derivation).toContain('5 mL × 3 mg/mL');
    expect(codes(r)).toEqual(['open-ended-through-as-of']);
  });

  it('the name alone (ingredient.strength removed) reads "15 mg/5 ml" as 3 mg/mL: still 150 mg', () => {
    const s = solution();
    delete containedMedication(s).ingredient![0]!.strength;
    const r = run([s], AS_OF);
    expect(r.cumulativeMg).toBe(150);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual(['open-ended-through-as-of']);
  });

  it('the name alone written "15 mg per 5 ml": 3 mg/mL × 5 mL × 10 d = 150 mg', () => {
    const s = solution();
    const med = containedMedication(s);
    delete med.ingredient![0]!.strength;
    med.code!.text = 'Prednisolon 15 mg per 5 ml Lösung zum Einnehmen';
    expect(run([s], AS_OF).cumulativeMg).toBe(150);
  });

  it('a name that says 15 mg a unit conflicts in kind with the structure (3 mg/mL): the structure wins, 150 mg, strength-conflict', () => {
    const s = solution();
    containedMedication(s).code!.text = 'Prednisolon 15 mg Lösung zum Einnehmen';
    const r = run([s], AS_OF);
    expect(r.cumulativeMg).toBe(150);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual(['strength-conflict', 'open-ended-through-as-of']);
    const conflict = issue(r, 'strength-conflict');
    expect(conflict.severity).toBe('warning');
    expect(conflict.message).toBe(
      'the name "Prednisolon 15 mg Lösung zum Einnehmen" reads 15 mg per unit but Medication.ingredient.strength (3 mg/mL) says otherwise; the structured strength was used',
    );
  });

  it('a name that says 10 mg/5 ml (2 mg/mL) conflicts in value: the structure (3 mg/mL) wins, 150 mg not 100 mg', () => {
    const s = solution();
    containedMedication(s).code!.text = 'Prednisolon 10 mg/5 ml Lösung zum Einnehmen';
    const r = run([s], AS_OF);
    expect(r.cumulativeMg).toBe(150);
    expect(codes(r)).toEqual(['strength-conflict', 'open-ended-through-as-of']);
    expect(issue(r, 'strength-conflict').message).toContain('reads 2 mg/mL');
  });

  it('a name and structure that agree give no conflict (the published fixture: 15 mg/5 ml and 15 mg / 5 mL)', () => {
    expect(codes(run([solution()], AS_OF))).not.toContain('strength-conflict');
  });

  it('"in 500 mL" (CH EMED 3-2 pulse, name → "Methylprednisolone 1,000 mg in 500 ml", dose → 250 mL): 250 mL × 2 mg/mL = 500 mg × 1.25 = 625 mg', () => {
    const a = one<MedicationAdministration>('ch-emed-3-2-medadmin-methylprednisolone-pulse.json');
    containedMedication(a).code!.text = 'Methylprednisolone 1,000 mg in 500 ml Infusionslösung';
    a.dosage!.dose = { value: 250, unit: 'milliliter', system: 'http://unitsofmeasure.org', code: 'mL' };
    const r = run([a], '2020-03-01');
    expect(r.cumulativeMg).toBe(625);
    expect(r.contributions[0]!.ingredientMg).toBe(500);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual([]);
  });

  it.each<[string, IngredientId, ProductStrength]>([
    ['15 mg/5 ml', 'prednisolone', { mgPerMl: 3 }],
    ['15 mg per 5 mL', 'prednisolone', { mgPerMl: 3 }],
    ['500 mg in 500 mL', 'methylprednisolone', { mgPerMl: 1 }],
    ['1,000 mg in 500 mL', 'methylprednisolone', { mgPerMl: 2 }],
    ['2.5 mg/ml', 'prednisolone', { mgPerMl: 2.5 }],
    ['100 µg/ml', 'dexamethasone', { mgPerMl: 0.1 }],
    ['1 g/10 ml', 'methylprednisolone', { mgPerMl: 100 }],
    ['1 g', 'methylprednisolone', { mgPerUnit: 1000 }],
    ['500 micrograms', 'dexamethasone', { mgPerUnit: 0.5 }],
    ['5 mg/tablet', 'prednisolone', { mgPerUnit: 5 }],
    ['5 mg in the morning', 'prednisolone', { mgPerUnit: 5 }],
    ['0.055 MG/ACTUAT', 'triamcinolone', {}],
  ])('readStrength("%s", %s) → %j', (text, ingredient, expected) => {
    expect(strength(text, ingredient)).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Decimal comma
// ---------------------------------------------------------------------------------------------------------------

describe('CH EMED 1-1 (drug → "Prednisolon 2,5 mg Filmtabletten"): a decimal comma in a strength', () => {
  const TABLET = 'ch-emed-1-1-medstat-prednisolone-tablet-decimal-comma.json';
  const tablet = () => one<MedicationStatement>(TABLET);
  const AS_OF = '2011-12-08'; // 29 November … 8 December: 10 days

  it('0.5 tablet × 2.5 mg = 1.25 mg/day × 10 d = 12.5 mg', () => {
    const r = run([tablet()], AS_OF);
    expect(r.cumulativeMg).toBe(12.5);
    expect(r.currentDailyMg).toBe(1.25);
    const [c] = r.contributions;
    expect(c!.status).toBe('counted');
    expect(c!.days).toBe(10);
    expect(c!.derivation).toContain('0.5 tablet × 2.5 mg');
    expect(codes(r)).toEqual(['open-ended-through-as-of']);
  });

  it('from the name alone (ingredient.strength removed) "2,5 mg" is 2.5 mg, not 5 mg nor 25 mg: 12.5 mg', () => {
    const t = tablet();
    delete containedMedication(t).ingredient![0]!.strength;
    const r = run([t], AS_OF);
    expect(r.cumulativeMg).toBe(12.5);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual(['open-ended-through-as-of']);
  });

  it('"2.5 mg" in the name reads the same: 12.5 mg', () => {
    const t = tablet();
    const med = containedMedication(t);
    delete med.ingredient![0]!.strength;
    med.code!.text = 'Prednisolon 2.5 mg Filmtabletten';
    expect(run([t], AS_OF).cumulativeMg).toBe(12.5);
  });

  it('the first day alone: 0.5 × 2.5 = 1.25 mg', () => {
    expect(run([tablet()], '2011-11-29').cumulativeMg).toBe(1.25);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 4. A dose without a unit
// ---------------------------------------------------------------------------------------------------------------

describe('Synthea: doseQuantity {value: 1.0} without a unit', () => {
  const SYNTHEA = 'synthea-medicationrequest-unitless-dose-prednisone.json';
  const synthea = () => one<MedicationRequest>(SYNTHEA);
  // Once a day from authoredOn 2019-03-02, no end (status active); as of 2019-03-11: 10 days.
  const AS_OF = '2019-03-11';

  it('on prednisone 5 MG Oral Tablet, 1 means 1 tablet: 1 × 5 mg × 10 d = 50 mg, with a warning', () => {
    const r = run([synthea()], AS_OF);
    expect(r.cumulativeMg).toBe(50);
    expect(r.currentDailyMg).toBe(5);
    const [c] = r.contributions;
    expect(c!.status).toBe('counted');
    expect(c!.ingredient).toBe('prednisone');
    expect(c!.derivation).toContain('1 tablet × 5 mg, unit assumed');
    expect(codes(r)).toEqual(['dose-unit-unknown', 'open-ended-through-as-of']);
    const assumed = issue(r, 'dose-unit-unknown');
    expect(assumed.severity).toBe('warning');
    expect(assumed.message).toBe(
      'dose 1 has no unit; counted as 1 tablet of "prednisone 5 MG Oral Tablet" (its dose form)',
    );
  });

  it('value 2.0 (variation): 2 tablets × 5 mg × 10 d = 100 mg', () => {
    const s = synthea();
    s.dosageInstruction![0]!.doseAndRate![0]!.doseQuantity = { value: 2.0 };
    const r = run([s], AS_OF);
    expect(r.cumulativeMg).toBe(100);
    expect(codes(r)).toEqual(['dose-unit-unknown', 'open-ended-through-as-of']);
  });

  it('on a product with no strength (RxNorm 1156758 "prednisolone Pill"): not counted, error', () => {
    const s = synthea();
    s.medicationCodeableConcept = {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '1156758' }],
    };
    const r = run([s], AS_OF);
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]!.status).toBe('unquantified');
    expect(issue(r, 'dose-unit-unknown').severity).toBe('error');
  });

  it('the CH EMED tablet with its dose unit removed (0.5): 0.5 tablet assumed × 2.5 mg × 10 d = 12.5 mg, with a warning', () => {
    const t = one<MedicationStatement>('ch-emed-1-1-medstat-prednisolone-tablet-decimal-comma.json');
    t.dosage![0]!.doseAndRate![0]!.doseQuantity = { value: 0.5 };
    const r = run([t], '2011-12-08');
    expect(r.cumulativeMg).toBe(12.5);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual(['dose-unit-unknown', 'open-ended-through-as-of']);
    expect(issue(r, 'dose-unit-unknown').severity).toBe('warning');
  });

  it('a liquid is NOT counted: the CH EMED oral solution with dose {value: 5} (1 could be 1 mL or 1 spoon): error', () => {
    const s = one<MedicationStatement>('ch-emed-1-1-medstat-prednisolone-solution-per-5-ml.json');
    s.dosage![0]!.doseAndRate![0]!.doseQuantity = { value: 5 };
    const r = run([s], '2011-12-08');
    expect(r.cumulativeMg).toBeNull();
    expect(r.currentDailyMg).toBeNull();
    const [c] = r.contributions;
    expect(c!.status).toBe('unquantified');
    expect(c!.mg).toBeNull();
    expect(codes(r)).toEqual(['dose-unit-unknown', 'open-ended-through-as-of']);
    const notCounted = issue(r, 'dose-unit-unknown');
    expect(notCounted.severity).toBe('error');
    expect(notCounted.message).toBe(
      'dose 5 has no unit, and "Prednisolon 15 mg/5 ml Lösung zum Einnehmen" is not a tablet or capsule of known strength; not counted',
    );
  });

  it('an injection is NOT counted: the CH EMED pulse administration with dose {value: 1}: error', () => {
    const a = one<MedicationAdministration>('ch-emed-3-2-medadmin-methylprednisolone-pulse.json');
    a.dosage!.dose = { value: 1 };
    const r = run([a], '2020-03-01');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions[0]!.status).toBe('unquantified');
    expect(codes(r)).toEqual(['dose-unit-unknown']);
    expect(issue(r, 'dose-unit-unknown').severity).toBe('error');
    expect(issue(r, 'dose-unit-unknown').message).toBe('dose 1 has no unit; not counted');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 5. Dose range and maxDosePerPeriod
// ---------------------------------------------------------------------------------------------------------------

describe('HL7 R4 medrx0301 (drug → prednisone 5 mg): 1–2 tablets every 4–6 h as needed, max 4 TAB a day, 10 days of supply', () => {
  const RX0301 = 'hl7-r4-medrx0301-prednisone-range-max-per-day.json';
  const medrx0301 = () => one<MedicationRequest>(RX0301);
  const AS_OF = '2016-01-01';

  it('capped by maxDosePerPeriod: 4 TAB × 5 mg = 20 mg/day × 10 d = 200 mg (was 6 doses × 2 TAB × 5 mg × 10 d = 600 mg)', () => {
    const r = run([medrx0301()], AS_OF);
    expect(r.cumulativeMg).toBe(200);
    const [c] = r.contributions;
    expect(c!.status).toBe('counted');
    expect(c!.ingredient).toBe('prednisone');
    expect(c!.days).toBe(10);
    expect(c!.firstDay).toBe('2015-01-15');
    expect(c!.lastDay).toBe('2015-01-24');
    expect(codes(r)).toEqual(['dose-range', 'dose-range', 'frequency-range', 'as-needed', 'duration-from-supply']);
    const ranges = r.issues.filter((i) => i.code === 'dose-range');
    expect(ranges.map((i) => i.severity)).toEqual(['warning', 'warning']);
    expect(ranges.map((i) => i.message)).toEqual([
      'dose range 1–2 TAB counted at its upper bound',
      'maxDosePerPeriod 20 mg per 1 d caps 6 doses at 3.3333 mg each (not 10 mg)',
    ]);
  });

  it('without maxDosePerPeriod (removed): 6 doses × 2 TAB × 5 mg × 10 d = 600 mg, no cap', () => {
    const m = medrx0301();
    delete m.dosageInstruction![0]!.maxDosePerPeriod;
    const r = run([m], AS_OF);
    expect(r.cumulativeMg).toBe(600);
    expect(codes(r)).toEqual(['dose-range', 'frequency-range', 'as-needed', 'duration-from-supply']);
  });

  it('a stated regimen above the maximum (2 TAB every 4 h, not PRN) is counted as written and flagged: 600 mg', () => {
    const m = medrx0301();
    const d = m.dosageInstruction![0]!;
    // Variation: doseQuantity 2 TAB (the range's high), period 4 h without periodMax, no asNeeded.
    d.doseAndRate = [{ type: d.doseAndRate![0]!.type, doseQuantity: d.doseAndRate![0]!.doseRange!.high }];
    delete d.timing!.repeat!.periodMax;
    delete d.asNeededCodeableConcept;
    const r = run([m], AS_OF);
    expect(r.cumulativeMg).toBe(600);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual(['dose-range', 'duration-from-supply']);
    const flagged = issue(r, 'dose-range');
    expect(flagged.severity).toBe('warning');
    expect(flagged.message).toBe('the regimen exceeds maxDosePerPeriod 20 mg per 1 d; counted as written');
  });

  it('a stated regimen within the maximum (1 TAB every 6 h = 4 TAB a day) is neither capped nor flagged: 4 × 5 mg × 10 d = 200 mg', () => {
    const m = medrx0301();
    const d = m.dosageInstruction![0]!;
    d.doseAndRate = [{ type: d.doseAndRate![0]!.type, doseQuantity: d.doseAndRate![0]!.doseRange!.low }];
    d.timing!.repeat!.period = 6;
    delete d.timing!.repeat!.periodMax;
    delete d.asNeededCodeableConcept;
    const r = run([m], AS_OF);
    expect(r.cumulativeMg).toBe(200);
    expect(codes(r)).toEqual(['duration-from-supply']);
  });

  it('a maximum given in mg (15 mg / 1 d, variation) caps the same range: 15 mg/day × 10 d = 150 mg', () => {
    const m = medrx0301();
    m.dosageInstruction![0]!.maxDosePerPeriod = {
      numerator: { value: 15, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
      denominator: { value: 1, system: 'http://unitsofmeasure.org', code: 'd' },
    };
    const r = run([m], AS_OF);
    expect(r.cumulativeMg).toBe(150);
    expect(r.issues.filter((i) => i.code === 'dose-range').map((i) => i.message)).toEqual([
      'dose range 1–2 TAB counted at its upper bound',
      'maxDosePerPeriod 15 mg per 1 d caps 6 doses at 2.5 mg each (not 10 mg)',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 6. EDQM routes
// ---------------------------------------------------------------------------------------------------------------

describe('EDQM routes of administration (CH EMED 1-1 tablet, 0.5 × 2.5 mg × 10 d = 12.5 mg; CH EMED 3-2 pulse)', () => {
  const tablet = () => one<MedicationStatement>('ch-emed-1-1-medstat-prednisolone-tablet-decimal-comma.json');
  const pulse = () => one<MedicationAdministration>('ch-emed-3-2-medadmin-methylprednisolone-pulse.json');
  /** The tablet statement with its route replaced. */
  const routed = (route: NonNullable<MedicationStatement['dosage']>[number]['route']) => {
    const t = tablet();
    t.dosage![0]!.route = route;
    return t;
  };

  it('as published (EDQM 20053000 "Oral use" under the OID, with display and text): oral, 12.5 mg, no route issue', () => {
    const r = run([tablet()], '2011-12-08');
    expect(r.contributions[0]!.route).toBe('oral');
    expect(r.cumulativeMg).toBe(12.5);
    expect(codes(r)).toEqual(['open-ended-through-as-of']);
  });

  it.each([OID_EDQM, EDQM, `${EDQM}/`])(
    'the code alone, 20053000 in %s (no display, no text): oral, 12.5 mg, no route-unknown',
    (system) => {
      const r = run([routed({ coding: [{ system, code: '20053000' }] })], '2011-12-08');
      expect(r.contributions[0]!.route).toBe('oral');
      expect(r.contributions[0]!.status).toBe('counted');
      expect(r.cumulativeMg).toBe(12.5);
      expect(codes(r)).toEqual(['open-ended-through-as-of']);
    },
  );

  it.each([OID_EDQM, EDQM])(
    'EDQM 20020000 "Inhalation use" in %s: excluded by policy (inhaled: exclude-flag), 0 mg counted',
    (system) => {
      const r = run([routed({ coding: [{ system, code: '20020000', display: 'Inhalation use' }] })], '2011-12-08');
      expect(r.cumulativeMg).toBe(0);
      const [c] = r.contributions;
      expect(c!.route).toBe('inhaled');
      expect(c!.status).toBe('excluded');
      expect(codes(r)).toEqual(['route-excluded']);
      expect(issue(r, 'route-excluded').severity).toBe('warning');
      expect(issue(r, 'route-excluded').message).toBe('inhaled route is not counted as systemic exposure');
    },
  );

  it('a route present but not recognised (EDQM 20042000 "Intrathecal use", no class of ours) is named; the dose form decides: 1250 mg', () => {
    const a = pulse();
    a.dosage!.route = { coding: [{ system: OID_EDQM, code: '20042000', display: 'Intrathecal use' }] };
    const r = run([a], '2020-03-01');
    expect(r.cumulativeMg).toBe(1250);
    expect(r.contributions[0]!.status).toBe('counted');
    expect(r.contributions[0]!.route).toBe('injection-unspecified'); // "Powder for solution for injection"
    expect(codes(r)).toEqual(['route-unknown']);
    const unknown = issue(r, 'route-unknown');
    expect(unknown.severity).toBe('info');
    expect(unknown.message).toContain('route not recognised');
    expect(unknown.message).toBe(
      "route not recognised (urn:oid:0.4.0.127.0.16.1.1.2.1|20042000 Intrathecal use); the dose form's route (injection-unspecified) was used",
    );
  });

  it('not recognised and no dose form (form removed, name → "Methylprednisolone 1,000 mg"): counted as systemic and flagged, 1250 mg', () => {
    const a = pulse();
    const med = containedMedication(a);
    delete med.form;
    med.code!.text = 'Methylprednisolone 1,000 mg';
    a.dosage!.route = { coding: [{ system: OID_EDQM, code: '20042000', display: 'Intrathecal use' }] };
    const r = run([a], '2020-03-01');
    expect(r.cumulativeMg).toBe(1250);
    expect(r.contributions[0]!.route).toBe('unknown');
    expect(r.contributions[0]!.status).toBe('counted');
    expect(codes(r)).toEqual(['route-unknown']);
    const unknown = issue(r, 'route-unknown');
    expect(unknown.severity).toBe('warning');
    expect(unknown.message).toBe(
      'route not recognised (urn:oid:0.4.0.127.0.16.1.1.2.1|20042000 Intrathecal use); counted as systemic',
    );
  });

  it('a local route code on the tablet is named too, never taken as no route: oral from the film-coated tablet, 12.5 mg', () => {
    const r = run(
      [routed({ coding: [{ system: 'http://example.org/fhir/CodeSystem/route', code: 'PO-X' }] })],
      '2011-12-08',
    );
    expect(r.cumulativeMg).toBe(12.5);
    expect(r.contributions[0]!.route).toBe('oral');
    expect(codes(r)).toEqual(['route-unknown', 'open-ended-through-as-of']);
    expect(issue(r, 'route-unknown').message).toBe(
      "route not recognised (http://example.org/fhir/CodeSystem/route|PO-X); the dose form's route (oral) was used",
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 7. Every record accounted for (the rest is in accounting.test.ts)
// ---------------------------------------------------------------------------------------------------------------

describe('a record coded only in a local code system, with no text', () => {
  /** The Synthea request with its medication replaced by a local code alone (no display, no text), and a new id. */
  const local = () => {
    const s = one<MedicationRequest>('synthea-medicationrequest-unitless-dose-prednisone.json');
    s.id = 'local-code-only';
    s.medicationCodeableConcept = {
      coding: [{ system: 'http://example.org/fhir/CodeSystem/local-formulary', code: 'PRED5' }],
    };
    return s;
  };

  it('is reported as unidentified (error), never dropped; beside the published Synthea record: 50 mg, a lower bound', () => {
    const r = run([...fixture('synthea-medicationrequest-unitless-dose-prednisone.json'), local()], '2019-03-11');
    expect(r.cumulativeMg).toBe(50); // the published record: 1 × 5 mg × 10 d
    expect(r.cumulativeIsLowerBound).toBe(true);
    expect(r.contributions.map((c) => c.source)).toEqual(['MedicationRequest/6e1b7e1c-5f0e-4a53-9d3a-3c1c2f0b8a11']);
    const reported = r.issues.filter((i) => i.source === 'MedicationRequest/local-code-only');
    expect(reported).toEqual([
      {
        source: 'MedicationRequest/local-code-only',
        code: 'medication-unidentified',
        severity: 'error',
        message:
          'medication not identified: http://example.org/fhir/CodeSystem/local-formulary|PRED5 names no glucocorticoid we can recognise, nor another drug',
      },
    ]);
  });

  it('alone: the total is unknown (null), not 0 mg, and the issue names the record', () => {
    const r = run([local()], '2019-03-11');
    expect(r.cumulativeMg).toBeNull();
    expect(r.contributions).toEqual([]);
    expect(r.issues.map((i) => [i.source, i.code, i.severity])).toEqual([
      ['MedicationRequest/local-code-only', 'medication-unidentified', 'error'],
    ]);
  });
});
