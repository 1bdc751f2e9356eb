import type { Resource } from '@medplum/fhirtypes';
import { typeAndId } from './bundleReferences.ts';

/**
 * "Patient/123" for a Patient or for any resource whose subject (or patient) is that Patient, written relative,
 * absolute or version-specific (https://hl7.org/fhir/R4/references.html#literal). A `urn:uuid:` subject names a
 * Bundle entry: resolve the Bundle first (bundleReferences.ts), as every place Bundles enter does.
 */
export function patientRefOf(r: Resource): string | undefined {
  if (r.resourceType === 'Patient') return r.id ? `Patient/${r.id}` : undefined;
  const ref = typeAndId(writtenSubjectOf(r));
  return ref?.startsWith('Patient/') ? ref : undefined;
}

/** The subject (or patient) reference exactly as written, if any. */
export function writtenSubjectOf(r: Resource): string | undefined {
  const x = r as { subject?: { reference?: string }; patient?: { reference?: string } };
  return x.subject?.reference ?? x.patient?.reference;
}

/** Groups resources by the patient they belong to; resources of no patient (Medication) are left out. */
export function groupByPatient(resources: readonly Resource[]): Map<string, Resource[]> {
  const out = new Map<string, Resource[]>();
  for (const r of resources) {
    const ref = patientRefOf(r);
    if (!ref) continue;
    let list = out.get(ref);
    if (!list) {
      list = [];
      out.set(ref, list);
    }
    list.push(r);
  }
  return out;
}
