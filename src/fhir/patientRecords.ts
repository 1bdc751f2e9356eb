/**
 * Fetches one patient's glucocorticoid-relevant records from a FHIR R4 server over HTTP with @medplum/core's
 * MedplumClient, following search paging (Bundle.link next) to the end.
 */
import { MedplumClient, OperationOutcomeError } from '@medplum/core';
import type { Resource, ResourceType } from '@medplum/fhirtypes';
import { OsteoWatchError } from '../errors.ts';
import { type EntryLike, resolveEntries } from './bundleReferences.ts';

/** The FHIR server could not be reached or refused (or its base URL is not one). */
export class FhirFetchError extends OsteoWatchError {
  constructor(message: string) {
    super('upstream', message);
  }
}

export const MEDICATION_RECORD_TYPES = [
  'MedicationStatement',
  'MedicationRequest',
  'MedicationAdministration',
] as const;

/** A MedplumClient for any FHIR base URL ("https://ehr.example/fhir/R4"), not only a Medplum server. */
export function fhirClient(baseUrl: string, accessToken?: string): MedplumClient {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new FhirFetchError(`not a URL: ${baseUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new FhirFetchError(`FHIR base URL must be http(s): ${baseUrl}`);
  const client = new MedplumClient({
    baseUrl: `${url.origin}/`,
    fhirUrlPath: url.pathname.replace(/^\/+|\/+$/g, ''),
    fetch: globalThis.fetch.bind(globalThis),
    cacheTime: 0,
    autoBatchTime: 0,
    onUnauthenticated: () => undefined,
  });
  if (accessToken) client.setAccessToken(accessToken);
  return client;
}

function explain(err: unknown, what: string): FhirFetchError {
  if (err instanceof OperationOutcomeError) {
    const text = err.outcome.issue?.map((i) => i.details?.text ?? i.diagnostics ?? i.code).join('; ');
    return new FhirFetchError(`${what}: ${text}`);
  }
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  return new FhirFetchError(`${what}: ${cause ?? (err instanceof Error ? err.message : String(err))}`);
}

/** All MedicationStatement/Request/Administration of the patient, with their referenced Medications. */
export async function fetchPatientRecords(
  client: MedplumClient,
  patientId: string,
  pageSize = 100,
): Promise<Resource[]> {
  try {
    await client.readResource('Patient', patientId);
  } catch (err) {
    throw explain(err, `cannot read Patient/${patientId}`);
  }
  const out: Resource[] = [];
  const seen = new Set<string>();
  for (const type of MEDICATION_RECORD_TYPES) {
    try {
      for await (const page of client.searchResourcePages(type as ResourceType, {
        subject: `Patient/${patientId}`,
        _include: `${type}:medication`,
        _count: String(pageSize),
      })) {
        // Each page is a searchset Bundle: its references are resolved like any Bundle's (bundleReferences.ts).
        const bundleEntries = (page.bundle?.entry ?? []) as EntryLike[];
        const { resources } = resolveEntries(
          bundleEntries.length ? bundleEntries : (page as Resource[]).map((resource) => ({ resource })),
        );
        for (const r of resources) {
          const key = `${r.resourceType}/${r.id}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(r);
        }
      }
    } catch (err) {
      throw explain(err, `cannot search ${type}`);
    }
  }
  return out;
}
