/**
 * Who is in the screening cohort: a Condition from a configured list, whatever its clinical status, that is
 * not refuted or entered-in-error — by default the idiopathic inflammatory myopathies (the cohort ValueSet in
 * profiles/). ICD-10-CM codes match by prefix so that new fifth characters (M33.03, M33.13, …) are covered.
 */
import type { Condition } from '@medplum/fhirtypes';
import { MYOSITIS_CODES } from '../terminology/diagnoses.ts';
import { CONDITION_VERIFICATION, ICD10CM, SNOMED } from '../terminology/systems.ts';

export interface CohortDefinition {
  name: string;
  snomed: string[];
  icd10Prefixes: string[];
}

export const MYOSITIS_COHORT: CohortDefinition = {
  name: 'idiopathic inflammatory myopathy',
  snomed: [...MYOSITIS_CODES.snomed],
  icd10Prefixes: [...MYOSITIS_CODES.icd10Prefixes],
};

const icdKey = (code: string): string => code.replace(/\./g, '').toUpperCase();

const EXCLUDED_VERIFICATION = new Set(['refuted', 'entered-in-error']);

function code(c: { coding?: Array<{ code?: string }> } | undefined, system: string): string | undefined {
  return (c?.coding as Array<{ system?: string; code?: string }> | undefined)?.find((x) => x.system === system)?.code;
}

/** The Conditions that put the patient in one of the cohorts; empty when none does. */
export function cohortConditions(
  conditions: Condition[],
  cohorts: CohortDefinition[],
): Array<{ condition: Condition; cohort: string }> {
  const out: Array<{ condition: Condition; cohort: string }> = [];
  for (const c of conditions) {
    // Risk follows cumulative exposure, not disease activity: remission, inactive and resolved myositis keep the
    // patient in the cohort. Only a diagnosis that was refuted or recorded in error does not count.
    const verification = code(c.verificationStatus, CONDITION_VERIFICATION);
    if (verification && EXCLUDED_VERIFICATION.has(verification)) continue;
    const codings = c.code?.coding ?? [];
    for (const cohort of cohorts) {
      const hit = codings.some(
        (x) =>
          (x.system === SNOMED && x.code && cohort.snomed.includes(x.code)) ||
          (x.system === ICD10CM && x.code && cohort.icd10Prefixes.some((p) => icdKey(x.code!).startsWith(icdKey(p)))),
      );
      if (hit) {
        out.push({ condition: c, cohort: cohort.name });
        break;
      }
    }
  }
  return out;
}
