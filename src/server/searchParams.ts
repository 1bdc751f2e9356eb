/**
 * The search parameters the demo FHIR server really supports, per resource type: the R4 ones Medplum indexed
 * (loadFhirDefinitions) whose type @medplum/core's in-memory matcher evaluates, and the modifiers it evaluates
 * for them. Both the CapabilityStatement and the search request check are derived from this one table.
 */
import { getSearchParameters } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';

export type SupportedType = 'token' | 'reference' | 'string' | 'uri' | 'date';

export interface SupportedParam {
  code: string;
  type: SupportedType;
  definition: string;
  /** Resource types a reference parameter points to. */
  targets: readonly string[];
}

/**
 * The in-memory repository matches token, reference, string, uri and date parameters; a number, quantity,
 * composite or special parameter never matches anything there, so it is not offered.
 */
const EVALUATED = new Set<string>(['token', 'reference', 'string', 'uri', 'date']);

const R4_BASE = 'http://hl7.org/fhir/SearchParameter/';

/**
 * The parameters of every resource (https://hl7.org/fhir/R4/search.html#all) that Medplum indexes per type without
 * a canonical URL. Medplum's own (_compartment, _project) and the US Core ones are not R4 and are left out.
 */
const RESOURCE_PARAMS: Record<string, string> = {
  _id: `${R4_BASE}Resource-id`,
  _lastUpdated: `${R4_BASE}Resource-lastUpdated`,
  _profile: `${R4_BASE}Resource-profile`,
  _security: `${R4_BASE}Resource-security`,
  _source: `${R4_BASE}Resource-source`,
  _tag: `${R4_BASE}Resource-tag`,
};

/**
 * Modifiers (https://hl7.org/fhir/R4/search.html#modifiers) the in-memory matcher honours. String matching there
 * is case-insensitive containment, so :contains is honoured and :exact is not; token :text matches the whole
 * CodeableConcept.text or Coding.display, case-insensitively. A reference parameter also takes a target type
 * (`subject:Patient`).
 */
export const MODIFIERS: Record<SupportedType, readonly string[]> = {
  token: ['missing', 'not', 'text'],
  reference: ['missing'],
  string: ['missing', 'contains'],
  uri: ['missing'],
  date: ['missing'],
};

const cache = new Map<string, ReadonlyMap<string, SupportedParam>>();

/** The supported parameters of a resource type, by code; empty for an unknown type. */
export function supportedSearchParams(resourceType: string): ReadonlyMap<string, SupportedParam> {
  let params = cache.get(resourceType);
  if (!params) {
    const map = new Map<string, SupportedParam>();
    const all: Record<string, SearchParameter> = getSearchParameters(resourceType) ?? {};
    for (const [code, p] of Object.entries(all)) {
      const definition = p.url ?? RESOURCE_PARAMS[code];
      if (!definition?.startsWith(R4_BASE) || !p.expression || !EVALUATED.has(p.type)) continue;
      map.set(code, { code, type: p.type as SupportedType, definition, targets: p.target ?? [] });
    }
    params = map;
    // Nothing is indexed before loadFhirDefinitions(); only a table built after it is kept.
    if (map.size) cache.set(resourceType, params);
  }
  return params;
}

/**
 * One resource type's own part of a search parameter's FHIRPath expression: R4 shares one SearchParameter among
 * several types (clinical-patient is `AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) |
 * …`), and Medplum evaluates the whole union on every resource. Undefined unless every term names its type and
 * exactly one names this one.
 */
function ownTerm(resourceType: string, expression: string | undefined): string | undefined {
  const terms = (expression ?? '').split('|').map((t) => t.trim());
  if (!terms.every((t) => /^[A-Z][A-Za-z]*\./.test(t))) return undefined;
  const own = terms.filter((t) => t.startsWith(`${resourceType}.`));
  return own.length === 1 ? own[0] : undefined;
}

const patientIsSubject = new Map<string, boolean>();

/**
 * Whether the type's R4 `patient` parameter is its `subject` parameter restricted to Patients, read from the
 * definitions Medplum indexed: `patient` (target Patient only) is `X.<path>.where(resolve() is Patient)` and
 * `subject` (a target of which is Patient) is `X.<path>`. Then `patient=<id>` finds what `subject=Patient/<id>`
 * finds. With the R4 definitions Medplum 5 ships that holds for 36 types, among them Condition, DiagnosticReport,
 * Encounter, ImagingStudy, MedicationAdministration, MedicationDispense, MedicationRequest, MedicationStatement,
 * Observation, Procedure, ServiceRequest and Task (`Task.for`); not for types whose `patient` is a plain element
 * (AllergyIntolerance.patient, DeviceUseStatement.subject: no resolve() to save) or that have no `subject`
 * (Appointment, Provenance).
 */
export function patientSearchIsSubject(resourceType: string): boolean {
  let answer = patientIsSubject.get(resourceType);
  if (answer === undefined) {
    const all: Record<string, SearchParameter> = getSearchParameters(resourceType) ?? {};
    const { patient, subject } = all;
    const subjectPath = subject && ownTerm(resourceType, subject.expression);
    answer =
      !!patient &&
      !!subject &&
      !!subjectPath &&
      patient.type === 'reference' &&
      subject.type === 'reference' &&
      !!patient.url?.startsWith(R4_BASE) &&
      !!subject.url?.startsWith(R4_BASE) &&
      patient.target?.length === 1 &&
      patient.target[0] === 'Patient' &&
      !!subject.target?.includes('Patient') &&
      ownTerm(resourceType, patient.expression) === `${subjectPath}.where(resolve() is Patient)`;
    // As for supportedSearchParams: nothing is indexed before loadFhirDefinitions().
    if (Object.keys(all).length) patientIsSubject.set(resourceType, answer);
  }
  return answer;
}
