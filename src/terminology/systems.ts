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
/** DICOM Controlled Terminology (PS3.16), e.g. modality MR. */
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
export const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

/** The base of OsteoWatch's own conformance resources (profiles/). */
export const CANONICAL = 'http://osteowatch.org/fhir';
export const GRADING_SYSTEM = `${CANONICAL}/CodeSystem/osteonecrosis-grading`;
export const OVERRIDE_SYSTEM = `${CANONICAL}/CodeSystem/override-reason`;
export const TOPIC_SYSTEM = `${CANONICAL}/CodeSystem/cds-topic`;
export const WB_MRI_SERVICE_REQUEST_PROFILE = `${CANONICAL}/StructureDefinition/osteowatch-wbmri-servicerequest`;
export const FINDING_PROFILE = `${CANONICAL}/StructureDefinition/osteowatch-osteonecrosis-finding`;
export const FINDINGS_REPORT_PROFILE = `${CANONICAL}/StructureDefinition/osteowatch-wbmri-findings-report`;
