/**
 * One administration's amount of the ingredient, in mg: the dose quantity converted with the product strength
 * where it is given in tablets or millilitres, a dose range by the range policy, and what the order's own
 * maxDosePerAdministration / maxDosePerPeriod allow when the amount rests on an upper-bound assumption.
 */
import type { Dosage, Quantity, Range, Ratio } from '@medplum/fhirtypes';
import type { MedicationFacts } from './medication.ts';
import { type DosePattern, dosePattern, isTimingProblem, type RangePolicy } from './timing.ts';
import { doseAmount, durationDays } from './units.ts';

export type DoseNote = { code: 'dose-range' | 'dose-unit-unknown'; message: string };

export type DoseResult =
  | { ok: true; mg: number; label: string; notes: DoseNote[] }
  | {
      ok: false;
      code: 'no-dose' | 'dose-unit-unknown' | 'weight-based-dose' | 'strength-unknown' | 'dose-implausible';
      message: string;
    };

const fmt = (n: number): string => String(Math.round(n * 10000) / 10000);

export interface ConversionOptions {
  /**
   * Count a dose written without a unit (Synthea writes `doseQuantity: {value: 1.0}` for one tablet) as that
   * many dose units when the product makes it unambiguous, with a note. Only callers that report the notes
   * set it, so the assumption is never silent.
   */
  assumeUnitForm?: boolean;
}

/**
 * A unit-less dose is unambiguous only for a tablet or capsule product with a strength per unit and none per
 * mL: "1" can then only mean one tablet. For a liquid or an injection it could be 1 mL or one vial.
 */
function assumedUnit(facts: MedicationFacts): string | undefined {
  const { mgPerUnit, mgPerMl } = facts.strength;
  return facts.unitForm && mgPerUnit !== undefined && mgPerMl === undefined ? facts.unitForm : undefined;
}

/**
 * More than this many mg of one glucocorticoid in one dose is not a dose but a data error (the largest unit
 * sold is 2 g of methylprednisolone). Such a value, or one that overflows the arithmetic, is reported and not
 * counted: it would otherwise outweigh a lifetime of real doses, or make the total Infinity.
 */
const IMPLAUSIBLE_DOSE_MG = 100_000;

/** Converts a dose quantity to ingredient mg using the medication's strength. */
export function quantityToMg(q: Quantity, facts: MedicationFacts, options: ConversionOptions = {}): DoseResult {
  const r = convertQuantity(q, facts, options);
  if (r.ok && !(r.mg <= IMPLAUSIBLE_DOSE_MG))
    return {
      ok: false,
      code: 'dose-implausible',
      message: `a dose of ${q.value} ${q.unit ?? q.code ?? ''} is ${Number.isFinite(r.mg) ? `${r.mg} mg` : 'beyond any number'}: not a plausible dose, not counted`,
    };
  return r;
}

function convertQuantity(q: Quantity, facts: MedicationFacts, options: ConversionOptions): DoseResult {
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
    default: {
      const unit = amount.unit === '(no unit)' && options.assumeUnitForm ? assumedUnit(facts) : undefined;
      if (unit && amount.unit === '(no unit)') {
        const value = q.value!;
        const mg = value * facts.strength.mgPerUnit!;
        return {
          ok: true,
          mg,
          label: `${fmt(mg)} mg (${fmt(value)} ${unit} × ${fmt(facts.strength.mgPerUnit!)} mg, unit assumed)`,
          notes: [
            {
              code: 'dose-unit-unknown',
              message: `dose ${fmt(value)} has no unit; counted as ${fmt(value)} ${unit}${value === 1 ? '' : 's'} of "${facts.label}" (its dose form)`,
            },
          ],
        };
      }
      return {
        ok: false,
        code: 'dose-unit-unknown',
        message:
          amount.unit !== '(no unit)'
            ? `dose unit "${amount.unit}" is not a mass, volume or countable dose unit`
            : options.assumeUnitForm
              ? `dose ${fmt(q.value ?? 0)} has no unit, and "${facts.label}" is not a tablet or capsule of known strength; not counted`
              : `dose ${fmt(q.value ?? 0)} has no unit; not counted`,
      };
    }
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
  let r: DoseResult;
  let fromRange = false;
  if (entry?.doseQuantity) r = quantityToMg(entry.doseQuantity, facts, { assumeUnitForm: true });
  else if (entry?.doseRange) {
    const { q, message } = rangeToQuantity(entry.doseRange, policy);
    if (!q) return { ok: false, code: 'no-dose', message };
    r = quantityToMg(q, facts, { assumeUnitForm: true });
    if (r.ok) r.notes.push({ code: 'dose-range', message });
    fromRange = true;
  } else
    return {
      ok: false,
      code: 'no-dose',
      message: dosage.text ? `no structured dose (text: "${dosage.text}")` : 'no dose given',
    };
  if (!r.ok || (!dosage.maxDosePerAdministration && !dosage.maxDosePerPeriod)) return r;
  const pattern = dosePattern(dosage.timing, policy);
  const timing = isTimingProblem(pattern) ? undefined : pattern;
  // What the count rests on: a range at its bound, a frequency/period/count range, or PRN doses counted as if
  // scheduled. Only those are capped; an explicit regimen above the maximum is flagged, not changed.
  const assumed =
    fromRange ||
    !!dosage.asNeededBoolean ||
    !!dosage.asNeededCodeableConcept ||
    !!timing?.notes.some((n) => !('lost' in n));
  return applyMaxDoses(r, dosage, facts, timing, assumed);
}

/** Ingredient mg of a maximum, or undefined when it cannot be converted (it then caps nothing). */
function maxMg(q: Quantity | undefined, facts: MedicationFacts): number | undefined {
  if (!q) return undefined;
  const r = quantityToMg(q, facts, { assumeUnitForm: true });
  return r.ok ? r.mg : undefined;
}

/**
 * The most doses of a pattern that can fall within any window of the given length: ceil(W·f/P) for doses every
 * P/f, whatever clock the schedule starts at; for weekday schedules, the doses of the busiest run of days.
 */
function dosesInWindow(p: DosePattern, windowMinutes: number): number {
  if (p.daysOfWeek) {
    const days = Math.max(1, Math.ceil(windowMinutes / 1440 - 1e-9));
    const dosing = new Set(p.daysOfWeek.days);
    let most = 0;
    for (let start = 0; start < 7; start++) {
      let n = 0;
      for (let d = 0; d < days; d++) if (dosing.has((start + d) % 7)) n++;
      most = Math.max(most, n);
    }
    return most * p.daysOfWeek.dosesPerDay;
  }
  const cycleMinutes = 'months' in p.cycle ? p.cycle.months * (365.25 / 12) * 1440 : p.cycle.minutes;
  // A degenerate cycle (period 0) has no countable doses per window: then nothing is capped.
  if (!(cycleMinutes > 0) || !(p.dosesPerCycle > 0)) return Number.POSITIVE_INFINITY;
  return Math.max(1, Math.ceil((windowMinutes * p.dosesPerCycle) / cycleMinutes - 1e-9));
}

function periodText(r: Ratio): string {
  const d = r.denominator;
  return `${fmt(d?.value ?? 1)} ${d?.code ?? d?.unit ?? ''}`.trim();
}

function applyMaxDoses(
  r: Extract<DoseResult, { ok: true }>,
  dosage: Dosage,
  facts: MedicationFacts,
  pattern: DosePattern | undefined,
  assumed: boolean,
): DoseResult {
  let mg = r.mg;
  let label = r.label;
  const perAdmin = maxMg(dosage.maxDosePerAdministration, facts);
  if (perAdmin !== undefined && mg > perAdmin + 1e-9) {
    if (assumed) {
      r.notes.push({
        code: 'dose-range',
        message: `dose capped at maxDosePerAdministration (${fmt(perAdmin)} mg instead of ${fmt(mg)} mg)`,
      });
      label = `${fmt(perAdmin)} mg (${label}, capped by maxDosePerAdministration)`;
      mg = perAdmin;
    } else
      r.notes.push({
        code: 'dose-range',
        message: `dose ${fmt(mg)} mg exceeds maxDosePerAdministration ${fmt(perAdmin)} mg; counted as written`,
      });
  }
  const perPeriod = dosage.maxDosePerPeriod;
  const periodMg = maxMg(perPeriod?.numerator, facts);
  const periodDays = perPeriod?.denominator ? durationDays(perPeriod.denominator) : undefined;
  if (pattern && perPeriod && periodMg !== undefined && periodDays !== undefined && periodDays > 0) {
    // Doses are laid at the dose × doseScale (midpoint of a frequency range), so the cap is on that product.
    const doses = dosesInWindow(pattern, periodDays * 1440) * pattern.doseScale;
    const allowed = periodMg / doses;
    if (Number.isFinite(doses) && doses > 0 && mg > allowed + 1e-9) {
      const limit = `${fmt(periodMg)} mg per ${periodText(perPeriod)}`;
      if (assumed) {
        r.notes.push({
          code: 'dose-range',
          message: `maxDosePerPeriod ${limit} caps ${fmt(doses)} doses at ${fmt(allowed)} mg each (not ${fmt(mg)} mg)`,
        });
        label = `${fmt(allowed)} mg (${label}, capped by maxDosePerPeriod ${limit})`;
        mg = allowed;
      } else
        r.notes.push({
          code: 'dose-range',
          message: `the regimen exceeds maxDosePerPeriod ${limit}; counted as written`,
        });
    }
  }
  return { ...r, mg, label };
}
