/**
 * The searches the app makes for the launched patient: the same as the CDS services' prefetch templates
 * (src/cdsHooks/serviceDefinition.ts PATIENT_DATA; a test checks that they agree), so that the timeline is
 * computed from the same records as the card. No DOM, no fhirclient.
 */
import { FHIR_ID_PATTERN } from '../../terminology/fhirId.ts';

/** A Medication reference, relative or absolute. */
const MEDICATION_REF = new RegExp(`(^|/)Medication/${FHIR_ID_PATTERN}$`);

export const PATIENT_SEARCHES = {
  conditions: 'Condition?patient={{context.patientId}}',
  medicationStatements: 'MedicationStatement?patient={{context.patientId}}',
  medicationRequests: 'MedicationRequest?patient={{context.patientId}}',
  medicationAdministrations: 'MedicationAdministration?patient={{context.patientId}}',
  imagingStudies: 'ImagingStudy?patient={{context.patientId}}',
  diagnosticReports: 'DiagnosticReport?patient={{context.patientId}}&code=http://loinc.org|46358-8',
  serviceRequests: 'ServiceRequest?patient={{context.patientId}}&code=http://loinc.org|46358-8',
  osteonecrosisObservations: 'Observation?patient={{context.patientId}}&code=http://snomed.info/sct|397758007',
} as const;

/** Entries asked for per page (the server may send fewer; every next link is followed). */
export const PAGE_SIZE = 200;

/** A search as a relative URL for one patient, values encoded. */
export function searchUrl(template: string, patientId: string): string {
  const [path, query = ''] = template.split('?') as [string, string?];
  const params = new URLSearchParams();
  for (const part of query.split('&')) {
    if (!part) continue;
    const at = part.indexOf('=');
    const value = part.slice(at + 1).replace('{{context.patientId}}', patientId);
    params.append(part.slice(0, at), value);
  }
  params.set('_count', String(PAGE_SIZE));
  return `${path}?${params.toString()}`;
}

/** The Medications the medication records reference by a RESTful reference ("#id" travels with its record). */
export function medicationReferences(records: readonly unknown[]): string[] {
  const out = new Set<string>();
  for (const r of records) {
    const ref = (r as { medicationReference?: { reference?: unknown } }).medicationReference?.reference;
    if (typeof ref === 'string' && !ref.startsWith('#') && MEDICATION_REF.test(ref)) out.add(ref);
  }
  return [...out];
}

/** The appContext the card's link carries (a JSON string): only what to show, never a figure. */
export interface AppContext {
  patient?: string;
  view?: string;
}

export function parseAppContext(value: unknown): AppContext {
  if (typeof value !== 'string' || value.length > 4096) return {};
  try {
    const o = JSON.parse(value) as unknown;
    if (!o || typeof o !== 'object' || Array.isArray(o)) return {};
    const { patient, view } = o as Record<string, unknown>;
    return {
      ...(typeof patient === 'string' ? { patient } : {}),
      ...(typeof view === 'string' ? { view } : {}),
    };
  } catch {
    return {};
  }
}
