/**
 * RxNorm products: which glucocorticoid a product contains, its strength and its dose form.
 *
 * Rows keyed by RxCUI are the ones whose code and name we saw agree in at least two independent public
 * sources (see the closing note of issue 2); every other product is recognised from its RxNorm name, which
 * follows the fixed SCD grammar "<ingredient> <strength> <unit>[/<per>] <dose form> [<brand>]"
 * (e.g. "methylprednisolone sodium succinate 1000 MG Injection", "prednisolone 3 MG/ML Oral Solution").
 * Like the CDC opioid calculator, strength comes from RxNorm rather than from Medication.ingredient.
 * The same parser reads any other product name (SNOMED CT and dm+d displays, CH/FR/DE names, free text):
 * strength.ts decides thousands separators and decimal commas, and keeps a per-volume denominator
 * ("15 mg/5 ml" is 3 mg/mL, never 15 mg a unit); medication.ts lets Medication.ingredient.strength win over
 * such a non-RxNorm name.
 */
import { type Ingredient, ingredientFromText } from './ingredients.ts';
import { type RouteClass, routeClassFromDoseForm } from './routes.ts';
import { type ProductStrength, readStrength } from './strength.ts';

export type { ProductStrength } from './strength.ts';

export interface Product {
  rxcui?: string;
  name: string;
  ingredient: Ingredient;
  strength: ProductStrength;
  doseForm: string;
  formRoute: RouteClass | undefined;
}

/** RxCUI → RxNorm name, for the products whose code we verified (see module comment). */
const VERIFIED_RXCUI: Record<string, string> = {
  '312617': 'prednisone 5 MG Oral Tablet',
  '198145': 'prednisone 10 MG Oral Tablet',
  '312615': 'prednisone 20 MG Oral Tablet',
  '259966': 'methylprednisolone 4 MG Oral Tablet',
  '762675': 'methylprednisolone 4 MG Oral Tablet',
  '197582': 'dexamethasone 4 MG Oral Tablet',
  // The CDS Hooks Sandbox's medication list (cds-hooks/sandbox, src/reducers/medication-reducers.js).
  '197580': 'dexamethasone 1.5 MG Oral Tablet',
  '345816': 'dexamethasone 0.75 MG Oral Tablet',
  '316056': 'hydrocortisone 10 MG',
  '436508': 'fluprednisolone 1.5 MG Oral Tablet',
  '1156758': 'prednisolone Pill',
  '106256': 'triamcinolone 1 MG/ML Topical Cream',
  '198305': 'triamcinolone 0.25 MG/ML Topical Cream',
  '752370': '120 ACTUAT triamcinolone 0.055 MG/ACTUAT Nasal Inhaler',
  '745813': '120 ACTUAT budesonide 0.08 MG/ACTUAT / formoterol 0.0045 MG/ACTUAT Metered Dose Inhaler',
  '404630': 'ciprofloxacin 3 MG/ML / dexamethasone 1 MG/ML Otic Suspension',
  '351396': 'hydrocortisone 25 MG/ML Rectal Cream',
  '310893': 'hydrocortisone 25 MG/ML / pramoxine 10 MG/ML Topical Cream',
};

/**
 * Common systemic products of every ingredient in the equivalence table, by RxNorm name. They are parsed
 * like any other name; listing them here documents what the engine is tested against.
 */
export const COMMON_PRODUCT_NAMES: readonly string[] = [
  'prednisone 1 MG Oral Tablet',
  'prednisone 2.5 MG Oral Tablet',
  'prednisone 5 MG Oral Tablet',
  'prednisone 10 MG Oral Tablet',
  'prednisone 20 MG Oral Tablet',
  'prednisone 50 MG Oral Tablet',
  'prednisone 1 MG/ML Oral Solution',
  'prednisone 5 MG Delayed Release Oral Tablet',
  'prednisolone 5 MG Oral Tablet',
  'prednisolone 1 MG Oral Tablet',
  'prednisolone 25 MG Oral Tablet',
  'prednisolone 3 MG/ML Oral Solution',
  'prednisolone sodium phosphate 3 MG/ML Oral Solution',
  'prednisolone 5 MG Disintegrating Oral Tablet',
  'methylprednisolone 4 MG Oral Tablet',
  'methylprednisolone 8 MG Oral Tablet',
  'methylprednisolone 16 MG Oral Tablet',
  'methylprednisolone 32 MG Oral Tablet',
  'methylprednisolone sodium succinate 40 MG Injection',
  'methylprednisolone sodium succinate 125 MG Injection',
  'methylprednisolone sodium succinate 500 MG Injection',
  'methylprednisolone sodium succinate 1000 MG Injection',
  'methylprednisolone acetate 40 MG/ML Injectable Suspension',
  'methylprednisolone acetate 80 MG/ML Injectable Suspension',
  'hydrocortisone 5 MG Oral Tablet',
  'hydrocortisone 10 MG Oral Tablet',
  'hydrocortisone 20 MG Oral Tablet',
  'hydrocortisone sodium succinate 100 MG Injection',
  'hydrocortisone sodium succinate 250 MG Injection',
  'cortisone acetate 25 MG Oral Tablet',
  'dexamethasone 0.5 MG Oral Tablet',
  'dexamethasone 0.75 MG Oral Tablet',
  'dexamethasone 1 MG Oral Tablet',
  'dexamethasone 2 MG Oral Tablet',
  'dexamethasone 4 MG Oral Tablet',
  'dexamethasone 6 MG Oral Tablet',
  'dexamethasone 0.1 MG/ML Oral Solution',
  'dexamethasone phosphate 4 MG/ML Injectable Solution',
  'dexamethasone phosphate 10 MG/ML Injectable Solution',
  'betamethasone 0.6 MG/ML Oral Solution',
  'betamethasone sodium phosphate 3 MG/ML / betamethasone acetate 3 MG/ML Injectable Suspension',
  'triamcinolone acetonide 40 MG/ML Injectable Suspension',
  'triamcinolone acetonide 10 MG/ML Injectable Suspension',
  'triamcinolone hexacetonide 20 MG/ML Injectable Suspension',
  'deflazacort 6 MG Oral Tablet',
  'deflazacort 18 MG Oral Tablet',
  'deflazacort 30 MG Oral Tablet',
  'deflazacort 36 MG Oral Tablet',
  'deflazacort 22.75 MG/ML Oral Suspension',
  'budesonide 3 MG Delayed Release Oral Capsule',
  'budesonide 9 MG Extended Release Oral Tablet',
];

/** Names come from EHR data, so the memo is bounded: past this many it starts again. */
const PARSED_CACHE_MAX = 10_000;
// rxcui ('' for none) → name → parsed product (null: not a glucocorticoid product). Two levels, so that a
// lookup does not build a key string.
const parsedCache = new Map<string, Map<string, Product | null>>();
let parsedCount = 0;

/**
 * Parses an RxNorm-style drug name. Returns undefined when the name does not name a glucocorticoid with a
 * strength. When several ingredients have strengths ("betamethasone sodium phosphate 3 MG/ML / betamethasone
 * acetate 3 MG/ML"), strengths of the same ingredient are added; other ingredients are ignored.
 */
export function productFromName(name: string, rxcui?: string): Product | undefined {
  let byName = parsedCache.get(rxcui ?? '');
  const cached = byName?.get(name);
  if (cached !== undefined) return cached ?? undefined;
  const result = parse(name, rxcui);
  if (parsedCount >= PARSED_CACHE_MAX) {
    parsedCache.clear();
    parsedCount = 0;
    byName = undefined;
  }
  if (!byName) {
    byName = new Map();
    parsedCache.set(rxcui ?? '', byName);
  }
  byName.set(name, result ?? null);
  parsedCount++;
  return result;
}

function parse(name: string, rxcui: string | undefined): Product | undefined {
  const ingredient = ingredientFromText(name);
  if (!ingredient) return undefined;
  const segments = name.replace(/\[.*?\]/g, ' ').split(/\s\/\s/);
  const strength: ProductStrength = {};
  let lastMatchEnd = 0;
  let lastSegment = '';
  for (const segment of segments) {
    const segIngredient = ingredientFromText(segment);
    const read = readStrength(segment, segIngredient?.id);
    if (!read) continue;
    lastSegment = segment;
    lastMatchEnd = read.end;
    if (segIngredient?.id !== ingredient.id) continue;
    // MG/ACTUAT and MG/MG (topical concentrations) read as {}: no systemic dose unit we can count.
    if (read.strength.mgPerMl !== undefined) strength.mgPerMl = (strength.mgPerMl ?? 0) + read.strength.mgPerMl;
    if (read.strength.mgPerUnit !== undefined) strength.mgPerUnit = (strength.mgPerUnit ?? 0) + read.strength.mgPerUnit;
  }
  const doseForm = lastSegment
    .slice(lastMatchEnd)
    .replace(/[{}()]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { rxcui, name, ingredient, strength, doseForm, formRoute: routeClassFromDoseForm(doseForm || name) };
}

export function productByRxcui(rxcui: string): Product | undefined {
  const name = VERIFIED_RXCUI[rxcui];
  return name ? productFromName(name, rxcui) : undefined;
}

export function verifiedRxcuis(): string[] {
  return Object.keys(VERIFIED_RXCUI);
}
