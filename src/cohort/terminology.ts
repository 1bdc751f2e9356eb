/**
 * Codes used by the synthetic cohort (the cohort ValueSet in profiles/): myositis subtypes in SNOMED CT
 * with ICD-10-CM, comparison cohorts, and the WB-MRI order code.
 */
export const SNOMED = 'http://snomed.info/sct';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const LOINC = 'http://loinc.org';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const UCUM = 'http://unitsofmeasure.org';

export interface DiagnosisCode {
  snomed: string;
  display: string;
  icd10: string;
  icdDisplay: string;
}

export const MYOSITIS: readonly DiagnosisCode[] = [
  {
    snomed: '396230008',
    display: 'Dermatomyositis',
    icd10: 'M33.10',
    icdDisplay: 'Other dermatomyositis, organ involvement unspecified',
  },
  {
    snomed: '31384009',
    display: 'Polymyositis',
    icd10: 'M33.20',
    icdDisplay: 'Polymyositis, organ involvement unspecified',
  },
  {
    snomed: '715863001',
    display: 'Immune-mediated necrotizing myopathy',
    icd10: 'G72.49',
    icdDisplay: 'Other inflammatory and immune myopathies, not elsewhere classified',
  },
  {
    snomed: '445187004',
    display: 'Antisynthetase syndrome',
    icd10: 'G72.49',
    icdDisplay: 'Other inflammatory and immune myopathies, not elsewhere classified',
  },
  {
    snomed: '238935002',
    display: 'Amyopathic dermatomyositis',
    icd10: 'M33.13',
    icdDisplay: 'Other dermatomyositis without myopathy',
  },
  {
    snomed: '72315009',
    display: 'Inclusion body myositis',
    icd10: 'G72.41',
    icdDisplay: 'Inclusion body myositis [IBM]',
  },
];

export const OTHER_COHORTS: readonly DiagnosisCode[] = [
  {
    snomed: '55464009',
    display: 'Systemic lupus erythematosus',
    icd10: 'M32.9',
    icdDisplay: 'Systemic lupus erythematosus, unspecified',
  },
  { snomed: '195967001', display: 'Asthma', icd10: 'J45.909', icdDisplay: 'Unspecified asthma, uncomplicated' },
  {
    snomed: '69896004',
    display: 'Rheumatoid arthritis',
    icd10: 'M06.9',
    icdDisplay: 'Rheumatoid arthritis, unspecified',
  },
];

export const WB_MRI = { system: LOINC, code: '46358-8', display: 'MR Whole body' };
