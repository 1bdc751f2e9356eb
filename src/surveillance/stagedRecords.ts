/**
 * A patient's staged Bulk Data lines (bulkSource.ts) back into the records a CDS prefetch would have given: each
 * line parsed once, where the patient is evaluated (this thread or an evaluation worker), never before.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { PatientRecords } from '../screening/assess.ts';

/** One patient's staged NDJSON lines, and the lines of the Medications they reference. */
export interface StagedLines {
  staged: string[];
  medications: string[];
}

/** The record kinds as the CDS prefetch keys name them, by resource type (Observation etc. filtered by code). */
export const KEY_OF: Record<string, keyof PatientRecords> = {
  Condition: 'conditions',
  MedicationStatement: 'medicationStatements',
  MedicationRequest: 'medicationRequests',
  MedicationAdministration: 'medicationAdministrations',
  ImagingStudy: 'imagingStudies',
  DiagnosticReport: 'diagnosticReports',
  ServiceRequest: 'serviceRequests',
  Observation: 'osteonecrosisObservations',
};

export const emptyRecords = (): PatientRecords => ({
  conditions: [],
  medicationStatements: [],
  medicationRequests: [],
  medicationAdministrations: [],
  medications: [],
  imagingStudies: [],
  diagnosticReports: [],
  serviceRequests: [],
  osteonecrosisObservations: [],
});

export function isStagedLines(v: unknown): v is StagedLines {
  return typeof v === 'object' && v !== null && Array.isArray((v as StagedLines).staged);
}

/** The lines parsed into the prefetch's record kinds (lines were parsed and checked when they were staged). */
export function recordsFromLines(lines: StagedLines): PatientRecords {
  const out = emptyRecords();
  for (const text of lines.staged) {
    const resource = JSON.parse(text) as Resource;
    const key = KEY_OF[resource.resourceType];
    if (key) out[key].push(resource);
  }
  out.medications = lines.medications.map((text) => JSON.parse(text) as Resource);
  return out;
}
