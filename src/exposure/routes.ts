/**
 * Route classes and how a route is read: Dosage.route (SNOMED CT route codes, R4 example binding) first,
 * then the dose form of the product (equivalences hold for oral and IV use: docs/references.md).
 */
import type { CodeableConcept } from '@medplum/fhirtypes';
import { SNOMED } from '../terminology/systems.ts';

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
};

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

const TEXT_ROUTES: Array<[RegExp, RouteClass]> = [
  [/intra-?articular|intrasynovial|intrabursal|periarticular|intralesional|joint injection/i, 'intra-articular'],
  [/epidural/i, 'epidural'],
  [/intravenous|\biv\b|i\.v\./i, 'intravenous'],
  [/intramuscular|\bim\b|i\.m\./i, 'intramuscular'],
  [/subcutaneous|\bsc\b|\bsq\b|s\.c\./i, 'subcutaneous'],
  [/inhal|nebul|respiratory/i, 'inhaled'],
  [/nasal|intranasal/i, 'nasal'],
  [/ophthalm|intraocular|intravitreal|\beye\b/i, 'ophthalmic'],
  [/\botic\b|\bear\b|auricular/i, 'otic'],
  [/topical|cutaneous|transdermal|\bskin\b|dermal/i, 'topical'],
  [/rectal|\bpr\b|enema|suppositor/i, 'rectal'],
  [/buccal|sublingual|oromucosal|mouth ?wash/i, 'oromucosal'],
  [/gastrostomy|nasogastric|enteral|\bpeg\b|\bng\b/i, 'enteral'],
  [/\boral\b|by mouth|\bpo\b|p\.o\./i, 'oral'],
];

export function routeClassFromText(text: string | undefined): RouteClass | undefined {
  if (!text) return undefined;
  for (const [re, cls] of TEXT_ROUTES) if (re.test(text)) return cls;
  return undefined;
}

export function routeClassFromConcept(route: CodeableConcept | undefined): RouteClass | undefined {
  if (!route) return undefined;
  for (const c of route.coding ?? []) {
    if (!c.code) continue;
    if (c.system === SNOMED && SNOMED_ROUTES[c.code]) return SNOMED_ROUTES[c.code];
    if (c.system?.includes('RouteOfAdministration') && V3_ROUTES[c.code.toUpperCase()])
      return V3_ROUTES[c.code.toUpperCase()];
  }
  for (const c of route.coding ?? []) {
    const byText = routeClassFromText(c.display);
    if (byText) return byText;
  }
  return routeClassFromText(route.text);
}

/**
 * Route implied by a dose form. An injectable suspension of a depot steroid may be intramuscular or
 * intra-articular, so it stays 'injection-unspecified' unless Dosage.route says which.
 */
export function routeClassFromDoseForm(form: string | undefined): RouteClass | undefined {
  if (!form) return undefined;
  const f = form.toLowerCase();
  if (/nasal/.test(f)) return 'nasal';
  if (/inhal|nebuli/.test(f)) return 'inhaled';
  if (/ophthalmic|intravitreal|intraocular/.test(f)) return 'ophthalmic';
  if (/otic/.test(f)) return 'otic';
  if (/rectal|enema|suppositor/.test(f)) return 'rectal';
  if (/topical|cream|ointment|lotion|gel\b|transdermal|shampoo|foam|paste|spray|medicated pad|tape/.test(f))
    return /oral|rectal/.test(f) ? undefined : 'topical';
  if (/buccal|sublingual|mucosal|lozenge|mouthwash|dental/.test(f)) return 'oromucosal';
  if (/injectable suspension|extended release suspension|depot/.test(f)) return 'depot-injection';
  if (/inject|infusion|prefilled syringe|auto-injector|cartridge/.test(f)) return 'injection-unspecified';
  if (/oral|tablet|capsule|syrup|elixir|granule|chewable/.test(f)) return 'oral';
  return undefined;
}
