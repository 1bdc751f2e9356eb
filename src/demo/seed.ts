import type { FhirRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { generateCohort } from '../cohort/generate.ts';

/** Loads the synthetic cohort into a repository; returns the number of resources written. */
export async function seedDemoCohort(
  repo: FhirRepository,
  options: { size: number; seed: number; asOf: string },
): Promise<number> {
  const resources: Resource[] = generateCohort(options);
  for (const r of resources) await repo.createResource(r);
  return resources.length;
}
