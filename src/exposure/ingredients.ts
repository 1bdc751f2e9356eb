/**
 * Glucocorticoid ingredients and how they are recognised in FHIR codings.
 *
 * Codes and equivalence: the BNF table in docs/references.md (0.75 mg for dexamethasone and betamethasone); ingredient
 * codes are RxNorm TTY=IN, ATC H02AB and SNOMED CT substances.
 */

export type IngredientId =
  | 'prednisolone'
  | 'prednisone'
  | 'methylprednisolone'
  | 'hydrocortisone'
  | 'cortisone'
  | 'dexamethasone'
  | 'betamethasone'
  | 'triamcinolone'
  | 'deflazacort'
  | 'budesonide'
  | 'other-systemic-glucocorticoid';

export interface Ingredient {
  id: IngredientId;
  /** Dose equivalent to prednisolone 5 mg, in mg (the BNF table, docs/references.md); undefined where no equivalence is accepted. */
  equivalentToPrednisolone5mg?: number;
  rxnormIn: string[];
  atc: string[];
  snomedSubstance: string[];
  /**
   * Lower-case names without accents that identify the ingredient in text (longest first when matching): the INN,
   * its German, French and Italian spellings (CH EMED and eMediplan are written in all three; accents are removed
   * before matching, so "méthylprednisolone" is found) and brand names.
   */
  names: string[];
}

export const INGREDIENTS: readonly Ingredient[] = [
  {
    id: 'prednisolone',
    equivalentToPrednisolone5mg: 5,
    rxnormIn: ['8638'],
    atc: ['H02AB06', 'A07EA01'],
    snomedSubstance: ['116601002'],
    // Brand names below are the ones seen naming this ingredient in published FHIR examples or formularies:
    // SPIRICORT (CH, ahdis/chmed tt-4-spiricort: prednisolone 20 mg), SOLUPRED (FR).
    names: ['prednisolone', 'prednisolon', 'spiricort', 'solupred'],
  },
  {
    id: 'prednisone',
    equivalentToPrednisolone5mg: 5,
    rxnormIn: ['8640'],
    atc: ['H02AB07'],
    snomedSubstance: ['116602009'],
    names: ['prednisone', 'prednison', 'deltasone', 'rayos', 'cortancyl'],
  },
  {
    id: 'methylprednisolone',
    equivalentToPrednisolone5mg: 4,
    rxnormIn: ['6902'],
    atc: ['H02AB04'],
    snomedSubstance: ['116593003', '412248005'],
    names: [
      'methylprednisolone',
      'methylprednisolon',
      'metilprednisolone',
      'solu-medrol',
      'solumedrol',
      'medrol',
      'depo-medrol',
      'depomedrol',
      'urbason',
    ],
  },
  {
    id: 'hydrocortisone',
    equivalentToPrednisolone5mg: 20,
    rxnormIn: ['5492'],
    atc: ['H02AB09', 'A07EA02'],
    snomedSubstance: ['396458002', '109066000'],
    names: ['hydrocortisone', 'hydrocortison', 'idrocortisone', 'solu-cortef', 'cortef', 'plenadren'],
  },
  {
    id: 'cortisone',
    equivalentToPrednisolone5mg: 25,
    rxnormIn: ['2878'],
    atc: ['H02AB10'],
    snomedSubstance: [],
    names: ['cortisone acetate', 'cortisone', 'cortison'],
  },
  {
    id: 'dexamethasone',
    equivalentToPrednisolone5mg: 0.75,
    rxnormIn: ['3264'],
    atc: ['H02AB02'],
    snomedSubstance: ['372584003'],
    names: ['dexamethasone', 'dexamethason', 'desametasone', 'decadron', 'fortecortin'],
  },
  {
    id: 'betamethasone',
    equivalentToPrednisolone5mg: 0.75,
    rxnormIn: ['1514'],
    atc: ['H02AB01', 'A07EA04'],
    snomedSubstance: ['116571008'],
    names: ['betamethasone', 'betamethason', 'betametasone', 'celestone', 'celestene'],
  },
  {
    id: 'triamcinolone',
    equivalentToPrednisolone5mg: 4,
    rxnormIn: ['10759'],
    atc: ['H02AB08'],
    snomedSubstance: [],
    names: ['triamcinolone', 'triamcinolon', 'kenalog', 'zilretta'],
  },
  {
    id: 'deflazacort',
    equivalentToPrednisolone5mg: 6,
    rxnormIn: ['22396'],
    atc: ['H02AB13'],
    snomedSubstance: ['396012006'],
    names: ['deflazacort', 'emflaza', 'calcort'],
  },
  // Budesonide: no accepted systemic equivalence; excluded and flagged by default (team choice D2).
  {
    id: 'budesonide',
    rxnormIn: ['19831'],
    atc: ['A07EA06', 'R03BA02', 'D07AC09', 'H02AB16'],
    snomedSubstance: ['395726003'],
    names: ['budesonide', 'entocort', 'uceris', 'cortiment', 'tarpeyo'],
  },
  // Other H02AB members (RxClass output, §2.1): recognised so they are reported, but there is no factor.
  {
    id: 'other-systemic-glucocorticoid',
    rxnormIn: ['7910', '29523', '4463', '12473', '21285', '21660', '2669799'],
    atc: ['H02AB03', 'H02AB05', 'H02AB11', 'H02AB12', 'H02AB14', 'H02AB15', 'H02AB17'],
    snomedSubstance: [],
    names: [
      'fluprednisolone',
      'paramethasone',
      'meprednisone',
      'fluocortolone',
      'prednylidene',
      'cloprednol',
      'cortivazol',
      'vamorolone',
    ],
  },
];

/** Not glucocorticoids: mineralocorticoid fludrocortisone (H02AA), ignored without an issue. */
export const NOT_GLUCOCORTICOID_RXNORM = new Set(['4452']);

const byRxnorm = new Map<string, Ingredient>();
const byAtc = new Map<string, Ingredient>();
const bySnomed = new Map<string, Ingredient>();
const nameList: Array<{ name: string; ingredient: Ingredient }> = [];
for (const ing of INGREDIENTS) {
  for (const c of ing.rxnormIn) byRxnorm.set(c, ing);
  for (const c of ing.atc) byAtc.set(c.toUpperCase(), ing);
  for (const c of ing.snomedSubstance) bySnomed.set(c, ing);
  for (const n of ing.names) nameList.push({ name: n, ingredient: ing });
}
// Longest names first so that "methylprednisolone" wins over "prednisolone" and "hydrocortisone" over "cortisone".
nameList.sort((a, b) => b.name.length - a.name.length);

export function ingredientById(id: IngredientId): Ingredient {
  const ing = INGREDIENTS.find((i) => i.id === id);
  if (!ing) throw new Error(`Unknown ingredient ${id}`);
  return ing;
}

export function ingredientByRxnormIn(code: string): Ingredient | undefined {
  return byRxnorm.get(code);
}

export function ingredientByAtc(code: string): Ingredient | undefined {
  const upper = code.toUpperCase();
  return byAtc.get(upper);
}

export function ingredientBySnomed(code: string): Ingredient | undefined {
  return bySnomed.get(code);
}

const wordBoundary = (text: string, index: number, length: number): boolean => {
  const before = index === 0 ? '' : text[index - 1]!;
  const after = text[index + length] ?? '';
  return !/[a-z]/.test(before) && !/[a-z]/.test(after);
};

/** Lower case without accents ("Méthylprednisolone" → "methylprednisolone"), for matching names. */
export const foldText = (text: string): string => text.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');

/** Finds a glucocorticoid named in free text (drug names are matched as whole words, case-insensitively). */
export function ingredientFromText(text: string | undefined): Ingredient | undefined {
  if (!text) return undefined;
  const lower = foldText(text);
  // Fludrocortisone (H02AA) contains "cortison"; it is a mineralocorticoid.
  if (/fludrocortison/.test(lower)) return undefined;
  for (const { name, ingredient } of nameList) {
    let from = 0;
    for (;;) {
      const i = lower.indexOf(name, from);
      if (i < 0) break;
      if (wordBoundary(lower, i, name.length)) return ingredient;
      from = i + 1;
    }
  }
  return undefined;
}
