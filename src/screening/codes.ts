/** Codes the screening rules read and write (sources in docs/references.md). */
export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

/** LOINC 46358-8 "MR Whole body": the WB-MRI order and report code. */
export const WB_MRI_LOINC = '46358-8';
/** SNOMED CT 397758007 avascular necrosis of bone: the finding Observation's code. */
export const OSTEONECROSIS = '397758007';
export const PRESENT = '52101004';
export const ABSENT = '2667000';

export { GRADING_SYSTEM } from '../imaging/grading.ts';

export const JOINTS: Record<string, string> = {
  '24136001': 'hip',
  '49076000': 'knee',
  '70258002': 'ankle',
  '16982005': 'shoulder',
  '80144004': 'calcaneus',
};
export const LATERALITY: Record<string, 'left' | 'right'> = {
  '7771000': 'left',
  '24028007': 'right',
  '419161000': 'left',
  '419465000': 'right',
};
