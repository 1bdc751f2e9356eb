/**
 * Code system and canonical URLs, each written once. Where a system has an official URI it is the one from
 * the FHIR R4 terminology registry (https://hl7.org/fhir/R4/terminologies-systems.html).
 */
export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const ATC = 'http://www.whocc.no/atc';
/** Other spellings of ATC found in EHR data: the trailing slash, and the HL7 v3 OID. */
export const ATC_ALIASES: readonly string[] = ['http://www.whocc.no/atc/', 'urn:oid:2.16.840.1.113883.6.73'];
export const UCUM = 'http://unitsofmeasure.org';
/** EDQM Standard Terms (routes, dose forms, units of presentation), as European IGs and the IPS write it. */
export const EDQM = 'http://standardterms.edqm.eu';
/** DICOM Controlled Terminology (PS3.16), e.g. modality MR. */
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

/** The base of OsteoWatch's own conformance resources (profiles/). */
export const CANONICAL = 'http://osteowatch.org/fhir';
export const GRADING_SYSTEM = `${CANONICAL}/CodeSystem/osteonecrosis-grading`;
export const OVERRIDE_SYSTEM = `${CANONICAL}/CodeSystem/override-reason`;
export const TOPIC_SYSTEM = `${CANONICAL}/CodeSystem/cds-topic`;
export const WB_MRI_SERVICE_REQUEST_PROFILE = `${CANONICAL}/StructureDefinition/osteowatch-wbmri-servicerequest`;
export const FINDING_PROFILE = `${CANONICAL}/StructureDefinition/osteowatch-osteonecrosis-finding`;
export const FINDINGS_REPORT_PROFILE = `${CANONICAL}/StructureDefinition/osteowatch-wbmri-findings-report`;
/**
 * Laterality of a body site that has no precoordinated lateralised code: the mCODE Laterality Qualifier extension
 * on Observation.bodySite (https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-laterality-qualifier.html,
 * STU4, maturity 4), valued 7771000 Left / 24028007 Right. Written and read.
 */
export const LATERALITY_QUALIFIER = 'http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-laterality-qualifier';
/**
 * The FHIR Extensions Pack's Observation Structure Laterality extension on Observation.bodySite
 * (http://hl7.org/fhir/extensions/5.3.0-ballot/StructureDefinition-observation-structureLaterality.html, ballot):
 * read, so that a record written with it is understood too.
 */
export const STRUCTURE_LATERALITY = 'http://hl7.org/fhir/StructureDefinition/observation-structureLaterality';
/** The rule behind a surveillance worklist Task (Task.code): screening, follow-up, findings. */
export const WORKLIST_RULE_SYSTEM = `${CANONICAL}/CodeSystem/worklist-rule`;
/**
 * Tags OsteoWatch's surveillance puts on what it writes to the EHR (meta.tag), so that it can tell its own doing
 * from a clinician's: a draft order it revoked when the reason went away.
 */
export const SURVEILLANCE_TAG_SYSTEM = `${CANONICAL}/CodeSystem/surveillance-tag`;
/** The business identifier of a worklist Task or its draft order: "{patient}:{rule}:{due date}". */
export const WORKLIST_ENTRY_IDENTIFIER = `${CANONICAL}/identifier/worklist-entry`;
