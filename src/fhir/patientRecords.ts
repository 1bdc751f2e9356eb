/**
 * Fetches one patient's glucocorticoid-relevant records from a FHIR R4 server over HTTP with @medplum/core's
 * MedplumClient, following search paging (Bundle.link next) to the end — within limits: a server we call may be
 * slow or hostile, so every request has a timeout, a search follows at most so many pages and gathers at most so
 * many resources, and a `next` link is followed only on the server's own origin (our bearer token goes with it).
 */
import { MedplumClient, OperationOutcomeError } from '@medplum/core';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import { networkReason, OsteoWatchError } from '../errors.ts';
import { type EntryLike, resolveEntries } from './bundleReferences.ts';
import { outcomeText } from './outcome.ts';

/** The FHIR server could not be reached or refused (or its base URL is not one). */
export class FhirFetchError extends OsteoWatchError {
  constructor(message: string) {
    super('upstream', message);
  }
}

/**
 * The FHIR server did not answer in time: 503 with Retry-After in the CDS service (RFC 9110 §15.6.4,
 * https://www.rfc-editor.org/rfc/rfc9110#name-503-service-unavailable: a condition that will likely be
 * alleviated after some delay), exit 1 on the command line.
 */
export class FhirTimeoutError extends OsteoWatchError {
  constructor(message: string) {
    super('unavailable', message, { code: 'timeout' });
  }
}

/** Bounds on what one fetch from a FHIR server may cost (OSTEOWATCH_FHIR_* in the service). */
export interface FhirLimits {
  /** Per HTTP request, ms. */
  timeoutMs: number;
  /** Pages one search follows (its first page included). */
  maxPages: number;
  /** Resources one search (or one hook call) may gather. */
  maxResources: number;
  /** Reads in flight at once (Medication references). */
  concurrency: number;
}

export const DEFAULT_FHIR_LIMITS: Readonly<FhirLimits> = {
  timeoutMs: 5_000,
  maxPages: 50,
  maxResources: 10_000,
  concurrency: 8,
};

/** One request's signal: its own timeout, and the caller's deadline when there is one. */
export function requestSignal(timeoutMs: number, deadline?: AbortSignal): AbortSignal {
  const own = AbortSignal.timeout(timeoutMs);
  return deadline ? AbortSignal.any([own, deadline]) : own;
}

/** Whether `next` may be followed from a server at `base`: same origin only, so the token goes nowhere else. */
export function sameOrigin(next: string, base: string): boolean {
  try {
    return new URL(next).origin === new URL(base).origin;
  } catch {
    return false;
  }
}

/** The Bundle's next link, if any (https://hl7.org/fhir/R4/http.html#paging). */
export const nextLinkOf = (b: Bundle): string | undefined =>
  Array.isArray(b.link) ? b.link.find((l) => l?.relation === 'next')?.url : undefined;

/**
 * The pages of a search, first to last, within `limits`: FhirFetchError past maxPages or for a next link
 * off the server's origin, FhirTimeoutError when a page does not come within the timeout (or the deadline).
 * `first` is the first page's URL, or a Bundle already had (a prefetched page) whose next link is followed.
 */
export async function* searchPages(
  client: MedplumClient,
  first: string | Bundle,
  limits: FhirLimits,
  deadline?: AbortSignal,
): AsyncGenerator<Bundle> {
  const base = client.fhirUrl().toString();
  let url: string | undefined;
  let pages = 0;
  if (typeof first === 'string') url = first;
  else url = nextLinkOf(first);
  while (url) {
    if (!sameOrigin(new URL(url, base).toString(), base))
      throw new FhirFetchError(`a next link leads off the FHIR server (${new URL(url, base).origin})`);
    if (++pages > limits.maxPages)
      throw new FhirFetchError(`the search goes on for more than ${limits.maxPages} pages`);
    const b = (await timed(
      (signal) => client.get(url!, { cache: 'no-cache', signal }),
      limits.timeoutMs,
      deadline,
    )) as Bundle;
    if (!b || typeof b !== 'object' || b.resourceType !== 'Bundle')
      throw new FhirFetchError('the FHIR server answered a search with something that is not a Bundle');
    yield b;
    url = nextLinkOf(b);
  }
}

/** Runs one request with its timeout; a request cut short is a FhirTimeoutError, naming which limit cut it. */
export async function timed<T>(
  run: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  deadline?: AbortSignal,
): Promise<T> {
  const signal = requestSignal(timeoutMs, deadline);
  try {
    return await run(signal);
  } catch (err) {
    if (deadline?.aborted) throw new FhirTimeoutError('the FHIR server did not answer before the deadline');
    if (signal.aborted) throw new FhirTimeoutError(`the FHIR server did not answer within ${timeoutMs} ms`);
    throw err;
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

function explain(err: unknown, what: string): OsteoWatchError {
  if (err instanceof FhirTimeoutError) return new FhirTimeoutError(`${what}: ${err.message}`);
  if (err instanceof FhirFetchError) return new FhirFetchError(`${what}: ${err.message}`);
  if (err instanceof OperationOutcomeError) {
    return new FhirFetchError(`${what}: ${outcomeText(err.outcome) ?? err.message}`);
  }
  return new FhirFetchError(`${what}: ${networkReason(err)}`);
}

/**
 * All MedicationStatement/Request/Administration of the patient, with their referenced Medications, within
 * `limits` (the CLI's `exposure --fhir` and the audit API's live exposure use the defaults).
 */
export async function fetchPatientRecords(
  client: MedplumClient,
  patientId: string,
  pageSize = 100,
  limits: FhirLimits = DEFAULT_FHIR_LIMITS,
): Promise<Resource[]> {
  try {
    await timed((signal) => client.readResource('Patient', patientId, { signal }), limits.timeoutMs);
  } catch (err) {
    throw explain(err, `cannot read Patient/${patientId}`);
  }
  const out: Resource[] = [];
  const seen = new Set<string>();
  for (const type of MEDICATION_RECORD_TYPES) {
    try {
      const first = client
        .fhirSearchUrl(type as ResourceType, {
          subject: `Patient/${patientId}`,
          _include: `${type}:medication`,
          _count: String(pageSize),
        })
        .toString();
      for await (const page of searchPages(client, first, limits)) {
        // Each page is a searchset Bundle: its references are resolved like any Bundle's (bundleReferences.ts).
        const { resources } = resolveEntries((Array.isArray(page.entry) ? page.entry : []) as EntryLike[]);
        for (const r of resources) {
          const key = `${r.resourceType}/${r.id}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(r);
          if (out.length > limits.maxResources)
            throw new FhirFetchError(`more than ${limits.maxResources} resources for one patient`);
        }
      }
    } catch (err) {
      throw explain(err, `cannot search ${type}`);
    }
  }
  return out;
}
