/**
 * The demo cohort as a FHIR Group (https://hl7.org/fhir/R4/group.html): every patient with a myositis Condition
 * (the screening cohort's own definition, src/screening/cohort.ts), as an actual group of persons. It is what
 * cohort surveillance exports by Bulk Data (`GET /fhir/Group/osteowatch-myositis-cohort/$export`), as it would
 * export a registry or clinic group an EHR keeps.
 */
import type { FhirRepository } from '@medplum/fhir-router';
import type { Condition, Group } from '@medplum/fhirtypes';
import { cohortConditions, MYOSITIS_COHORT } from '../screening/cohort.ts';

export const COHORT_GROUP_ID = 'osteowatch-myositis-cohort';
export const COHORT_GROUP_SYSTEM = 'urn:osteowatch:group';

/** The Group of the patients some of whose Conditions put them in the myositis cohort, in patient id order. */
export function cohortGroup(conditions: Condition[]): Group {
  const ids = new Set<string>();
  for (const { condition } of cohortConditions(conditions, [MYOSITIS_COHORT])) {
    const id = /^Patient\/([^/]+)$/.exec(condition.subject?.reference ?? '')?.[1];
    if (id) ids.add(id);
  }
  return {
    resourceType: 'Group',
    id: COHORT_GROUP_ID,
    identifier: [{ system: COHORT_GROUP_SYSTEM, value: 'myositis-cohort' }],
    active: true,
    type: 'person',
    actual: true,
    name: `OsteoWatch screening cohort: ${MYOSITIS_COHORT.name}`,
    quantity: ids.size,
    member: [...ids].sort().map((id) => ({ entity: { reference: `Patient/${id}` } })),
  };
}

/** Builds the Group from the Conditions in the repository and writes it (after seedDemoCohort). */
export async function createCohortGroup(repo: FhirRepository): Promise<Group> {
  const conditions = await repo.searchResources<Condition>({ resourceType: 'Condition', count: 100_000 });
  return repo.updateResource(cohortGroup(conditions));
}
