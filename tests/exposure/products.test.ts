import { describe, expect, it } from 'vitest';
import { COMMON_PRODUCT_NAMES, productByRxcui, productFromName, verifiedRxcuis } from '../../src/exposure/products.ts';
import { doseAmount } from '../../src/exposure/units.ts';
import { dosage, exposure, SCT, statement, tabs } from './builders.ts';

describe('RxNorm products', () => {
  it('every common product of every ingredient in the equivalence table parses to an ingredient, strength and route', () => {
    const ingredients = new Set<string>();
    for (const name of COMMON_PRODUCT_NAMES) {
      const p = productFromName(name);
      expect(p, name).toBeDefined();
      expect(p!.strength.mgPerUnit ?? p!.strength.mgPerMl, name).toBeGreaterThan(0);
      expect(p!.formRoute, name).toBeDefined();
      ingredients.add(p!.ingredient.id);
    }
    for (const id of [
      'prednisolone',
      'prednisone',
      'methylprednisolone',
      'hydrocortisone',
      'cortisone',
      'dexamethasone',
      'betamethasone',
      'triamcinolone',
      'deflazacort',
    ])
      expect(ingredients.has(id), id).toBe(true);
  });

  it.each([
    [
      'methylprednisolone sodium succinate 1000 MG Injection',
      'methylprednisolone',
      { mgPerUnit: 1000 },
      'injection-unspecified',
    ],
    ['prednisolone 3 MG/ML Oral Solution', 'prednisolone', { mgPerMl: 3 }, 'oral'],
    ['triamcinolone acetonide 40 MG/ML Injectable Suspension', 'triamcinolone', { mgPerMl: 40 }, 'depot-injection'],
    [
      'betamethasone sodium phosphate 3 MG/ML / betamethasone acetate 3 MG/ML Injectable Suspension',
      'betamethasone',
      { mgPerMl: 6 },
      'depot-injection',
    ],
    ['{21 (methylprednisolone 4 MG Oral Tablet) } Pack [Medrol]', 'methylprednisolone', { mgPerUnit: 4 }, 'oral'],
    ['dexamethasone 0.75 MG Oral Tablet', 'dexamethasone', { mgPerUnit: 0.75 }, 'oral'],
    ['hydrocortisone 25 MG/ML Rectal Cream', 'hydrocortisone', { mgPerMl: 25 }, 'rectal'],
    ['120 ACTUAT triamcinolone 0.055 MG/ACTUAT Nasal Inhaler', 'triamcinolone', {}, 'nasal'],
  ] as const)('%s', (name, ingredient, strength, route) => {
    const p = productFromName(name)!;
    expect(p.ingredient.id).toBe(ingredient);
    expect(p.strength).toEqual(strength);
    expect(p.formRoute).toBe(route);
  });

  it('verified RxCUIs resolve to their names; the Sandbox codes are among them', () => {
    expect(productByRxcui('312617')!.strength.mgPerUnit).toBe(5);
    expect(productByRxcui('312615')!.strength.mgPerUnit).toBe(20);
    expect(productByRxcui('198145')!.strength.mgPerUnit).toBe(10);
    expect(productByRxcui('259966')!.ingredient.id).toBe('methylprednisolone');
    expect(productByRxcui('197580')!.strength.mgPerUnit).toBe(1.5);
    expect(verifiedRxcuis()).toContain('1156758');
    expect(productByRxcui('1156758')!.strength).toEqual({});
  });

  it('a SNOMED CT product concept with a strength in its display is counted as coded', () => {
    const s = statement(
      { coding: [{ system: SCT, code: '325427002', display: 'Prednisolone 5mg tablets' }] },
      [dosage({ dose: tabs(2), freq: 1, period: 1, periodUnit: 'd' })],
      { effectivePeriod: { start: '2024-01-01', end: '2024-01-03' } },
    );
    const r = exposure([s], '2025-01-01');
    expect(r.cumulativeMg).toBe(30);
    expect(r.issues.map((i) => i.code)).not.toContain('ingredient-from-text');
  });
});

describe('dose units', () => {
  it.each([
    [
      { value: 2, code: 'g', system: 'http://unitsofmeasure.org' },
      { kind: 'mass', mg: 2000 },
    ],
    [
      { value: 500, code: 'ug', system: 'http://unitsofmeasure.org' },
      { kind: 'mass', mg: 0.5 },
    ],
    [
      { value: 500, unit: 'mcg' },
      { kind: 'mass', mg: 0.5 },
    ],
    [
      { value: 0.5, code: 'dg', system: 'http://unitsofmeasure.org' },
      { kind: 'mass', mg: 50 },
    ],
    [
      { value: 5, code: 'mL', system: 'http://unitsofmeasure.org' },
      { kind: 'volume', mL: 5 },
    ],
    [
      { value: 2, code: 'TAB', system: 'http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm' },
      { kind: 'count', count: 2, unit: 'TAB' },
    ],
    [
      { value: 1, unit: 'tab(s)' },
      { kind: 'count', count: 1, unit: 'tab(s)' },
    ],
    [
      { value: 1, code: 'mg/kg', system: 'http://unitsofmeasure.org' },
      { kind: 'per-weight', unit: 'mg/kg' },
    ],
    [
      { value: 1, unit: 'spoonful' },
      { kind: 'unknown', unit: 'spoonful' },
    ],
  ] as const)('%o', (q, expected) => {
    const got = doseAmount(q as never)!;
    if (got.kind === 'mass') expect(got.mg).toBeCloseTo((expected as { mg: number }).mg, 9);
    else expect(got).toEqual(expected);
  });
});
