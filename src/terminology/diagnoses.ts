/**
 * Diagnoses: the idiopathic inflammatory myopathies that make the default screening cohort (SNOMED CT concepts
 * and ICD-10-CM prefixes, published as the cohort ValueSet in profiles/), and the subtypes and comparison
 * diagnoses the synthetic cohort is drawn from (SNOMED CT with the ICD-10-CM code an EHR would add).
 */

/** The default cohort: SNOMED CT concepts, and ICD-10-CM codes matched by prefix (M33.03, M33.13, … included). */
export const MYOSITIS_CODES = {
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
} as const;

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
