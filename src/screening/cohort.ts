/**
 * Who is in the screening cohort: an active, not refuted Condition from a configured list — by default the
 * idiopathic inflammatory myopathies (the cohort ValueSet in profiles/). ICD-10-CM codes match by
 * prefix so that new fifth characters (M33.03, M33.13, …) are covered.
 */
import type { Condition } from '@medplum/fhirtypes';
import { ICD10CM, SNOMED } from './codes.ts';

export interface CohortDefinition {
  name: string;
  snomed: string[];
  icd10Prefixes: string[];
}

export const MYOSITIS_COHORT: CohortDefinition = {
  name: 'idiopathic inflammatory myopathy',
  snomed: [
    '702380008',
    '396230008',
    '402425006',
    '1212005',
    '238935002',
    '31384009',
    '738526005',
    '72315009',
    '715863001',
    '445187004',
    '766706007',
  ],
  icd10Prefixes: ['M33', 'G72.41', 'G72.49'],
};

const icdKey = (code: string): string => code.replace(/\./g, '').toUpperCase();

const INACTIVE_CLINICAL = new Set(['inactive', 'remission', 'resolved']);
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
    const clinical = code(c.clinicalStatus, 'http://terminology.hl7.org/CodeSystem/condition-clinical');
    const verification = code(c.verificationStatus, 'http://terminology.hl7.org/CodeSystem/condition-ver-status');
    if (clinical && INACTIVE_CLINICAL.has(clinical)) continue;
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
