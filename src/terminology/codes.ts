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

export type Side = 'left' | 'right';

/**
 * SNOMED CT laterality qualifiers, "Left (qualifier value)" 7771000 and "Right (qualifier value)" 24028007 (the
 * mCODE Laterality Qualifier value set, https://hl7.org/fhir/us/mcode/ValueSet-mcode-laterality-qualifier-vs.html),
 * and the side concepts 419161000/419465000 (unilateral left/right) that older records carry.
 */
export const SIDE_CODES = {
  left: { code: '7771000', display: 'Left' },
  right: { code: '24028007', display: 'Right' },
} as const;
export const LATERALITY: Readonly<Record<string, Side>> = {
  '7771000': 'left',
  '24028007': 'right',
  '419161000': 'left',
  '419465000': 'right',
};

/**
 * Precoordinated SNOMED CT concepts for a joint on one side, written as the one coding of Observation.bodySite
 * where one exists: the codings of one CodeableConcept each represent the same concept (FHIR R4 CodeableConcept,
 * https://hl7.org/fhir/R4/datatypes.html#CodeableConcept), so joint and side never go in two codings.
 * hip: 362907004 "Left hip joint structure" / 362908009 "Right hip joint structure", the lateral children of
 * 24136001 "Hip joint structure", as published (id and term) in the eHDSI Body Site value set 8.1.0,
 * http://terminology.ehdsi.eu/ValueSet/eHDSIBodySite (github.com/hl7-eu/EHDSI-Terminology-package,
 * input/fsh/valuesets/mvc/eHDSIBodySite.fsh), expanded from the SNOMED CT International Edition.
 * Knee, ankle, shoulder region and calcaneus have no lateralised *structure* concept that we could verify in such
 * a source (eHDSI has only 735263003/735264009 "Entire left/right knee joint", which means the whole joint, not a
 * lesion in part of it): they are written as the joint plus the laterality qualifier extension
 * (LATERALITY_QUALIFIER in systems.ts).
 */
export const LATERAL_JOINT_CODES: Readonly<Partial<Record<Joint, Record<Side, { code: string; display: string }>>>> = {
  hip: {
    left: { code: '362907004', display: 'Left hip joint structure' },
    right: { code: '362908009', display: 'Right hip joint structure' },
  },
};
/**
 * Lateralised SNOMED CT body structures read back (never written) → joint and side: the table above, and the
 * lateralised concepts other systems code these sites with — 735263003/735264009 "Entire left/right knee joint"
 * (eHDSI, above), 287679003/287579007 "Left/Right hip region structure" and 91775009/91774008 "Structure of
 * left/right shoulder region", as they appear (id and term) in public FHIR value sets and examples.
 */
export const LATERAL_SITES: Readonly<Record<string, { joint: Joint; side: Side }>> = {
  ...Object.fromEntries(
    Object.entries(LATERAL_JOINT_CODES).flatMap(([joint, sides]) =>
      Object.entries(sides).map(([side, c]) => [c.code, { joint: joint as Joint, side: side as Side }]),
    ),
  ),
  '735263003': { joint: 'knee', side: 'left' },
  '735264009': { joint: 'knee', side: 'right' },
  '287679003': { joint: 'hip', side: 'left' },
  '287579007': { joint: 'hip', side: 'right' },
  '91775009': { joint: 'shoulder', side: 'left' },
  '91774008': { joint: 'shoulder', side: 'right' },
};

/** ICD-10-CM Z79.52 "Long term (current) use of systemic steroids": the WB-MRI order's reason. */
export const LONG_TERM_STEROIDS = {
  system: ICD10CM,
  code: 'Z79.52',
  display: 'Long term (current) use of systemic steroids',
} as const;

// ---------------------------------------------------------------------------------------------------------------
// DICOM coded entries (Code Sequence Macro: value, coding scheme designator, meaning) read from SR and SEG.
// DCM is DICOM's own scheme (PS3.16), SCT is SNOMED CT (SRT in older objects).

export interface DicomCode {
  value: string;
  scheme: 'DCM' | 'SCT';
  meaning: string;
}
const dcm = (value: string, meaning: string): DicomCode => ({ value, scheme: 'DCM', meaning });
const sct = (value: string, meaning: string): DicomCode => ({ value, scheme: 'SCT', meaning });

/** The private coding scheme of our grading items in an SR (declared in CodingSchemeIdentificationSequence). */
export const OSTW = '99OSTW';

/** TID 1500 (https://dicom.nema.org/medical/dicom/current/output/html/part16.html#sect_TID_1500) and its items. */
export const SR_CODES = {
  report: dcm('126000', 'Imaging Measurement Report'),
  measurements: dcm('126010', 'Imaging Measurements'),
  group: dcm('125007', 'Measurement Group'),
  finding: dcm('121071', 'Finding'),
  personObserver: dcm('121008', 'Person Observer Name'),
  deviceObserver: dcm('121013', 'Device Observer Name'),
  findingSite: sct('363698007', 'Finding Site'),
  laterality: sct('272741003', 'Laterality'),
  presence: sct('705057003', 'Presence'),
  osteonecrosis: sct(OSTEONECROSIS, 'Avascular necrosis of bone'),
  present: sct(PRESENT, 'Present'),
  absent: sct(ABSENT, 'Absent'),
  yes: sct('373066001', 'Yes'),
  no: sct('373067005', 'No'),
  left: sct(SIDE_CODES.left.code, 'Left'),
  right: sct(SIDE_CODES.right.code, 'Right'),
} as const;

/** SNOMED CT "Structure of head of femur" (2812003): segmented in a SEG, and reported at the hip in an SR. */
export const FEMORAL_HEAD = sct('2812003', 'Structure of head of femur');

/** SR finding sites (SNOMED CT) → joints: the joint codes, and the regions and bones a reader may name instead. */
export const SR_FINDING_SITES: Readonly<Record<string, Joint>> = {
  ...JOINTS,
  [FEMORAL_HEAD.value]: 'hip',
  '29836001': 'hip',
  '72696002': 'knee',
  '310652005': 'knee',
  '67453005': 'ankle',
  '119524001': 'shoulder',
};

/**
 * DICOM SEG segment properties (Segmented Property Category CID 7150 and Type, PS3.16,
 * https://dicom.nema.org/medical/dicom/current/output/html/part16.html#sect_CID_7150), as highdicom and dcmqi write
 * them (dcmqi doc/segContexts/SegmentationCategoryTypeModifier-DICOM-Master.json): the femoral head is an
 * "Anatomical Structure" (123037004; 91723000 before SNOMED CT retired it), the necrotic region a
 * "Morphologically Altered Structure" (49755003) of type "Necrosis" (6574001, CID 7159 Lesion Segmentation Types)
 * or, as our own SR codes the finding, "Avascular necrosis of bone" (397758007).
 */
export const SEG_CODES = {
  anatomicalStructure: sct('123037004', 'Anatomical Structure'),
  anatomicalStructureRetired: sct('91723000', 'Anatomical Structure'),
  morphologicallyAltered: sct('49755003', 'Morphologically Altered Structure'),
  femoralHead: FEMORAL_HEAD,
  necrosis: sct('6574001', 'Necrosis'),
  osteonecrosis: SR_CODES.osteonecrosis,
} as const;
