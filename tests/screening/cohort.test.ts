/** The cohort follows exposure, not disease activity (src/screening/cohort.ts). */
import type { Condition } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { cohortConditions, MYOSITIS_COHORT } from '../../src/screening/cohort.ts';

const dm = (clinical?: string, verification?: string): Condition => ({
  resourceType: 'Condition',
  subject: { reference: 'Patient/p' },
  code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M33.13' }] },
  ...(clinical
    ? {
        clinicalStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: clinical }],
        },
      }
    : {}),
  ...(verification
    ? {
        verificationStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: verification }],
        },
      }
    : {}),
});

describe('myositis cohort', () => {
  it.each(['active', 'recurrence', 'relapse', 'remission', 'inactive', 'resolved', undefined])(
    'clinical status %s keeps the patient in the cohort',
    (status) => expect(cohortConditions([dm(status)], [MYOSITIS_COHORT])).toHaveLength(1),
  );

  it.each(['refuted', 'entered-in-error'])('verification status %s does not', (v) =>
    expect(cohortConditions([dm('active', v)], [MYOSITIS_COHORT])).toHaveLength(0),
  );
});
