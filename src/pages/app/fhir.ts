/**
 * Reading the launched patient's records from the FHIR server with the app's own token (fhirclient's Client):
 * every search of queries.ts with all its pages, then the Medications the records reference.
 */
import type Client from 'fhirclient/lib/Client.js';
import { medicationReferences, PATIENT_SEARCHES, searchUrl } from './queries.ts';

export interface FhirResource {
  resourceType: string;
  id?: string;
  [key: string]: unknown;
}

const MEDICATION_RECORDS = new Set(['MedicationStatement', 'MedicationRequest', 'MedicationAdministration']);

async function search(client: Client, url: string): Promise<FhirResource[]> {
  const found = (await client.request<FhirResource[]>(
    { url, headers: { accept: 'application/fhir+json' } },
    { pageLimit: 0, flat: true },
  )) as FhirResource[] | FhirResource;
  return (Array.isArray(found) ? found : [found]).filter(
    (r) => r && typeof r === 'object' && r.resourceType !== 'OperationOutcome' && r.resourceType !== 'Bundle',
  );
}

/** Every record the timeline is computed from, each once; `progress` is told what is being read. */
export async function readPatientRecords(
  client: Client,
  patientId: string,
  progress: (text: string) => void = () => undefined,
): Promise<FhirResource[]> {
  progress('Reading the medication records, conditions and WB-MRI history…');
  const lists = await Promise.all(
    Object.values(PATIENT_SEARCHES).map((template) => search(client, searchUrl(template, patientId))),
  );
  const byKey = new Map<string, FhirResource>();
  for (const r of lists.flat()) byKey.set(`${r.resourceType}/${r.id ?? byKey.size}`, r);
  const records = [...byKey.values()].filter((r) => MEDICATION_RECORDS.has(r.resourceType));
  const refs = medicationReferences(records);
  if (refs.length) progress(`Reading ${refs.length} referenced medication${refs.length > 1 ? 's' : ''}…`);
  // A Medication that cannot be read is left out: the engine then names the record's medication as unresolved.
  const medications = await Promise.all(
    refs.map((ref) =>
      client.request<FhirResource>({ url: ref, headers: { accept: 'application/fhir+json' } }).catch(() => undefined),
    ),
  );
  for (const m of medications) if (m?.resourceType === 'Medication') byKey.set(`Medication/${m.id}`, m);
  return [...byKey.values()];
}
