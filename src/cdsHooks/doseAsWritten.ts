/**
 * A medication record as a clinician recognises it: drug and dose as prescribed ("prednisolone 20 mg every
 * other day", "methylprednisolone 500 mg IV weekly", a taper as its steps), not as the engine's per-day
 * average. The card shows this beside the prednisolone-equivalent figure the engine computed from it.
 */
import type { CodeableConcept, Dosage, Medication, Resource, Timing } from '@medplum/fhirtypes';

const UNIT_WORD: Record<string, string> = { h: 'hour', d: 'day', wk: 'week', mo: 'month', a: 'year' };
const EVERY_ONE: Record<string, string> = { h: 'hourly', d: 'daily', wk: 'weekly', mo: 'monthly', a: 'yearly' };
const TIMES = ['', 'once', 'twice', 'three times', 'four times'];

// "1.5 tablet" reads as a typo: countable units take the plural above one.
const plural = (unit: string, n: number) =>
  n > 1 && /^(tablet|capsule|vial|ampoule|puff|drop)$/i.test(unit) ? `${unit}s` : unit;
const num = (n: number) => (Number.isInteger(n) ? String(n) : String(Number(n.toFixed(3))));
const conceptText = (c: CodeableConcept | undefined): string | undefined =>
  c?.text ?? c?.coding?.find((x) => x.display)?.display;

function frequency(t: Timing | undefined): string {
  const r = t?.repeat;
  if (!r) return conceptText(t?.code) ?? '';
  const f = r.frequency ?? 1;
  const fMax = r.frequencyMax ? `–${r.frequencyMax}` : '';
  const p = r.period ?? 1;
  const unit = r.periodUnit;
  if (!unit) return '';
  if (f === 1 && !fMax) {
    if (p === 1) return EVERY_ONE[unit] ?? '';
    if (p === 2 && unit === 'd') return 'every other day';
    return `every ${num(p)} ${UNIT_WORD[unit] ?? unit}s`;
  }
  const times = !fMax && f < TIMES.length ? TIMES[f]! : `${f}${fMax} times`;
  return p === 1 ? `${times} a ${UNIT_WORD[unit] ?? unit}` : `${times} every ${num(p)} ${UNIT_WORD[unit] ?? unit}s`;
}

function route(d: Dosage): string {
  const coded = d.route?.coding?.map((c) => c.code);
  // IV is how a rheumatologist writes a pulse; oral is the default and not repeated.
  if (coded?.some((c) => c === '47625008' || c === '20045000') || /intravenous|\bi\.?v\b/i.test(d.route?.text ?? ''))
    return 'IV';
  return '';
}

/** One Dosage: "20 mg every other day", "500 mg IV weekly", or its text when it has no structure. */
export function dosageAsWritten(d: Dosage): string {
  const q = d.doseAndRate?.[0]?.doseQuantity;
  const range = d.doseAndRate?.[0]?.doseRange;
  const dose =
    q?.value !== undefined
      ? `${num(q.value)} ${plural(q.unit ?? q.code ?? '', q.value)}`.trim()
      : range?.high?.value !== undefined
        ? `${num(range.low?.value ?? 0)}–${num(range.high.value)} ${range.high.unit ?? range.high.code ?? ''}`.trim()
        : '';
  if (!dose) return d.text ?? 'dose not given';
  return [dose, route(d), frequency(d.timing), d.asNeededBoolean ? 'as needed' : ''].filter(Boolean).join(' ');
}

function medicationName(r: Resource, byRef: Map<string, Resource>): string | undefined {
  const rec = r as {
    medicationCodeableConcept?: CodeableConcept;
    medicationReference?: { reference?: string; display?: string };
  };
  if (rec.medicationCodeableConcept) return conceptText(rec.medicationCodeableConcept);
  const m = rec.medicationReference?.reference
    ? (byRef.get(rec.medicationReference.reference) as Medication)
    : undefined;
  return conceptText(m?.code) ?? rec.medicationReference?.display;
}

/**
 * The record as prescribed: its drug (the ingredient the engine identified, as a fallback) and each dosage,
 * taper steps joined by arrows. Administrations are one dose each.
 */
export function recordAsWritten(r: Resource, ingredient: string, byRef: Map<string, Resource>): string {
  const name = (medicationName(r, byRef) ?? ingredient).replace(/\s+/g, ' ').trim();
  const lowered = name.toLowerCase().includes(ingredient.toLowerCase()) ? name : `${ingredient} (${name})`;
  if (r.resourceType === 'MedicationAdministration') {
    const d = (r as { dosage?: { dose?: { value?: number; unit?: string }; route?: CodeableConcept; text?: string } })
      .dosage;
    const dose = d?.dose?.value !== undefined ? `${num(d.dose.value)} ${d.dose.unit ?? ''}`.trim() : (d?.text ?? '');
    return [lowered, dose, d?.route ? route({ route: d.route }) : ''].filter(Boolean).join(' ');
  }
  const dosages: Dosage[] =
    (r as { dosage?: Dosage[] }).dosage ?? (r as { dosageInstruction?: Dosage[] }).dosageInstruction ?? [];
  if (!dosages.length) return `${lowered}, no dose given`;
  return `${lowered} ${dosages.map(dosageAsWritten).join(' → ')}`;
}
