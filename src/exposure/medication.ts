/**
 * Which glucocorticoid a medication record names, with what strength and dose form.
 *
 * Codes are tried before text: an RxNorm product in the verified table, any RxNorm coding whose display is an
 * RxNorm name, an RxNorm ingredient, ATC, SNOMED CT substance, Medication.ingredient items; free text last and
 * flagged. The first coding that identifies a glucocorticoid wins, not coding[0] (the CDC STU3 fragility).
 */
import type { CodeableConcept, Coding, Medication, Ratio } from '@medplum/fhirtypes';
import { ATC, ATC_ALIASES, RXNORM, SNOMED } from '../terminology/systems.ts';
import {
  type Ingredient,
  ingredientByAtc,
  ingredientByRxnormIn,
  ingredientBySnomed,
  ingredientFromText,
  NOT_GLUCOCORTICOID_RXNORM,
} from './ingredients.ts';
import { type Product, type ProductStrength, productByRxcui, productFromName } from './products.ts';
import { type RouteClass, routeClassFromDoseForm } from './routes.ts';
import { doseAmount } from './units.ts';

export type RecognisedBy =
  | 'rxnorm-product'
  | 'rxnorm-name'
  | 'rxnorm-ingredient'
  | 'atc'
  | 'snomed'
  | 'medication-ingredient'
  | 'text';

export interface MedicationFacts {
  ingredient: Ingredient;
  recognisedBy: RecognisedBy;
  /** Human label: the product name or the ingredient. */
  label: string;
  strength: ProductStrength;
  strengthSource?: 'rxnorm' | 'medication-ingredient' | 'text';
  formRoute: RouteClass | undefined;
  notes: Array<{ code: 'ingredient-from-text' | 'strength-conflict' | 'code-display-conflict'; message: string }>;
}

export type MedicationResolution =
  | { kind: 'glucocorticoid'; facts: MedicationFacts }
  | { kind: 'not-glucocorticoid' }
  | { kind: 'unidentified'; message: string };

const isRxnorm = (c: Coding): boolean => c.system === RXNORM || c.system === 'urn:oid:2.16.840.1.113883.6.88';
const isAtc = (c: Coding): boolean => c.system === ATC || (c.system !== undefined && ATC_ALIASES.includes(c.system));
const isSnomed = (c: Coding): boolean => c.system === SNOMED;

function strengthFromRatio(r: Ratio | undefined): ProductStrength | undefined {
  if (!r?.numerator || !r.denominator) return undefined;
  const num = doseAmount(r.numerator);
  const den = doseAmount({
    value: r.denominator.value ?? 1,
    unit: r.denominator.unit,
    code: r.denominator.code,
    system: r.denominator.system,
  });
  if (num?.kind !== 'mass' || !den) return undefined;
  if (den.kind === 'count' && den.count > 0) return { mgPerUnit: num.mg / den.count };
  if (den.kind === 'volume' && den.mL > 0) return { mgPerMl: num.mg / den.mL };
  if (den.kind === 'unknown' && den.unit === '(no unit)' && (r.denominator.value ?? 1) > 0)
    return { mgPerUnit: num.mg / (r.denominator.value ?? 1) };
  return undefined;
}

const sameStrength = (a: ProductStrength, b: ProductStrength): boolean =>
  (a.mgPerUnit === undefined || b.mgPerUnit === undefined || Math.abs(a.mgPerUnit - b.mgPerUnit) < 1e-9) &&
  (a.mgPerMl === undefined || b.mgPerMl === undefined || Math.abs(a.mgPerMl - b.mgPerMl) < 1e-9);

const hasStrength = (s: ProductStrength): boolean => s.mgPerUnit !== undefined || s.mgPerMl !== undefined;

function fromProduct(product: Product, recognisedBy: RecognisedBy): MedicationFacts {
  return {
    ingredient: product.ingredient,
    recognisedBy,
    label: product.name,
    strength: product.strength,
    strengthSource: hasStrength(product.strength) ? 'rxnorm' : undefined,
    formRoute: product.formRoute,
    notes: [],
  };
}

function fromConcept(concept: CodeableConcept | undefined): MedicationFacts | 'not-glucocorticoid' | undefined {
  if (!concept) return undefined;
  const codings = concept.coding ?? [];
  for (const c of codings) {
    if (isRxnorm(c) && c.code && NOT_GLUCOCORTICOID_RXNORM.has(c.code)) return 'not-glucocorticoid';
  }
  for (const c of codings) {
    if (!isRxnorm(c) || !c.code) continue;
    const product = productByRxcui(c.code);
    if (!product) continue;
    const facts = fromProduct(product, 'rxnorm-product');
    const shown = c.display ? productFromName(c.display) : undefined;
    if (shown && (shown.ingredient.id !== product.ingredient.id || !sameStrength(shown.strength, product.strength))) {
      facts.notes.push({
        code: 'code-display-conflict',
        message: `RxNorm ${c.code} is "${product.name}" but its display says "${c.display}"`,
      });
    }
    return facts;
  }
  for (const c of codings) {
    if (!isRxnorm(c) || !c.code || !c.display) continue;
    const product = productFromName(c.display, c.code);
    if (product) return fromProduct(product, 'rxnorm-name');
  }
  // SNOMED CT / dm+d product concepts ("Prednisolone 5mg tablets"): the coded concept's own display names it.
  for (const c of codings) {
    if (!isSnomed(c) || !c.code || !c.display || ingredientBySnomed(c.code)) continue;
    const product = productFromName(c.display);
    if (product && (product.strength.mgPerUnit !== undefined || product.strength.mgPerMl !== undefined))
      return fromProduct(product, 'snomed');
  }
  for (const c of codings) {
    if (!c.code) continue;
    const ing = isRxnorm(c)
      ? ingredientByRxnormIn(c.code)
      : isAtc(c)
        ? ingredientByAtc(c.code)
        : isSnomed(c)
          ? ingredientBySnomed(c.code)
          : undefined;
    if (ing) {
      const by: RecognisedBy = isRxnorm(c) ? 'rxnorm-ingredient' : isAtc(c) ? 'atc' : 'snomed';
      // An ingredient code carries no strength; the product name in the text may.
      const named = productFromName(concept.text ?? c.display ?? '');
      const strength = named && named.ingredient.id === ing.id ? named.strength : {};
      return {
        ingredient: ing,
        recognisedBy: by,
        label: named?.name ?? c.display ?? ing.id,
        strength,
        strengthSource: hasStrength(strength) ? 'text' : undefined,
        formRoute: named?.formRoute,
        notes: [],
      };
    }
  }
  return undefined;
}

function fromText(text: string | undefined): MedicationFacts | undefined {
  if (!text) return undefined;
  const product = productFromName(text);
  if (product) {
    const facts = fromProduct(product, 'text');
    if (hasStrength(product.strength)) facts.strengthSource = 'text';
    facts.notes.push({
      code: 'ingredient-from-text',
      message: `glucocorticoid recognised from text "${text}" (no code)`,
    });
    return facts;
  }
  const ing = ingredientFromText(text);
  if (!ing) return undefined;
  return {
    ingredient: ing,
    recognisedBy: 'text',
    label: text,
    strength: {},
    formRoute: routeClassFromDoseForm(text),
    notes: [{ code: 'ingredient-from-text', message: `glucocorticoid recognised from text "${text}" (no code)` }],
  };
}

/**
 * Resolves what a record's medication is. `medication` is the resolved Medication resource when the record
 * used medicationReference; `concept` its medicationCodeableConcept; `displayFallback` the reference's display.
 */
export function resolveMedication(
  concept: CodeableConcept | undefined,
  medication: Medication | undefined,
  displayFallback?: string,
): MedicationResolution {
  const code = medication?.code ?? concept;
  const byCode = fromConcept(code);
  if (byCode === 'not-glucocorticoid') return { kind: 'not-glucocorticoid' };
  let facts: MedicationFacts | undefined = byCode;

  // Medication.ingredient: a coded or named glucocorticoid item, and its strength as a fallback.
  let ingredientStrength: ProductStrength | undefined;
  for (const item of medication?.ingredient ?? []) {
    const itemFacts =
      fromConcept(item.itemCodeableConcept) ?? fromText(item.itemCodeableConcept?.text ?? item.itemReference?.display);
    if (!itemFacts || itemFacts === 'not-glucocorticoid') continue;
    if (!facts) {
      facts = { ...itemFacts, recognisedBy: itemFacts.recognisedBy === 'text' ? 'text' : 'medication-ingredient' };
    }
    if (itemFacts.ingredient.id === facts.ingredient.id) ingredientStrength = strengthFromRatio(item.strength);
    if (ingredientStrength) break;
  }
  if (!facts) {
    const text = code?.text ?? code?.coding?.find((c) => c.display)?.display ?? displayFallback;
    facts = fromText(text);
  }
  if (!facts) {
    const anything = code?.coding?.length || code?.text || medication || displayFallback;
    if (!anything) return { kind: 'unidentified', message: 'the record names no medication' };
    return { kind: 'not-glucocorticoid' };
  }
  if (ingredientStrength) {
    if (!hasStrength(facts.strength)) {
      facts.strength = ingredientStrength;
      facts.strengthSource = 'medication-ingredient';
    } else if (!sameStrength(facts.strength, ingredientStrength)) {
      facts.notes.push({
        code: 'strength-conflict',
        message: `Medication.ingredient strength differs from RxNorm "${facts.label}"; the RxNorm strength was used`,
      });
    }
  }
  if (!facts.formRoute && medication?.form) {
    facts.formRoute = routeClassFromDoseForm(
      medication.form.text ?? medication.form.coding?.find((c) => c.display)?.display,
    );
  }
  return { kind: 'glucocorticoid', facts };
}
