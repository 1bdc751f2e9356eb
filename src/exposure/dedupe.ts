/**
 * One therapy recorded twice counts once; distinct orders are never merged because they look alike
 * (pitfall P13, docs/references.md). Links are identity only: a MedicationStatement's basedOn or
 * derivedFrom, a MedicationAdministration's request, or a shared business identifier (system|value).
 * The MedicationStatement or the administrations are counted and the MedicationRequest they realise is not.
 * References arrive as "Type/id", resolved where Bundles enter (src/fhir/bundleReferences.ts,
 * https://hl7.org/fhir/R4/bundle.html#references); a request's fullUrl, when the caller passes it, matches too.
 */
import type { Identifier, MedicationAdministration, MedicationStatement, Reference } from '@medplum/fhirtypes';
import { FHIR_ID_PATTERN } from '../terminology/fhirId.ts';
import type { MedicationRecord, RecordEvaluation } from './evaluation.ts';

/** A reference's type and id at its end (after a base URL, before a version). */
const TYPE_AND_ID_AT_END = new RegExp(`([A-Za-z]+)/(${FHIR_ID_PATTERN})(?:/_history/[^/]+)?$`);

export interface DuplicateMark {
  source: string;
  countedVia: string;
}

const identifierKeys = (ids: Identifier[] | undefined): string[] =>
  (ids ?? []).filter((i) => i.value).map((i) => `${i.system ?? ''}|${i.value}`);

/** A reference that is already "Type/id": its own key (most are; no match array or new string built for it). */
const RELATIVE = new RegExp(`^[A-Za-z]+/${FHIR_ID_PATTERN}$`);

/** Reduces a reference to "Type/id" (relative, absolute URL or versioned), or returns it unchanged (urn:uuid). */
export function referenceKey(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  if (ref.startsWith('urn:') || ref.startsWith('#') || RELATIVE.test(ref)) return ref;
  const m = TYPE_AND_ID_AT_END.exec(ref);
  return m ? `${m[1]}/${m[2]}` : ref;
}

export function findDuplicates(
  records: Array<{ record: MedicationRecord; evaluation: RecordEvaluation; fullUrl?: string }>,
): DuplicateMark[] {
  const requestKeys = new Map<string, string>(); // reference key or identifier key → request source
  for (const { record, evaluation, fullUrl } of records) {
    if (record.resourceType !== 'MedicationRequest') continue;
    // The evaluation's source, not "MedicationRequest/" + id: an id-less order in a transaction Bundle, linked
    // by its fullUrl (basedOn: urn:uuid:…), must be marked under the name it is reported by, or it counts twice.
    const src = evaluation.source;
    requestKeys.set(src, src);
    if (fullUrl) requestKeys.set(fullUrl, src);
    for (const k of identifierKeys(record.identifier)) requestKeys.set(`id:${k}`, src);
  }
  const marks = new Map<string, string>();
  const isQuantified = (e: RecordEvaluation): boolean =>
    (e.status === 'counted' || e.status === 'excluded') && !e.days.isEmpty;

  for (const { record, evaluation } of records) {
    if (record.resourceType === 'MedicationRequest' || !isQuantified(evaluation)) continue;
    const refs: Array<Reference | undefined> =
      record.resourceType === 'MedicationStatement'
        ? [...((record as MedicationStatement).basedOn ?? []), ...((record as MedicationStatement).derivedFrom ?? [])]
        : [(record as MedicationAdministration).request];
    const linked = new Set<string>();
    for (const r of refs) {
      const key = referenceKey(r?.reference);
      const target = key ? requestKeys.get(key) : undefined;
      if (target) linked.add(target);
    }
    for (const k of identifierKeys(record.identifier)) {
      const target = requestKeys.get(`id:${k}`);
      if (target) linked.add(target);
    }
    for (const target of linked) if (!marks.has(target)) marks.set(target, evaluation.source);
  }

  // The same record twice (same type and business identifier, different ids): count the first.
  const seen = new Map<string, string>();
  for (const { record, evaluation } of records) {
    if (marks.has(evaluation.source)) continue;
    for (const k of identifierKeys(record.identifier)) {
      const key = `${record.resourceType}|${k}`;
      const first = seen.get(key);
      if (first && first !== evaluation.source) {
        marks.set(evaluation.source, first);
        break;
      }
      seen.set(key, evaluation.source);
    }
  }
  return [...marks].map(([source, countedVia]) => ({ source, countedVia }));
}
