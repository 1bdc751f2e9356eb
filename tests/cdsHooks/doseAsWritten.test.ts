/** Doses as a clinician writes them (src/cdsHooks/doseAsWritten.ts), not as the engine averages them. */
import type { Dosage } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { dosageAsWritten } from '../../src/cdsHooks/doseAsWritten.ts';

const dose = (value: number, unit: string, repeat: Record<string, unknown>, extra: Partial<Dosage> = {}): Dosage => ({
  timing: { repeat },
  doseAndRate: [{ doseQuantity: { value, unit } }],
  ...extra,
});
const IV = { coding: [{ system: 'http://snomed.info/sct', code: '47625008' }] };

describe('dose as written', () => {
  it.each([
    [dose(20, 'mg', { frequency: 1, period: 2, periodUnit: 'd' }), '20 mg every other day'],
    [dose(500, 'mg', { frequency: 1, period: 1, periodUnit: 'wk' }, { route: IV }), '500 mg IV weekly'],
    [dose(1.5, 'tablet', { frequency: 1, period: 1, periodUnit: 'd' }), '1.5 tablets daily'],
    [dose(1, 'tablet', { frequency: 2, period: 1, periodUnit: 'd' }), '1 tablet twice a day'],
    [dose(10, 'mg', { frequency: 1, period: 3, periodUnit: 'd' }), '10 mg every 3 days'],
    [{ text: 'as directed' } as Dosage, 'as directed'],
  ])('%#: %s', (d, expected) => expect(dosageAsWritten(d)).toBe(expected));
});
