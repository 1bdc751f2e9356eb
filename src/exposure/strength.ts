/**
 * Strengths: how much active moiety one dose unit or one millilitre holds, read from a drug name
 * ("Prednisolon 15 mg/5 ml", "Methylprednisolone 1,000 mg powder for injection", "NaraDex 2,5 mg") or from
 * Medication.ingredient.strength (a Ratio).
 *
 * Numbers in names come from every locale, so separators are read by a fixed rule:
 * - "2,5 mg" and "1.5 mg" are decimals: a separator followed by one or two digits is a decimal mark.
 * - "1,000 mg", "1.000 mg", "1'000 mg", "1 000 mg": a separator followed by exactly three digits (and by no
 *   other digit) is a thousands separator only when the integer part does not start with 0 and the grouped
 *   value is plausible for the ingredient: at most its largest marketed single unit (GROUPED_MAX_MG). A leading
 *   zero makes it a decimal mark ("0,125 mg"). Any other grouping ("3,000 mg" of methylprednisolone, "1.000 mg"
 *   of dexamethasone, "2 500 mg") is ambiguous and gives no strength at all: reported, never guessed.
 * A strength of 0 is never a strength: it is what a misread separator produces ("1,000" → "000").
 */
import type { Ratio } from '@medplum/fhirtypes';
import type { IngredientId } from './ingredients.ts';
import { doseAmount } from './units.ts';

export interface ProductStrength {
  /** Active-moiety mg in one dose unit (tablet, vial, capsule) … */
  mgPerUnit?: number;
  /** … or in one mL of a liquid. */
  mgPerMl?: number;
}

/**
 * The largest single unit on the market, in mg, of the ingredients that come in gram doses: Solu-Medrol 2 g,
 * Solu-Decortin H (prednisolone) 1000 mg, Solu-Cortef 1 g. A grouped number above it (or any grouped number for
 * another ingredient) is not read as thousands.
 */
const GROUPED_MAX_MG: Partial<Record<IngredientId, number>> = {
  methylprednisolone: 2000,
  prednisolone: 1000,
  hydrocortisone: 1000,
};

const MASS_MG: Record<string, number> = {
  mg: 1,
  milligram: 1,
  milligrams: 1,
  milligramm: 1,
  g: 1000,
  gm: 1000,
  gram: 1000,
  grams: 1000,
  gramm: 1000,
  mcg: 0.001,
  ug: 0.001,
  µg: 0.001,
  μg: 0.001,
  microgram: 0.001,
  micrograms: 0.001,
  mikrogramm: 0.001,
};

/** Denominators of a strength: per volume, per countable unit, or something that is not a dose unit. */
const PER_VOLUME_ML: Record<string, number> = { ml: 1, milliliter: 1, millilitre: 1, milliliters: 1, l: 1000 };
const PER_UNIT =
  /^(tab|tabs|tablet|tablets|tabl|tablette|tabletten|comprime|comprimes|cp|cap|caps|capsule|capsules|kapsel|kapseln|gelule|gelules|vial|vials|amp|ampoule|ampule|ampulle|dose|unit|stk|piece|suppository|supp)$/;

const GROUPED = String.raw`\d{1,3}(?:(?<sep>[,.'’\u00a0\u202f ])\d{3})(?:\k<sep>\d{3})*(?!\d)(?:[.,]\d+)?`;
const PLAIN = String.raw`\d+(?:[.,]\d+)?`;
const MASS_RE = new RegExp(
  String.raw`(?<![\d.,'’])(?<num>${GROUPED}|${PLAIN})\s*(?<unit>mg|mcg|µg|μg|ug|gm|g|milligrams?|milligramm|micrograms?|mikrogramm|grams?|gramm)(?!\p{L})`,
  'giu',
);
/** What may follow a mass: "/5 ml", "/ML", " per tablet", " in 500 mL". */
const PER_RE = /\s*(?<word>\/|per\s|in\s|pro\s|par\s)\s*(?<dnum>\d+(?:[.,]\d+)?)?\s*(?<dunit>\p{L}+)?/uy;

/** A number as written: grouping decided by the rule in the module comment. */
function readNumber(raw: string, sep: string | undefined, ingredient: IngredientId | undefined): number | undefined {
  if (sep === undefined) return Number(raw.replace(',', '.'));
  const groups = raw.split(sep);
  const decimalMark = sep === ',' ? '.' : sep === '.' ? ',' : undefined;
  const grouped = Number(decimalMark ? groups.join('').replace(decimalMark, '.') : groups.join(''));
  const max = ingredient ? (GROUPED_MAX_MG[ingredient] ?? 0) : 0;
  if (!groups[0]!.startsWith('0') && grouped <= max) return grouped;
  // "0,125": a leading zero makes the separator a decimal mark.
  if ((sep === ',' || sep === '.') && groups[0]!.startsWith('0') && groups.length === 2)
    return Number(raw.replace(',', '.'));
  // Anything else is ambiguous: "3,000 mg" of methylprednisolone is either 3 g (more than any unit sold) or
  // 3 mg written with three decimals, and "2 500 mg" may be two numbers. A thousandfold error shown as exact is
  // the worst outcome, so no strength is read: the record is reported (strength unknown), not guessed.
  return undefined;
}

export interface ReadStrength {
  strength: ProductStrength;
  /** Where the strength ends in the text (the dose form follows it in RxNorm-style names). */
  end: number;
}

/**
 * The first strength in a piece of text. Per-volume strengths keep their denominator ("15 mg/5 ml" → 3 mg/mL);
 * per-actuation, per-gram (creams) and per-time (patches) strengths have no systemic dose unit and give {};
 * an unreadable denominator after "/" gives no strength rather than a guess. Undefined when no mass is written.
 */
export function readStrength(text: string, ingredient: IngredientId | undefined): ReadStrength | undefined {
  MASS_RE.lastIndex = 0;
  const m = MASS_RE.exec(text);
  if (!m?.groups) return undefined;
  const amount = readNumber(m.groups.num!, m.groups.sep, ingredient);
  const mg = amount === undefined ? Number.NaN : amount * MASS_MG[m.groups.unit!.toLowerCase()]!;
  let end = m.index + m[0].length;
  if (!Number.isFinite(mg) || mg <= 0) return { strength: {}, end };
  PER_RE.lastIndex = end;
  const per = PER_RE.exec(text);
  if (!per?.groups) return { strength: { mgPerUnit: mg }, end };
  const dunit = per.groups.dunit?.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');
  const dnum = per.groups.dnum === undefined ? 1 : Number(per.groups.dnum.replace(',', '.'));
  if (dunit !== undefined && dnum > 0) {
    const perMl = PER_VOLUME_ML[dunit];
    if (perMl !== undefined) return { strength: { mgPerMl: mg / (dnum * perMl) }, end: end + per[0].length };
    if (PER_UNIT.test(dunit)) return { strength: { mgPerUnit: mg / dnum }, end: end + per[0].length };
  }
  // "5 mg in the morning" has no denominator; "0.055 MG/ACTUAT" or "25 micrograms/hour" has one we cannot use.
  if (per.groups.word !== '/') return { strength: { mgPerUnit: mg }, end };
  end += per[0].length;
  return { strength: {}, end };
}

/** Medication.ingredient.strength as mg per unit or per mL; undefined when it is neither. */
export function strengthFromRatio(r: Ratio | undefined): ProductStrength | undefined {
  if (!r?.numerator || !r.denominator) return undefined;
  const num = doseAmount(r.numerator);
  const den = doseAmount({
    value: r.denominator.value ?? 1,
    unit: r.denominator.unit,
    code: r.denominator.code,
    system: r.denominator.system,
  });
  if (num?.kind !== 'mass' || num.mg <= 0 || !den) return undefined;
  if (den.kind === 'count' && den.count > 0) return { mgPerUnit: num.mg / den.count };
  if (den.kind === 'volume' && den.mL > 0) return { mgPerMl: num.mg / den.mL };
  return undefined;
}

export const hasStrength = (s: ProductStrength): boolean => s.mgPerUnit !== undefined || s.mgPerMl !== undefined;

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** Same where both say something; a strength per unit and one per mL never contradict each other here. */
export const sameStrength = (a: ProductStrength, b: ProductStrength): boolean =>
  (a.mgPerUnit === undefined || b.mgPerUnit === undefined || near(a.mgPerUnit, b.mgPerUnit)) &&
  (a.mgPerMl === undefined || b.mgPerMl === undefined || near(a.mgPerMl, b.mgPerMl));

/** Per unit on one side and per mL only on the other: they describe different kinds of product. */
export const differentKind = (a: ProductStrength, b: ProductStrength): boolean =>
  hasStrength(a) &&
  hasStrength(b) &&
  (a.mgPerUnit === undefined) !== (b.mgPerUnit === undefined) &&
  (a.mgPerMl === undefined) !== (b.mgPerMl === undefined);

const fmt = (n: number): string => String(Math.round(n * 10000) / 10000);

export function describeStrength(s: ProductStrength): string {
  const parts: string[] = [];
  if (s.mgPerUnit !== undefined) parts.push(`${fmt(s.mgPerUnit)} mg per unit`);
  if (s.mgPerMl !== undefined) parts.push(`${fmt(s.mgPerMl)} mg/mL`);
  return parts.join(' and ') || 'no strength';
}

/** Adds the strengths of two items of the same ingredient (a salt mixture such as Celestone Soluspan). */
export function addStrengths(a: ProductStrength, b: ProductStrength): ProductStrength {
  const out: ProductStrength = {};
  if (a.mgPerUnit !== undefined || b.mgPerUnit !== undefined) out.mgPerUnit = (a.mgPerUnit ?? 0) + (b.mgPerUnit ?? 0);
  if (a.mgPerMl !== undefined || b.mgPerMl !== undefined) out.mgPerMl = (a.mgPerMl ?? 0) + (b.mgPerMl ?? 0);
  return out;
}
