/** The standard codes OsteoWatch reads and writes, each defined once, with what it means here. */
import { DCM, ICD10CM, LOINC, SNOMED } from './systems.ts';

/** LOINC 46358-8 "MR Whole body": the WB-MRI order and report code. */
export const WB_MRI_LOINC = '46358-8';
export const WB_MRI = { system: LOINC, code: WB_MRI_LOINC, display: 'MR Whole body' } as const;
/** LOINC LP29684-5 "Radiology": the DiagnosticReport category. */
export const RADIOLOGY_CATEGORY = { system: LOINC, code: 'LP29684-5', display: 'Radiology' } as const;
/** SNOMED CT 363679005 "Imaging": the ServiceRequest category. */
export const IMAGING_CATEGORY = { system: SNOMED, code: '363679005', display: 'Imaging' } as const;
/** DICOM modality MR. */
export const MR_MODALITY = { system: DCM, code: 'MR' } as const;

/** SNOMED CT 397758007 avascular necrosis of bone: the finding Observation's code. */
export const OSTEONECROSIS = '397758007';
/** SNOMED CT 52101004 present / 2667000 absent: the finding's value. */
export const PRESENT = '52101004';
export const ABSENT = '2667000';

/** The joints reported per side on the STIR WB-MRI, by SNOMED CT body structure. */
export const JOINT_CODES = {
  hip: { code: '24136001', display: 'Hip joint' },
  knee: { code: '49076000', display: 'Knee joint' },
  ankle: { code: '70258002', display: 'Ankle joint' },
  shoulder: { code: '16982005', display: 'Shoulder region' },
  calcaneus: { code: '80144004', display: 'Calcaneus' },
} as const;
export type Joint = keyof typeof JOINT_CODES;
/** SNOMED CT code → joint. */
export const JOINTS: Readonly<Record<string, Joint>> = Object.fromEntries(
  Object.entries(JOINT_CODES).map(([joint, c]) => [c.code, joint as Joint]),
);

/** SNOMED CT laterality qualifiers (7771000 left, 24028007 right) and the side concepts 419161000/419465000. */
export const SIDE_CODES = {
  left: { code: '7771000', display: 'Left' },
  right: { code: '24028007', display: 'Right' },
} as const;
export const LATERALITY: Readonly<Record<string, 'left' | 'right'>> = {
  '7771000': 'left',
  '24028007': 'right',
  '419161000': 'left',
  '419465000': 'right',
};

/** ICD-10-CM Z79.52 "Long term (current) use of systemic steroids": the WB-MRI order's reason. */
export const LONG_TERM_STEROIDS = {
  system: ICD10CM,
  code: 'Z79.52',
  display: 'Long term (current) use of systemic steroids',
} as const;
