/**
 * One administration's amount of the ingredient, in mg: the dose quantity converted with the product strength
 * where it is given in tablets or millilitres.
 */
import type { Dosage, Quantity, Range } from '@medplum/fhirtypes';
import type { MedicationFacts } from './medication.ts';
import type { RangePolicy } from './timing.ts';
import { doseAmount } from './units.ts';

export type DoseResult =
  | { ok: true; mg: number; label: string; notes: Array<{ code: 'dose-range'; message: string }> }
  | { ok: false; code: 'no-dose' | 'dose-unit-unknown' | 'weight-based-dose' | 'strength-unknown'; message: string };

const fmt = (n: number): string => String(Math.round(n * 10000) / 10000);

/** Converts a dose quantity to ingredient mg using the medication's strength. */
export function quantityToMg(q: Quantity, facts: MedicationFacts): DoseResult {
  const amount = doseAmount(q);
  if (!amount) return { ok: false, code: 'no-dose', message: 'the dose has no numeric value' };
  switch (amount.kind) {
    case 'mass':
      return { ok: true, mg: amount.mg, label: `${fmt(amount.mg)} mg`, notes: [] };
    case 'volume': {
      const perMl = facts.strength.mgPerMl;
      if (perMl === undefined)
        return {
          ok: false,
          code: 'strength-unknown',
          message: `dose of ${fmt(amount.mL)} mL but no mg/mL strength is known for "${facts.label}"`,
        };
      return {
        ok: true,
        mg: amount.mL * perMl,
        label: `${fmt(amount.mL * perMl)} mg (${fmt(amount.mL)} mL × ${fmt(perMl)} mg/mL)`,
        notes: [],
      };
    }
    case 'count': {
      const perUnit = facts.strength.mgPerUnit;
      if (perUnit === undefined)
        return {
          ok: false,
          code: 'strength-unknown',
          message: `dose of ${fmt(amount.count)} ${amount.unit} but no strength per ${amount.unit} is known for "${facts.label}"`,
        };
      return {
        ok: true,
        mg: amount.count * perUnit,
        label: `${fmt(amount.count * perUnit)} mg (${fmt(amount.count)} ${amount.unit.replace(/[{}]/g, '')} × ${fmt(perUnit)} mg)`,
        notes: [],
      };
    }
    case 'per-weight':
      return {
        ok: false,
        code: 'weight-based-dose',
        message: `weight-based dose (${amount.unit}) cannot be converted without the patient's weight`,
      };
    default:
      return {
        ok: false,
        code: 'dose-unit-unknown',
        message: `dose unit "${amount.unit}" is not a mass, volume or countable dose unit`,
      };
  }
}

function rangeToQuantity(range: Range, policy: RangePolicy): { q?: Quantity; message: string } {
  const { low, high } = range;
  if (high?.value !== undefined && low?.value !== undefined) {
    if (policy === 'upper')
      return {
        q: high,
        message: `dose range ${low.value}–${high.value} ${high.unit ?? high.code ?? ''} counted at its upper bound`,
      };
    return {
      q: { ...high, value: (low.value + high.value) / 2 },
      message: `dose range ${low.value}–${high.value} ${high.unit ?? high.code ?? ''} counted at its midpoint`,
    };
  }
  if (high?.value !== undefined)
    return { q: high, message: `dose range up to ${high.value} counted at its upper bound` };
  if (low?.value !== undefined)
    return { q: low, message: `dose range from ${low.value} with no upper bound counted at its lower bound` };
  return { message: 'empty dose range' };
}

/** The ingredient mg of one administration under a Dosage (doseQuantity, or doseRange by the range policy). */
export function dosageDoseMg(dosage: Dosage, facts: MedicationFacts, policy: RangePolicy): DoseResult {
  const entries = dosage.doseAndRate ?? [];
  const entry =
    entries.find((e) => e.type?.coding?.some((c) => c.code === 'ordered') && (e.doseQuantity || e.doseRange)) ??
    entries.find((e) => e.doseQuantity || e.doseRange);
  if (entry?.doseQuantity) return quantityToMg(entry.doseQuantity, facts);
  if (entry?.doseRange) {
    const { q, message } = rangeToQuantity(entry.doseRange, policy);
    if (!q) return { ok: false, code: 'no-dose', message };
    const r = quantityToMg(q, facts);
    if (r.ok) r.notes.push({ code: 'dose-range', message });
    return r;
  }
  return {
    ok: false,
    code: 'no-dose',
    message: dosage.text ? `no structured dose (text: "${dosage.text}")` : 'no dose given',
  };
}
