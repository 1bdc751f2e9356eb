import type { Resource } from '@medplum/fhirtypes';

/** "Patient/123" for a Patient or for any resource whose subject (or patient) is that Patient. */
export function patientRefOf(r: Resource): string | undefined {
  if (r.resourceType === 'Patient') return r.id ? `Patient/${r.id}` : undefined;
  const ref =
    (r as { subject?: { reference?: string }; patient?: { reference?: string } }).subject?.reference ??
    (r as { patient?: { reference?: string } }).patient?.reference;
  return ref?.startsWith('Patient/') ? ref : undefined;
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
