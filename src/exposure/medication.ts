/**
 * Which glucocorticoid a medication record names, with what strength and dose form — or why it is not one, or
 * that it cannot be told.
 *
 * Codes are tried before text: an RxNorm product in the verified table, any RxNorm coding whose display is an
 * RxNorm name, an RxNorm ingredient, ATC, SNOMED CT substance or product, Medication.ingredient items (coded,
 * named, or a contained Substance); free text last and flagged. The first coding that identifies a
 * glucocorticoid wins, not coding[0] (the CDC STU3 fragility).
 *
 * A record is "not a glucocorticoid" only on positive evidence: a code of a drug terminology whose meaning we can
 * read (an RxNorm, SNOMED CT or ANSM substance coding with its name, an ATC code) that names another drug.
 * Product codes (NDC, GTIN, UCD, PZN, local systems) and free text that names no glucocorticoid cannot tell a
 * brand we do not know from another drug, so such a record is "unidentified" and reported, never dropped.
 */
import type { CodeableConcept, Coding, Medication, Reference, Resource, Substance } from '@medplum/fhirtypes';
import { ATC, ATC_ALIASES, RXNORM, SNOMED } from '../terminology/systems.ts';
import { doseFormNames } from './doseForms.ts';
import {
  type Ingredient,
  ingredientByAtc,
  ingredientByRxnormIn,
  ingredientBySnomed,
  ingredientFromText,
  NOT_GLUCOCORTICOID_RXNORM,
} from './ingredients.ts';
import { type Product, productByRxcui, productFromName } from './products.ts';
import { type RouteClass, routeClassFromDoseForm, unitFormFromDoseForm } from './routes.ts';
import {
  addStrengths,
  describeStrength,
  differentKind,
  hasStrength,
  type ProductStrength,
  sameStrength,
  strengthFromRatio,
} from './strength.ts';

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
  /** rxnorm: an RxNorm name or verified RxCUI; text: any other name; medication-ingredient: the structure. */
  strengthSource?: 'rxnorm' | 'medication-ingredient' | 'text';
  formRoute: RouteClass | undefined;
  /** The countable solid unit of the dose form (a tablet product), for a dose written without a unit. */
  unitForm?: 'tablet' | 'capsule';
  notes: Array<{ code: 'ingredient-from-text' | 'strength-conflict' | 'code-display-conflict'; message: string }>;
}

export type MedicationResolution =
  | { kind: 'glucocorticoid'; facts: MedicationFacts }
  | { kind: 'not-glucocorticoid'; reason: string }
  | { kind: 'unidentified'; message: string };

/** Germany's ATC (BfArM) as the MII Medikation IG sends it. */
const MORE_ATC = ['http://fhir.de/CodeSystem/bfarm/atc'];
/** The French ANSM substance referential (SMS), whose displays are substance names (FR medication IG). */
const ANSM_SMS = 'http://data.esante.gouv.fr/ansm/medicament/codeSMS';

const isRxnorm = (c: Coding): boolean => c.system === RXNORM || c.system === 'urn:oid:2.16.840.1.113883.6.88';
const isAtc = (c: Coding): boolean =>
  c.system === ATC || (c.system !== undefined && (ATC_ALIASES.includes(c.system) || MORE_ATC.includes(c.system)));
const isSnomed = (c: Coding): boolean => c.system === SNOMED;

function fromProduct(product: Product, recognisedBy: RecognisedBy, source: 'rxnorm' | 'text'): MedicationFacts {
  return {
    ingredient: product.ingredient,
    recognisedBy,
    label: product.name,
    strength: product.strength,
    strengthSource: hasStrength(product.strength) ? source : undefined,
    formRoute: product.formRoute,
    unitForm: unitFormFromDoseForm(product.doseForm || product.name),
    notes: [],
  };
}

type ConceptResult = MedicationFacts | { notGlucocorticoid: string } | undefined;

function fromConcept(concept: CodeableConcept | undefined): ConceptResult {
  if (!concept) return undefined;
  const codings = concept.coding ?? [];
  for (const c of codings) {
    if (isRxnorm(c) && c.code && NOT_GLUCOCORTICOID_RXNORM.has(c.code))
      return { notGlucocorticoid: `RxNorm ${c.code}${c.display ? ` "${c.display}"` : ''} is not a glucocorticoid` };
  }
  for (const c of codings) {
    if (!isRxnorm(c) || !c.code) continue;
    const product = productByRxcui(c.code);
    if (!product) continue;
    const facts = fromProduct(product, 'rxnorm-product', 'rxnorm');
    const shown = c.display ? productFromName(c.display) : undefined;
    if (shown && (shown.ingredient.id !== product.ingredient.id || !sameStrength(shown.strength, product.strength))) {
      facts.notes.push({
        code: 'code-display-conflict',
        message: `RxNorm ${c.code} is "${product.name}" but its display says "${c.display}"`,
      });
    }
    return facts;
  }
  // An ingredient's RxCUI goes to the ingredient path below, which can take a strength from the text.
  for (const c of codings) {
    if (!isRxnorm(c) || !c.code || !c.display || ingredientByRxnormIn(c.code)) continue;
    const product = productFromName(c.display, c.code);
    if (product) return fromProduct(product, 'rxnorm-name', 'rxnorm');
  }
  // SNOMED CT / dm+d product concepts ("Prednisolone 5mg tablets"): the coded concept's own display names it.
  for (const c of codings) {
    if (!isSnomed(c) || !c.code || !c.display || ingredientBySnomed(c.code)) continue;
    const product = productFromName(c.display);
    if (product && hasStrength(product.strength)) return fromProduct(product, 'snomed', 'text');
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
    if (!ing) continue;
    const by: RecognisedBy = isRxnorm(c) ? 'rxnorm-ingredient' : isAtc(c) ? 'atc' : 'snomed';
    // An ingredient code carries no strength; the product name in the text may.
    const named = productFromName(concept.text ?? c.display ?? '');
    const product = named && named.ingredient.id === ing.id ? named : undefined;
    return {
      ...(product ? fromProduct(product, by, 'text') : { strength: {}, formRoute: undefined, notes: [] }),
      ingredient: ing,
      recognisedBy: by,
      label: named?.name ?? c.display ?? ing.id,
    };
  }
  return undefined;
}

function fromText(text: string | undefined): MedicationFacts | undefined {
  if (!text) return undefined;
  const note = {
    code: 'ingredient-from-text' as const,
    message: `glucocorticoid recognised from text "${text}" (no code)`,
  };
  const product = productFromName(text);
  if (product) return { ...fromProduct(product, 'text', 'text'), notes: [note] };
  const ing = ingredientFromText(text);
  if (!ing) return undefined;
  return { ingredient: ing, recognisedBy: 'text', label: text, strength: {}, formRoute: undefined, notes: [note] };
}

/** Why a coding shows the drug is not a glucocorticoid (it is one we can read, naming another drug). */
function otherDrug(concept: CodeableConcept | undefined): string | undefined {
  for (const c of concept?.coding ?? []) {
    if (!c.code) continue;
    if (isAtc(c)) return `ATC ${c.code}${c.display ? ` "${c.display}"` : ''} is not a glucocorticoid`;
    const named = isRxnorm(c) ? 'RxNorm' : isSnomed(c) ? 'SNOMED CT' : c.system === ANSM_SMS ? 'ANSM SMS' : undefined;
    if (named && c.display) return `${named} ${c.code} "${c.display}" is not a glucocorticoid`;
  }
  return undefined;
}

function describe(concept: CodeableConcept | undefined): string[] {
  const out = (concept?.coding ?? []).map(
    (c) => `${c.system ?? '(no system)'}|${c.code ?? '(no code)'}${c.display ? ` "${c.display}"` : ''}`,
  );
  if (concept?.text) out.push(`text "${concept.text}"`);
  return out;
}

/** The concept of an ingredient item: itemCodeableConcept, or the code of the Substance it references. */
function itemConcept(
  item: NonNullable<Medication['ingredient']>[number],
  containers: readonly Resource[],
): CodeableConcept | undefined {
  if (item.itemCodeableConcept) return item.itemCodeableConcept;
  const ref: Reference | undefined = item.itemReference;
  const id = ref?.reference?.startsWith('#') ? ref.reference.slice(1) : undefined;
  const substance = containers.find((r): r is Substance => r.resourceType === 'Substance' && r.id === id);
  const code = substance?.code;
  return code || ref?.display ? { ...code, ...(code?.text || !ref?.display ? {} : { text: ref.display }) } : undefined;
}

/**
 * Resolves what a record's medication is. `medication` is the resolved Medication resource when the record
 * used medicationReference; `concept` its medicationCodeableConcept; `displayFallback` the reference's display;
 * `containers` the contained resources an ingredient's Substance reference ("#sub03") may point into.
 */
export function resolveMedication(
  concept: CodeableConcept | undefined,
  medication: Medication | undefined,
  displayFallback?: string,
  containers: readonly Resource[] = medication?.contained ?? [],
): MedicationResolution {
  const code = medication?.code ?? concept;
  const byCode = fromConcept(code);
  if (byCode && 'notGlucocorticoid' in byCode) return { kind: 'not-glucocorticoid', reason: byCode.notGlucocorticoid };
  let facts: MedicationFacts | undefined = byCode;

  // Medication.ingredient: a coded or named glucocorticoid item, and the strengths of its items.
  let structured: ProductStrength | undefined;
  let itemOtherDrug: string | undefined;
  for (const item of medication?.ingredient ?? []) {
    const ic = itemConcept(item, containers);
    const found = fromConcept(ic);
    const itemFacts = found && !('notGlucocorticoid' in found) ? found : fromText(ic?.text);
    if (!itemFacts) {
      itemOtherDrug ??= found && 'notGlucocorticoid' in found ? found.notGlucocorticoid : otherDrug(ic);
      continue;
    }
    if (!facts)
      facts = { ...itemFacts, recognisedBy: itemFacts.recognisedBy === 'text' ? 'text' : 'medication-ingredient' };
    if (itemFacts.ingredient.id !== facts.ingredient.id) continue;
    const s = strengthFromRatio(item.strength);
    if (s) structured = structured ? addStrengths(structured, s) : s;
  }
  const names = [code?.text, ...(code?.coding ?? []).map((c) => c.display), displayFallback].filter(
    (n): n is string => !!n,
  );
  facts ??= names.map(fromText).find((f) => f !== undefined);
  if (!facts) {
    const reason = otherDrug(code) ?? itemOtherDrug;
    if (reason) return { kind: 'not-glucocorticoid', reason };
    const shown = [...describe(code), ...(displayFallback ? [`reference display "${displayFallback}"`] : [])];
    return {
      kind: 'unidentified',
      message: shown.length
        ? `medication not identified: ${shown.join(', ')} names no glucocorticoid we can recognise, nor another drug`
        : 'the record names no medication',
    };
  }
  // An ingredient found by code or in Medication.ingredient: the product name may still carry the strength.
  if (!hasStrength(facts.strength)) {
    for (const name of names) {
      const product = productFromName(name);
      if (!product || product.ingredient.id !== facts.ingredient.id || !hasStrength(product.strength)) continue;
      facts = { ...fromProduct(product, facts.recognisedBy, 'text'), notes: facts.notes };
      break;
    }
  }
  if (structured) mergeStructured(facts, structured);
  const formNames = doseFormNames(medication?.form);
  if (!facts.formRoute) facts.formRoute = formNames.map(routeClassFromDoseForm).find((r) => r !== undefined);
  // The coded form is the better witness of a tablet: a name may say "Tabl" of a product now sold as a solution.
  if (formNames.length) facts.unitForm = formNames.map(unitFormFromDoseForm).find((u) => u !== undefined);
  return { kind: 'glucocorticoid', facts };
}

/**
 * Medication.ingredient.strength against the strength of the name. An RxNorm strength stays (README: RxNorm
 * first); any other name is free text, so the structure wins whenever they differ, in value or in kind
 * (per mL against per unit: "15 mg/5 mL" misread as 15 mg a unit), and the issue says so.
 */
function mergeStructured(facts: MedicationFacts, structured: ProductStrength): void {
  const shown = `Medication.ingredient.strength (${describeStrength(structured)})`;
  if (!hasStrength(facts.strength)) {
    facts.strength = structured;
    facts.strengthSource = 'medication-ingredient';
  } else if (facts.strengthSource === 'rxnorm') {
    if (differentKind(facts.strength, structured) || !sameStrength(facts.strength, structured))
      facts.notes.push({
        code: 'strength-conflict',
        message: `${shown} differs from RxNorm "${facts.label}" (${describeStrength(facts.strength)}); the RxNorm strength was used`,
      });
  } else {
    if (differentKind(facts.strength, structured) || !sameStrength(facts.strength, structured))
      facts.notes.push({
        code: 'strength-conflict',
        message: `the name "${facts.label}" reads ${describeStrength(facts.strength)} but ${shown} says otherwise; the structured strength was used`,
      });
    facts.strength = structured;
    facts.strengthSource = 'medication-ingredient';
  }
}
