/**
 * Dose quantities reduced to milligrams, millilitres or a count of dose units (tablets, vials, …).
 *
 * The UCUM code (`Quantity.code` with system http://unitsofmeasure.org) is read first and the display `unit`
 * only second (pitfall P9, docs/references.md). Any valid UCUM mass or volume unit is
 * converted with @lhncbc/ucum-lhc; a unit that is neither mass, volume nor a countable dose unit is reported,
 * never guessed (P10).
 */
import ucum from '@lhncbc/ucum-lhc';
import type { Quantity } from '@medplum/fhirtypes';
import { SNOMED, UCUM } from '../terminology/systems.ts';
import { isEdqm } from './routes.ts';

export type DoseAmount =
  | { kind: 'mass'; mg: number }
  | { kind: 'volume'; mL: number }
  | { kind: 'count'; count: number; unit: string }
  | { kind: 'per-weight'; unit: string }
  | { kind: 'unknown'; unit: string };

interface UcumUtils {
  convertUnitTo(from: string, value: number, to: string): { status: string; toVal?: number };
}
const ucumUtils = (ucum as unknown as { UcumLhcUtils: { getInstance(): UcumUtils } }).UcumLhcUtils.getInstance();

const MASS_MG: Record<string, number> = {
  mg: 1,
  g: 1000,
  ug: 0.001,
  mcg: 0.001,
  µg: 0.001,
  μg: 0.001,
  ng: 1e-6,
  kg: 1e6,
};
const VOLUME_ML: Record<string, number> = { ml: 1, l: 1000, cl: 10, dl: 100, ul: 0.001, µl: 0.001 };

/**
 * Words and codes that name one countable dose unit: UCUM annotations ({tbl}), the bare UCUM unity "1",
 * HL7 orderable drug form codes (TAB, CAP, …) and the words EHRs put in `unit` (the CDS Hooks Sandbox
 * sends "pill"; Cerner sends "tab(s)").
 */
const COUNT_UNITS = new Set([
  '1',
  '{tbl}',
  '{tablet}',
  '{tablets}',
  '{tab}',
  '{cap}',
  '{capsule}',
  '{capsules}',
  '{pill}',
  '{dose}',
  '{vial}',
  '{ampule}',
  '{ampoule}',
  '{amp}',
  '{syringe}',
  '{each}',
  '{unit}',
  '{puff}',
  '{actuat}',
  '{patch}',
  'tab',
  'tabs',
  'tab(s)',
  'tablet',
  'tablets',
  'tablet(s)',
  'cap',
  'caps',
  'capsule',
  'capsules',
  'pill',
  'pills',
  'vial',
  'vials',
  'ampule',
  'ampoule',
  'ampules',
  'ampoules',
  'amp',
  'syringe',
  'each',
  'ea',
  'dose',
  'doses',
  'unit',
  'units',
  'suppository',
  'supp',
  'enema',
  'tbl',
  'dtab',
  'etab',
  'ectab',
  'chewtab',
  'odt',
  'cpsl',
  // eMediplan (CHMED) writes '{Piece}' "Stk"; CH, DE and FR displays name the unit in their language.
  '{piece}',
  'piece',
  'pieces',
  'stk',
  'stück',
  'tablette',
  'tabletten',
  'kapsel',
  'kapseln',
  'ampulle',
  'ampullen',
  'comprimé',
  'comprimés',
  'gélule',
  'gélules',
]);

/**
 * Units of presentation sent as coded dose units. SNOMED CT: the CH-Term value set UnitCode (github hl7ch/ch-term
 * @788e193, input/resources/valueset/UnitCode.xml), used by CH EMED ("0.5 Tablet (unit of presentation)") and
 * eMediplan. EDQM: 15054000 Tablet (MII Medikation example mii-exa-medikation-medication-statement-hct; the French
 * IG's "Comprimé"), 15060000 Vial (Austrian e-Medikation AtEmedExampleMedicationCefuroxime). Packages, bottles and
 * spoonfuls are not dose units of known content and are left out.
 */
const SNOMED_UNITS_OF_PRESENTATION: Record<string, string> = {
  '732936001': 'tablet',
  '732937005': 'capsule',
  '732978007': 'ampule',
  '733026001': 'vial',
  '733019001': 'suppository',
  '733020007': 'syringe',
  '733005001': 'patch',
  '732981002': 'actuation',
  '733013000': 'sachet',
};
const EDQM_UNITS_OF_PRESENTATION: Record<string, string> = { '15054000': 'tablet', '15060000': 'vial' };

function unitOfPresentation(q: Quantity): string | undefined {
  if (!q.code) return undefined;
  if (q.system === SNOMED) return SNOMED_UNITS_OF_PRESENTATION[q.code];
  if (isEdqm(q.system)) return EDQM_UNITS_OF_PRESENTATION[q.code];
  return undefined;
}

const massCache = new Map<string, number | null>();
const volumeCache = new Map<string, number | null>();

function ucumFactor(cache: Map<string, number | null>, code: string, to: string): number | null {
  const cached = cache.get(code);
  if (cached !== undefined) return cached;
  let factor: number | null = null;
  try {
    const r = ucumUtils.convertUnitTo(code, 1, to);
    if (r.status === 'succeeded' && typeof r.toVal === 'number' && Number.isFinite(r.toVal)) factor = r.toVal;
  } catch {
    factor = null;
  }
  cache.set(code, factor);
  return factor;
}

/** Normalises one unit string (code or display) to a classified amount for `value`. */
function classify(value: number, unitText: string, isUcumCode: boolean): DoseAmount | undefined {
  const raw = unitText.trim();
  // SNOMED CT displays carry a semantic tag: "Tablet (unit of presentation)".
  const lower = raw.toLowerCase().replace(/\s*\(unit of presentation\)$/, '');
  if (lower === '') return undefined;
  if (/\/\s*(kg|m2|\[?m\^?2\]?)\b/i.test(raw) || /mg\/kg|mg\/m2/i.test(raw)) return { kind: 'per-weight', unit: raw };
  if (lower in MASS_MG) return { kind: 'mass', mg: value * MASS_MG[lower]! };
  if (lower in VOLUME_ML) return { kind: 'volume', mL: value * VOLUME_ML[lower]! };
  if (COUNT_UNITS.has(lower) || COUNT_UNITS.has(`{${lower}}`)) return { kind: 'count', count: value, unit: raw };
  if (lower === 'milligram' || lower === 'milligrams') return { kind: 'mass', mg: value };
  if (lower === 'gram' || lower === 'grams') return { kind: 'mass', mg: value * 1000 };
  if (lower === 'microgram' || lower === 'micrograms') return { kind: 'mass', mg: value / 1000 };
  if (lower === 'milliliter' || lower === 'millilitre' || lower === 'milliliters' || lower === 'millilitres')
    return { kind: 'volume', mL: value };
  if (isUcumCode) {
    const toMg = ucumFactor(massCache, raw, 'mg');
    if (toMg !== null) return { kind: 'mass', mg: value * toMg };
    const toMl = ucumFactor(volumeCache, raw, 'mL');
    if (toMl !== null) return { kind: 'volume', mL: value * toMl };
  }
  return undefined;
}

/** Reduces a FHIR Quantity used as a dose to mg, mL or a count of dose units. */
export function doseAmount(q: Quantity): DoseAmount | undefined {
  if (typeof q.value !== 'number' || !Number.isFinite(q.value) || q.value < 0) return undefined;
  const value = q.value;
  const presented = unitOfPresentation(q);
  if (presented) return { kind: 'count', count: value, unit: presented };
  if (q.code && (q.system === UCUM || q.system === undefined)) {
    const byCode = classify(value, q.code, q.system === UCUM);
    if (byCode?.kind === 'count' && q.unit) return { ...byCode, unit: q.unit };
    if (byCode) return byCode;
  }
  if (q.code && q.system && q.system !== UCUM) {
    // Orderable drug form codes (TAB, CAP) or SNOMED unit concepts: count them when the code names a dose unit.
    const byForeignCode = classify(value, q.code, false);
    if (byForeignCode && byForeignCode.kind === 'count') return byForeignCode;
  }
  if (q.unit) {
    const byUnit = classify(value, q.unit, false);
    if (byUnit) return byUnit;
  }
  if (!q.unit && !q.code) return { kind: 'unknown', unit: '(no unit)' };
  return { kind: 'unknown', unit: q.code ?? q.unit ?? '' };
}

const DURATION_DAYS: Record<string, number> = {
  d: 1,
  day: 1,
  days: 1,
  wk: 7,
  week: 7,
  weeks: 7,
  h: 1 / 24,
  hour: 1 / 24,
  hours: 1 / 24,
  min: 1 / 1440,
  s: 1 / 86400,
  mo: 30,
  month: 30,
  months: 30,
  a: 365,
  year: 365,
  years: 365,
};

/**
 * A Duration in days (expectedSupplyDuration, boundsDuration). Months and years use the CDC convention of
 * 30 and 365 days only where a calendar anchor is not available; callers with an anchor use addMonths.
 */
export function durationDays(q: { value?: number; code?: string; unit?: string }): number | undefined {
  if (typeof q.value !== 'number' || !Number.isFinite(q.value) || q.value < 0) return undefined;
  const key = (q.code ?? q.unit ?? '').trim().toLowerCase();
  const factor = DURATION_DAYS[key];
  return factor === undefined ? undefined : q.value * factor;
}

export function durationUnit(q: { code?: string; unit?: string }): string {
  return (q.code ?? q.unit ?? '').trim().toLowerCase();
}
