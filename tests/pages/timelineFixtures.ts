/**
 * Patients for the timeline tests: the demo's synthetic cohort (seed 42, as of AS_OF) split by patient, and a
 * hand-made one with WB-MRIs and findings (the cohort has no findings).
 */
import type { Resource } from '@medplum/fhirtypes';
import { generateCohort } from '../../src/cohort/generate.ts';
import { daily, finding, myositisPatient, wbMri } from '../helpers/patients.ts';

export const AS_OF = '2026-06-30';
/** The CDS services' clock in these tests: noon on the as-of day. */
export const NOW = new Date(`${AS_OF}T12:00:00Z`);
export const COHORT_SIZE = 60;
/** Baseline WB-MRI due, 3 IV pulses, and a prednisolone record dosed in mg/kg: its dose is unknown. */
export const DUE_WITH_UNKNOWN = 'ow-0042';
/** Below the threshold, projected to cross it if taken as recorded. */
export const BELOW = 'ow-0005';
/** Not in the cohort (no myositis). */
export const OUTSIDE = 'ow-0018';

let cached: Resource[] | undefined;
export function cohort(): Resource[] {
  cached ??= generateCohort({ size: COHORT_SIZE, seed: 42, asOf: AS_OF });
  return cached;
}

/** One patient's resources, with every Medication of the cohort (what a server would resolve). */
export function patientResources(id: string, all: Resource[] = cohort()): Resource[] {
  const ref = `Patient/${id}`;
  return all.filter(
    (r) =>
      r.resourceType === 'Medication' ||
      (r.resourceType === 'Patient' && r.id === id) ||
      (r as { subject?: { reference?: string } }).subject?.reference === ref,
  );
}

/** Crossed the threshold in 2025, baseline WB-MRI on 2026-05-20 with findings at three sites. */
export const WITH_FINDINGS = 'tl-findings';
export function findingsPatient(): Resource[] {
  const id = WITH_FINDINGS;
  return [
    ...myositisPatient(id),
    daily(id, 1, 20, '2025-06-01'),
    ...wbMri(id, 1, '2026-05-20'),
    // Left hip over 2/3 of the weight-bearing area (high risk), right knee collapsed, right hip read clean.
    finding(id, 1, '2026-05-20', '24136001', '7771000', true, 'hip-wb-gt-2/3'),
    finding(id, 2, '2026-05-20', '49076000', '24028007', true, 'knee-surface-25-50', true),
    finding(id, 3, '2026-05-20', '24136001', '24028007', false),
  ];
}
