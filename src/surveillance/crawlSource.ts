/**
 * `crawl`: the cohort read by plain FHIR search, for servers without Bulk Data. The cohort is every patient with
 * a Condition the cohort rule accepts (all Conditions are paged through and judged here: ICD-10 prefixes cannot
 * be searched portably); each patient's records are then read exactly as a CDS call without prefetch reads
 * them (the services' prefetch templates, Bundle paging, referenced Medications), so that a worklist entry and
 * a card are computed from the same data.
 */
import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { Bundle, Condition, Resource } from '@medplum/fhirtypes';
import { HookDataSource } from '../cdsHooks/data.ts';
import { PATIENT_DATA } from '../cdsHooks/serviceDefinition.ts';
import { isRefusal, networkReason, OsteoWatchError, RefusedError } from '../errors.ts';
import { type EntryLike, resolveEntries } from '../fhir/bundleReferences.ts';
import type { FhirAuth } from '../fhir/fhirAuth.ts';
import { outcomeText } from '../fhir/outcome.ts';
import { type FhirLimits, fhirClient, searchPages } from '../fhir/patientRecords.ts';
import { patientRefOf } from '../fhir/subject.ts';
import { inCohort, type PatientRecords } from '../screening/assess.ts';
import type { CohortDefinition } from '../screening/cohort.ts';
import type { CohortSource, LoadedCohort } from './source.ts';

export interface CrawlOptions {
  fhirBaseUrl: string;
  auth: FhirAuth;
  limits: FhirLimits;
  /** Pages the cohort's Condition search may follow (a whole EHR's Conditions: far more than one patient's). */
  maxConditionPages: number;
  cohorts?: CohortDefinition[];
  /** Patients read at once. */
  concurrency: number;
}

const bearer = (header: string | undefined) => header?.replace(/^Bearer\s+/i, '');

/**
 * The Condition search's pages, a refusal (401, 403, 404: not allowed, no such endpoint) made a RefusedError: the
 * run fails at once with the server's reason instead of asking the same again with backoff. A server that does not
 * answer is named with the network's reason (the client's own message is only "fetch failed"), and retried.
 */
async function* refusalsNamed(pages: AsyncGenerator<Bundle>, base: string): AsyncGenerator<Bundle> {
  try {
    yield* pages;
  } catch (err) {
    if (err instanceof OperationOutcomeError && isRefusal(getStatus(err.outcome)))
      throw new RefusedError(`the Condition search was refused: ${outcomeText(err.outcome) ?? err.message}`);
    if (err instanceof TypeError && (err as { cause?: unknown }).cause)
      throw new OsteoWatchError('unavailable', `${base} could not be reached: ${networkReason(err)}`);
    throw err;
  }
}

export function crawlSource(o: CrawlOptions): CohortSource {
  return {
    mode: 'crawl',
    async load(): Promise<LoadedCohort> {
      const transactionTime = new Date().toISOString();
      const client = fhirClient(o.fhirBaseUrl, bearer(await o.auth.header()));
      const first = client.fhirSearchUrl('Condition', { _count: '1000' }).toString();
      const byPatient = new Map<string, Condition[]>();
      for await (const page of refusalsNamed(
        searchPages(client, first, { ...o.limits, maxPages: o.maxConditionPages }),
        o.fhirBaseUrl,
      )) {
        // A whole EHR's Conditions outlast a Backend Services token (five minutes at most): the next page goes
        // with the current one (cached by the auth until shortly before it expires).
        const token = bearer(await o.auth.header());
        if (token) client.setAccessToken(token);
        for (const r of resolveEntries((Array.isArray(page.entry) ? page.entry : []) as EntryLike[]).resources) {
          if (r.resourceType !== 'Condition') continue;
          const ref = patientRefOf(r);
          if (!ref) continue;
          const list = byPatient.get(ref) ?? [];
          list.push(r as Condition);
          byPatient.set(ref, list);
        }
      }
      const patientIds = [...byPatient]
        .filter(([, conditions]) => inCohort({ conditions }, o.cohorts))
        .map(([ref]) => ref.slice('Patient/'.length))
        .sort();
      return { patientIds, transactionTime };
    },
    async records(patientIds: string[]): Promise<Map<string, PatientRecords | Error>> {
      const out = new Map<string, PatientRecords | Error>();
      const queue = [...patientIds];
      const worker = async () => {
        while (queue.length) {
          const patientId = queue.shift()!;
          try {
            // Per patient, not per batch: a slow server's batch may outlast the token. A token endpoint down or
            // slow is this attempt's failure, retried with the batch; one refusing our client is not.
            const header = await o.auth.header().catch((err: unknown) => {
              if (err instanceof RefusedError) throw err;
              throw new OsteoWatchError('unavailable', `the token endpoint: ${(err as Error).message}`);
            });
            const source = new HookDataSource({
              fhirServer: o.fhirBaseUrl,
              accessToken: bearer(header),
              allowOpenServer: true,
              limits: o.limits,
            });
            const { data } = await source.gather(PATIENT_DATA, undefined, { patientId });
            const records: Resource[] = [
              ...data.medicationStatements,
              ...data.medicationRequests,
              ...data.medicationAdministrations,
            ];
            const medications = [
              ...records.filter((r) => r.resourceType === 'Medication'),
              ...(await source.medications(records, records)),
            ];
            out.set(patientId, { ...data, medications });
          } catch (err) {
            out.set(patientId, err instanceof Error ? err : new Error(String(err)));
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, patientIds.length)) }, worker));
      return out;
    },
    async finish() {},
  };
}
