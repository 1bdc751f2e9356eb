/**
 * A patient's staged Bulk Data lines (bulkSource.ts) back into the records a CDS prefetch would have given: each
 * line parsed once, where the patient is evaluated (this thread or an evaluation worker), never before.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { PatientRecords } from '../screening/assess.ts';
import { FHIR_ID_PATTERN } from '../terminology/fhirId.ts';

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

/**
 * A line as staged: `patient TAB medication TAB resource`, the resource as received. Neither prefix can hold a
 * tab or a newline (both are FHIR ids, checked where the line is made), and an NDJSON line holds no newline:
 * chunks of lines are joined by newlines, and a batch splits them without parsing the resources.
 */
export const stagedLine = (patientId: string, medication: string | undefined, text: string): string =>
  `${patientId}\t${medication ?? ''}\t${text}`;

/**
 * The lines of `patients` in staged chunks, by patient, with the medicationReferences they carry; lines of other
 * patients (already evaluated by a crashed attempt) are skipped.
 */
export function linesFromChunks(
  chunks: readonly string[],
  patients: ReadonlySet<string>,
): Map<string, { staged: string[]; refs: Set<string> }> {
  const out = new Map<string, { staged: string[]; refs: Set<string> }>();
  for (const chunk of chunks) {
    let start = 0;
    while (start < chunk.length) {
      let end = chunk.indexOf('\n', start);
      if (end < 0) end = chunk.length;
      const tab1 = chunk.indexOf('\t', start);
      const tab2 = chunk.indexOf('\t', tab1 + 1);
      // Written by stagedLine only: anything else is a defect to report, never lines to drop silently.
      if (tab1 < 0 || tab2 < 0 || tab2 > end)
        throw new Error('a staged chunk is malformed (a line without its prefix)');
      const patientId = chunk.slice(start, tab1);
      if (patients.has(patientId)) {
        let p = out.get(patientId);
        if (!p) {
          p = { staged: [], refs: new Set() };
          out.set(patientId, p);
        }
        p.staged.push(chunk.slice(tab2 + 1, end));
        if (tab2 > tab1 + 1) p.refs.add(chunk.slice(tab1 + 1, tab2));
      }
      start = end + 1;
    }
  }
  return out;
}

/**
 * The lines parsed into the prefetch's record kinds. Most lines were staged unparsed (lineStaging.ts): one that is
 * not JSON after all makes the patient's evaluation fail with the reason (the patient's error, its exposure not
 * computed), rather than a record of theirs silently left out.
 */
export function recordsFromLines(lines: StagedLines): PatientRecords {
  const out = emptyRecords();
  for (const text of lines.staged) {
    let resource: Resource;
    try {
      resource = JSON.parse(text) as Resource;
    } catch {
      // Not V8's message: it quotes the text, and with it the patient's data. The record's type and id, when the
      // line begins with them, say which one to look for in the export.
      throw new Error(`${recordNameOf(text)} exported for this patient is not valid JSON`);
    }
    const key = KEY_OF[resource.resourceType];
    if (key) out[key].push(resource);
  }
  out.medications = lines.medications.map((text) => JSON.parse(text) as Resource);
  return out;
}

/** A line that begins with its resource's type and id, both captured. */
const TYPE_AND_ID = new RegExp(`^\\{"resourceType":"([A-Za-z]{1,64})","id":"(${FHIR_ID_PATTERN})"`);

/** "the MedicationStatement/ms-1 record" from a line that begins `{"resourceType":"…","id":"…"`, else "a record". */
function recordNameOf(text: string): string {
  const m = TYPE_AND_ID.exec(text);
  return m ? `the ${m[1]}/${m[2]} record` : 'a record';
}
