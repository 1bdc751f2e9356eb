/**
 * A MedicationAdministration → the ingredient mg given on the day it was given: the recorded dose, or
 * rate × duration for an infusion.
 */
import type { MedicationAdministration, Quantity, Ratio } from '@medplum/fhirtypes';
import { UCUM } from '../terminology/systems.ts';
import { isoFromDay, parseFhirDate } from './dates.ts';
import { quantityToMg } from './dose.ts';
import { type Collector, type EvaluationContext, fmt, type RecordEvaluation } from './evaluation.ts';
import type { MedicationFacts } from './medication.ts';
import { durationDays, durationUnit } from './units.ts';

export function evaluateAdministration(
  admin: MedicationAdministration,
  facts: MedicationFacts,
  ctx: EvaluationContext,
  ev: RecordEvaluation,
  c: Collector,
): void {
  const when = parseFhirDate(admin.effectiveDateTime ?? admin.effectivePeriod?.start);
  if (!when) {
    c.add('no-start-date', 'administration has no effective date', 'error');
    return;
  }
  if (when.day > ctx.asOf) return;
  const dosage = admin.dosage;
  let mg: number | undefined;
  let label = '';
  if (dosage?.dose) {
    const r = quantityToMg(dosage.dose, facts);
    if (!r.ok) {
      c.add(r.code, r.message, 'error');
      return;
    }
    mg = r.mg;
    label = r.label;
  } else if (dosage?.rateQuantity || dosage?.rateRatio) {
    const start = parseFhirDate(admin.effectivePeriod?.start);
    const end = parseFhirDate(admin.effectivePeriod?.end);
    if (start?.instantMs === undefined || end?.instantMs === undefined || end.instantMs <= start.instantMs) {
      c.add('infusion-duration-unknown', 'infusion rate given but effectivePeriod has no start and end times', 'error');
      return;
    }
    const hours = (end.instantMs - start.instantMs) / 3_600_000;
    const rate = rateMgPerHour(dosage.rateQuantity, dosage.rateRatio, facts);
    if (typeof rate === 'string') {
      c.add('dose-unit-unknown', rate, 'error');
      return;
    }
    mg = rate * hours;
    label = `${fmt(rate)} mg/h × ${fmt(hours)} h`;
  } else {
    c.add('no-dose', 'administration records no dose', 'error');
    return;
  }
  ev.days.add(when.day, mg);
  // A plain "N mg" dose needs no "= N mg" repeated after it; conversions and infusions show their result.
  ev.steps.push(
    label.endsWith(' mg') && !label.includes('×')
      ? `${label} on ${isoFromDay(when.day)}`
      : `${label} on ${isoFromDay(when.day)} = ${fmt(mg)} mg`,
  );
}

/** Infusion rate in ingredient mg per hour, or the reason it cannot be read. */
function rateMgPerHour(rq: Quantity | undefined, rr: Ratio | undefined, facts: MedicationFacts): number | string {
  let amountMg: number | undefined;
  let perHours = 1;
  if (rr?.numerator) {
    const r = quantityToMg(rr.numerator, facts);
    if (!r.ok) return r.message;
    amountMg = r.mg;
    const days = durationDays({
      value: rr.denominator?.value ?? 1,
      code: rr.denominator?.code,
      unit: rr.denominator?.unit,
    });
    if (days === undefined)
      return `infusion rate denominator "${durationUnit(rr.denominator ?? {})}" is not a time unit`;
    perHours = days * 24;
  } else if (rq) {
    // A Quantity rate carries its time in the unit itself, e.g. "mg/h" or "mg/min".
    const unit = (rq.code ?? rq.unit ?? '').replace(/\s/g, '');
    const m = /^(.+)\/(h|hr|hour|min|d)$/i.exec(unit);
    if (!m) return `infusion rate unit "${unit}" is not an amount per time`;
    const r = quantityToMg({ value: rq.value, code: m[1], system: UCUM }, facts);
    if (!r.ok) return r.message;
    amountMg = r.mg;
    const t = m[2]!.toLowerCase();
    perHours = t === 'min' ? 1 / 60 : t === 'd' ? 24 : 1;
  }
  if (amountMg === undefined) return 'no infusion rate';
  return amountMg / perHours;
}
