/**
 * Route classes and how a route is read: Dosage.route (SNOMED CT route codes, R4 example binding; EDQM Standard
 * Terms, as European IGs send them; HL7 v3) first, then the dose form of the product (equivalences hold for oral
 * and IV use: docs/references.md).
 */
import type { CodeableConcept, Coding } from '@medplum/fhirtypes';
import { EDQM, SNOMED } from '../terminology/systems.ts';
import { foldText } from './ingredients.ts';

export const ROUTE_CLASSES = [
  'oral',
  'intravenous',
  'intramuscular',
  'subcutaneous',
  'enteral',
  'intra-articular',
  'epidural',
  'rectal',
  'oromucosal',
  'inhaled',
  'nasal',
  'topical',
  'ophthalmic',
  'otic',
  'injection-unspecified',
  'depot-injection',
  'unknown',
] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

const SNOMED_ROUTES: Record<string, RouteClass> = {
  '26643006': 'oral',
  '47625008': 'intravenous',
  '418114005': 'intravenous',
  '419993007': 'intravenous',
  '78421000': 'intramuscular',
  '34206005': 'subcutaneous',
  '127490009': 'enteral',
  '127492001': 'enteral',
  '12130007': 'intra-articular',
  '372459003': 'intra-articular',
  '418877009': 'intra-articular',
  '372474001': 'intra-articular',
  '372466002': 'intra-articular',
  '404820008': 'epidural',
  '37161004': 'rectal',
  '447694001': 'inhaled',
  '446406008': 'inhaled',
  '18679011000001101': 'inhaled',
  '46713006': 'nasal',
  '6064005': 'topical',
  '448598008': 'topical',
  '45890007': 'topical',
  '54485002': 'ophthalmic',
  '372468001': 'ophthalmic',
  '418401004': 'ophthalmic',
  '372476004': 'ophthalmic',
  '10547007': 'otic',
  '54471007': 'oromucosal',
  '37839007': 'oromucosal',
  '372473007': 'oromucosal',
  // Qualifier-value concepts the HL7 R4 examples use as routes (MedicationStatement-example003 "Oral",
  // MedicationAdministration-medadmin0305 "Intravenous", MedicationRequest-medrx0332 "Intramuscular (qualifier
  // value)", MedicationAdministration-medadmin0308 "Subcutaneous (qualifier value)").
  '260548002': 'oral',
  '255560000': 'intravenous',
  '255559005': 'intramuscular',
  '263887005': 'subcutaneous',
};

/**
 * EDQM Standard Terms routes of administration. Every code and name checked against the CH-Term value set
 * "EDQM - RouteOfAdministration" (github hl7ch/ch-term @788e193, input/resources/valueset/
 * edqm-routeofadministration.xml), the one CH EMED and eMediplan bind to; the French medication IG sends the same
 * codes (20053000 "Voie orale"). Intra-articular is 20024000 and cutaneous 20003000 (20065000 is subconjunctival).
 * Routes with no class of ours (intrathecal, intra-arterial, vaginal, intravesical, intradermal) are left out, so
 * they are reported as not recognised rather than given a class.
 */
const EDQM_ROUTES: Record<string, RouteClass> = {
  '20053000': 'oral', // Oral use
  '20045000': 'intravenous', // Intravenous use
  '20035000': 'intramuscular', // Intramuscular use
  '20066000': 'subcutaneous', // Subcutaneous use
  '20024000': 'intra-articular', // Intraarticular use
  '20025000': 'intra-articular', // Intrabursal use
  '20057000': 'intra-articular', // Periarticular use
  '20032000': 'intra-articular', // Intralesional use
  '20009000': 'epidural', // Epidural use
  '20061000': 'rectal', // Rectal use
  '20020000': 'inhaled', // Inhalation use
  '20008000': 'inhaled', // Endotracheopulmonary use
  '20049000': 'nasal', // Nasal use
  '20051000': 'ophthalmic', // Ocular use
  '20036000': 'ophthalmic', // Intraocular use
  '20047000': 'ophthalmic', // Intravitreal use
  '20065000': 'ophthalmic', // Subconjunctival use
  '20061500': 'ophthalmic', // Retrobulbar use
  '20001000': 'otic', // Auricular use
  '20003000': 'topical', // Cutaneous use
  '20070000': 'topical', // Transdermal use
  '20054000': 'oromucosal', // Oromucosal use
  '20067000': 'oromucosal', // Sublingual use
  '20002500': 'oromucosal', // Buccal use
  '20055000': 'oromucosal', // Oropharyngeal use
  '20014000': 'oromucosal', // Gingival use
  '20004000': 'oromucosal', // Dental use
  '20013000': 'enteral', // Gastroenteral use
  '20013500': 'enteral', // Gastric use
  '20021000': 'enteral', // Intestinal use
};

/**
 * EDQM's system URI, and the OID under which CH EMED and eMediplan send the same codes
 * (urn:oid:0.4.0.127.0.16.1.1.2.1, CH-Term CodeSystem edqm-standardterms).
 */
export const EDQM_SYSTEMS: readonly string[] = [EDQM, `${EDQM}/`, 'urn:oid:0.4.0.127.0.16.1.1.2.1'];
export const isEdqm = (system: string | undefined): boolean => system !== undefined && EDQM_SYSTEMS.includes(system);

/** HL7 v3 RouteOfAdministration codes, which some EHRs send instead of SNOMED CT. */
const V3_ROUTES: Record<string, RouteClass> = {
  PO: 'oral',
  IV: 'intravenous',
  IVINJ: 'intravenous',
  IVINFUS: 'intravenous',
  IM: 'intramuscular',
  SQ: 'subcutaneous',
  SC: 'subcutaneous',
  IA: 'intra-articular',
  IARTINJ: 'intra-articular',
  EPI: 'epidural',
  PR: 'rectal',
  RECTINJ: 'rectal',
  IPINHL: 'inhaled',
  ORINHL: 'inhaled',
  NASINHL: 'nasal',
  NASAL: 'nasal',
  TOPICAL: 'topical',
  DERM: 'topical',
  OPTHALTA: 'ophthalmic',
  OT: 'otic',
  BUC: 'oromucosal',
  SL: 'oromucosal',
  GT: 'enteral',
  NGT: 'enteral',
};

// Matched on lower-case text without accents; English first, then the German and French of CH EMED, eMediplan
// and the French IG ("zum Einnehmen", "Voie orale", "intravenöse Anwendung").
const TEXT_ROUTES: Array<[RegExp, RouteClass]> = [
  [
    /intra-?articula|intrasynovial|intrabursal|periarticula|intralesional|joint injection|intra-?artikul/,
    'intra-articular',
  ],
  [/epidural|peridural/, 'epidural'],
  [/intravenous|\biv\b|i\.v\.|intraveineuse|intraven[oö]s/, 'intravenous'],
  [/intramuscula|\bim\b|i\.m\.|intramuskul/, 'intramuscular'],
  [/subcutaneous|\bsc\b|\bsq\b|s\.c\.|sous-cutane|subkutan/, 'subcutaneous'],
  [/inhal|nebul|respiratory/, 'inhaled'],
  [/nasal|intranasal/, 'nasal'],
  [/ophthalm|ophtalm|intraocular|intravitreal|\beye\b|\bocula|am auge/, 'ophthalmic'],
  [/\botic\b|\bear\b|auricula|am ohr/, 'otic'],
  [/topical|cutane|transdermal|\bskin\b|dermal|auf der haut|kutan/, 'topical'],
  [/rectal|\bpr\b|enema|suppositor|rektal/, 'rectal'],
  [/buccal|sublingual|oromucosal|mouth ?wash|buccale|mundschleimhaut/, 'oromucosal'],
  [/gastrostomy|nasogastric|enteral|\bpeg\b|\bng\b/, 'enteral'],
  [/\boral\b|by mouth|\bpo\b|p\.o\.|\borale\b|zum einnehmen|per os|\bperoral/, 'oral'],
];

export function routeClassFromText(text: string | undefined): RouteClass | undefined {
  if (!text) return undefined;
  const folded = foldText(text);
  for (const [re, cls] of TEXT_ROUTES) if (re.test(folded)) return cls;
  return undefined;
}

function routeClassFromCoding(c: Coding): RouteClass | undefined {
  if (!c.code) return undefined;
  if (c.system === SNOMED) return SNOMED_ROUTES[c.code];
  if (isEdqm(c.system)) return EDQM_ROUTES[c.code];
  if (c.system?.includes('RouteOfAdministration')) return V3_ROUTES[c.code.toUpperCase()];
  return undefined;
}

/**
 * Dosage.route read: its class, or — when a route is given but no coding, display or text of it is one we
 * know — the route as written, for the issue "route not recognised (system|code display)".
 */
export function readRoute(route: CodeableConcept | undefined): { cls?: RouteClass; unrecognised?: string } {
  if (!route) return {};
  for (const c of route.coding ?? []) {
    const cls = routeClassFromCoding(c);
    if (cls) return { cls };
  }
  for (const c of route.coding ?? []) {
    const byText = routeClassFromText(c.display);
    if (byText) return { cls: byText };
  }
  const byText = routeClassFromText(route.text);
  if (byText) return { cls: byText };
  const shown = (route.coding ?? []).map(
    (c) => `${c.system ?? '(no system)'}|${c.code ?? '(no code)'}${c.display ? ` ${c.display}` : ''}`,
  );
  if (route.text) shown.push(`"${route.text}"`);
  return shown.length ? { unrecognised: shown.join(', ') } : {};
}

export function routeClassFromConcept(route: CodeableConcept | undefined): RouteClass | undefined {
  return readRoute(route).cls;
}

/**
 * Route implied by a dose form's name (an RxNorm dose form, an EDQM or SNOMED CT display, or the German and French
 * of CH and FR product names: "Filmtabl", "Inj Lös", "comprimé"). An injectable suspension of a depot steroid may
 * be intramuscular or intra-articular, so it stays 'depot-injection' unless Dosage.route says which.
 */
export function routeClassFromDoseForm(form: string | undefined): RouteClass | undefined {
  if (!form) return undefined;
  const f = foldText(form);
  if (/nasal|nasenspray/.test(f)) return 'nasal';
  if (/inhal|nebuli|dosieraerosol/.test(f)) return 'inhaled';
  if (/ophthalmic|intravitreal|intraocular|\beye\b|augentropfen|augensalbe|collyre|ophtalm/.test(f))
    return 'ophthalmic';
  if (/otic|\bear\b|ohrentropfen|auricula/.test(f)) return 'otic';
  if (/rectal|rektal|enema|suppositor|zapfchen|klistier/.test(f)) return 'rectal';
  if (
    /topical|cream|ointment|lotion|gel\b|transdermal|shampoo|foam|paste|spray|medicated pad|tape|cutaneous|creme|salbe|pommade/.test(
      f,
    )
  )
    return /oral|rectal/.test(f) ? undefined : 'topical';
  if (/buccal|sublingual|mucosal|lozenge|mouthwash|dental|pastille/.test(f)) return 'oromucosal';
  if (/injectable suspension|extended release suspension|suspension for injection|depot|kristallsusp/.test(f))
    return 'depot-injection';
  if (/inject|infusion|prefilled syringe|auto-injector|cartridge|\binj\b|injektion|perfusion|trockensub/.test(f))
    return 'injection-unspecified';
  if (
    /oral|tablet|capsule|syrup|elixir|granule|chewable|tabl|comprim|\bcp\b|gelule|kapsel|\bkaps\b|sirup|sirop|buvable|zum einnehmen|dragee/.test(
      f,
    )
  )
    return 'oral';
  return undefined;
}

/**
 * The countable solid unit of a dose form ("tablet", "capsule"), for a dose written without a unit: one of them
 * is then one dose unit. Undefined for liquids, injections and anything else where "1" could mean 1 mL.
 */
export function unitFormFromDoseForm(form: string | undefined): 'tablet' | 'capsule' | undefined {
  if (!form) return undefined;
  const f = foldText(form);
  if (routeClassFromDoseForm(form) !== 'oral') return undefined;
  if (/solution|suspension|syrup|sirup|sirop|liquid|drops|tropfen|granul|powder|pulver|elixir|buvable/.test(f))
    return undefined;
  if (/tablet|tabl|comprim|\bcp\b|dragee|pill\b|caplet/.test(f)) return 'tablet';
  if (/capsule|gelule|kapsel|\bkaps\b/.test(f)) return 'capsule';
  return undefined;
}
