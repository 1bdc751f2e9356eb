/**
 * Reads FHIR resources from a file: a Bundle (searchset, collection, transaction, batch), a single resource,
 * or NDJSON (one resource per line, as Bulk Data export writes it). Errors name the file and the line.
 * References are resolved here, where the file enters (bundleReferences.ts): urn:uuid subjects, id-less entries.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { z } from 'zod';
import { OsteoWatchError, zodMessage } from '../errors.ts';
import type { ExposureIssue, ExposureSummary } from '../exposure/index.ts';
import { FHIR_ID } from '../terminology/fhirId.ts';
import { type EntryLike, type ResolvedEntries, resolveEntries } from './bundleReferences.ts';
import { MEDICATION_RECORD_TYPES } from './patientRecords.ts';
import { patientRefOf, writtenSubjectOf } from './subject.ts';

export class InputError extends OsteoWatchError {
  constructor(message: string) {
    super('invalid', message);
  }
}

const resourceSchema = z.looseObject({
  resourceType: z.string().regex(/^[A-Z][A-Za-z]+$/, { error: 'resourceType must be a FHIR resource type name' }),
});
const bundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  entry: z
    .array(z.looseObject({ fullUrl: z.string().optional(), resource: resourceSchema.optional() }), {
      error: 'Bundle.entry must be an array',
    })
    .optional(),
});

/** The file's resources, ids given and references resolved; `resolve` maps a reference written outside it. */
export type LoadedResources = ResolvedEntries;

export function parseResources(text: string, name = 'input'): LoadedResources {
  const trimmed = text.trim();
  if (trimmed === '') throw new InputError(`${name} is empty`);
  let whole: unknown;
  let wholeError: Error | undefined;
  try {
    whole = JSON.parse(trimmed);
  } catch (err) {
    wholeError = err as Error;
  }
  if (whole !== undefined) {
    if (Array.isArray(whole))
      throw new InputError(`${name}: a JSON array is not a FHIR Bundle; wrap the resources in a Bundle or use NDJSON`);
    const base = resourceSchema.safeParse(whole);
    if (!base.success) throw new InputError(`${name} is not a FHIR resource: ${zodMessage(base.error)}`);
    if (base.data.resourceType !== 'Bundle') return resolveEntries([{ resource: whole as Resource }]);
    const bundle = bundleSchema.safeParse(whole);
    if (!bundle.success) throw new InputError(`${name} is not a valid Bundle: ${zodMessage(bundle.error)}`);
    // An entry with neither id nor fullUrl is named by its place in the file, so that issues can point at it.
    return resolveEntries((whole as Bundle).entry ?? [], { unnamed: (i) => `entry-${i + 1}` });
  }
  // Not one JSON document: NDJSON, one resource per line.
  const lines = trimmed.split(/\r?\n/);
  if (lines.length === 1) throw new InputError(`${name} is not valid JSON: ${wholeError?.message}`);
  const entries: EntryLike[] = [];
  const lineOf: number[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new InputError(`${name} line ${i + 1} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = resourceSchema.safeParse(value);
    if (!parsed.success)
      throw new InputError(`${name} line ${i + 1} is not a FHIR resource: ${zodMessage(parsed.error)}`);
    entries.push({ resource: value as Resource });
    lineOf.push(i + 1);
  }
  return resolveEntries(entries, { unnamed: (i) => `line-${lineOf[i]}` });
}

export function readResourceFile(path: string): LoadedResources {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `cannot read ${path}: no such file`
        : code === 'EISDIR'
          ? `cannot read ${path}: it is a directory`
          : `cannot read ${path}: ${(err as Error).message}`,
    );
  }
  return parseResources(text, path);
}

export interface PatientInFile {
  /** The Patient id the records are keyed by ("Patient/<id>" after resolution). */
  id: string;
  /** MedicationStatement/Request/Administration records whose subject is that patient. */
  medicationRecords: number;
}

const RECORD_TYPES: ReadonlySet<string> = new Set(MEDICATION_RECORD_TYPES);

/**
 * Finds `--patient` in a file: an id, "Patient/id", the Patient entry's fullUrl (urn:uuid:…, absolute URL). A patient
 * found nowhere — no Patient resource and no record whose subject resolves to it — is an InputError, never 0 mg:
 * a typo or the wrong file must not pass for a patient without glucocorticoids.
 */
export function locatePatient(loaded: LoadedResources, given: string, name: string): PatientInFile {
  const written = FHIR_ID.test(given) ? `Patient/${given}` : given;
  // A fullUrl that names no entry (urn:uuid:… of another file) reads as the Patient it would have been.
  const key = loaded.resolve(written) ?? (written.startsWith('urn:') ? `Patient/${written}` : undefined);
  if (!key?.startsWith('Patient/'))
    throw new InputError(`--patient "${given}" is not a Patient id, Patient/id or a Patient entry's fullUrl`);
  const id = key.slice('Patient/'.length);
  let known = false;
  let medicationRecords = 0;
  const patients = new Set<string>();
  let unresolved = 0;
  for (const r of loaded.resources) {
    const ref = patientRefOf(r);
    if (ref) patients.add(ref.slice('Patient/'.length));
    else if (RECORD_TYPES.has(r.resourceType) && writtenSubjectOf(r)) unresolved++;
    if (ref !== key) continue;
    known = true;
    if (RECORD_TYPES.has(r.resourceType)) medicationRecords++;
  }
  if (!known) {
    const list = [...patients].sort();
    const shown = list.length
      ? `patients in it: ${list.slice(0, 5).join(', ')}${list.length > 5 ? `, … (${list.length} in all)` : ''}`
      : 'it names no patient';
    const why = unresolved ? `; ${unresolved} medication record(s) have a subject that is no Patient in it` : '';
    throw new InputError(
      `${name}: patient "${given}" is not in the file (no Patient resource with that id or fullUrl, no record whose subject is that patient); ${shown}${why}`,
    );
  }
  return { id, medicationRecords };
}

/**
 * The issue added when the patient is in the file but none of its records is a medication record: 0 mg is then a
 * finding about the file as much as about the patient, and says so.
 */
export function withFileIssues(summary: ExposureSummary, found: PatientInFile): ExposureSummary {
  if (found.medicationRecords > 0) return summary;
  const issue: ExposureIssue = {
    source: `Patient/${found.id}`,
    // Not (yet) a member of IssueCode in src/exposure/types.ts, which this change does not own.
    code: 'no-medication-records',
    message:
      'no medication records (MedicationStatement, MedicationRequest, MedicationAdministration) for this patient in the file',
    severity: 'warning',
  };
  return { ...summary, issues: [...summary.issues, issue] };
}
