/** Per-scenario FHIR fixtures for the CDS Hooks tests (one patient each, dates relative to a fixed "now"). */
import type { Resource } from '@medplum/fhirtypes';

const SCT = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';
const LOINC = 'http://loinc.org';
export const GRADING = 'http://osteowatch.org/fhir/CodeSystem/osteonecrosis-grading';

export function myositisPatient(id: string): Resource[] {
  return [
    { resourceType: 'Patient', id },
    {
      resourceType: 'Condition',
      id: `${id}-dm`,
      subject: { reference: `Patient/${id}` },
      clinicalStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
      },
      verificationStatus: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
      },
      code: { coding: [{ system: SCT, code: '396230008', display: 'Dermatomyositis' }] },
    },
  ];
}

/** prednisolone `mg` daily from `start` to `end` (or open/active). */
export function daily(
  id: string,
  n: number,
  mg: number,
  start: string,
  end?: string,
  extra: Record<string, unknown> = {},
): Resource {
  return {
    resourceType: 'MedicationStatement',
    id: `${id}-ms-${n}`,
    status: end ? 'completed' : 'active',
    subject: { reference: `Patient/${id}` },
    medicationCodeableConcept: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8638', display: 'prednisolone' }],
    },
    effectivePeriod: { start, ...(end ? { end } : {}) },
    dosage: [
      {
        route: { coding: [{ system: SCT, code: '26643006' }] },
        timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: { value: mg, unit: 'mg', system: UCUM, code: 'mg' } }],
      },
    ],
    ...extra,
  } as Resource;
}

export function wbMri(id: string, n: number, date: string): Resource[] {
  return [
    {
      resourceType: 'ImagingStudy',
      id: `${id}-is-${n}`,
      status: 'available',
      subject: { reference: `Patient/${id}` },
      started: `${date}T09:00:00Z`,
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MR' }],
      procedureCode: [{ coding: [{ system: LOINC, code: '46358-8' }], text: 'STIR whole-body MRI' }],
    },
  ];
}

export function finding(
  id: string,
  n: number,
  date: string,
  joint: string,
  side: string,
  present: boolean,
  grade?: string,
  collapse = false,
): Resource {
  return {
    resourceType: 'Observation',
    id: `${id}-on-${n}`,
    status: 'final',
    subject: { reference: `Patient/${id}` },
    code: {
      coding: [{ system: SCT, code: '397758007', display: 'Avascular necrosis of bone' }],
      text: 'Osteonecrosis',
    },
    effectiveDateTime: date,
    bodySite: {
      coding: [
        { system: SCT, code: joint },
        { system: SCT, code: side },
      ],
    },
    valueCodeableConcept: { coding: [{ system: SCT, code: present ? '52101004' : '2667000' }] },
    component: [
      ...(grade
        ? [
            {
              code: { coding: [{ system: GRADING, code: 'extent' }] },
              valueCodeableConcept: { coding: [{ system: GRADING, code: grade }] },
            },
          ]
        : []),
      { code: { coding: [{ system: GRADING, code: 'articular-collapse' }] }, valueBoolean: collapse },
    ],
  } as Resource;
}

export function wbMriOrder(id: string, n: number, date: string, status = 'active'): Resource {
  return {
    resourceType: 'ServiceRequest',
    id: `${id}-sr-${n}`,
    status,
    intent: 'order',
    subject: { reference: `Patient/${id}` },
    code: { coding: [{ system: LOINC, code: '46358-8' }], text: 'STIR whole-body MRI' },
    authoredOn: date,
  } as Resource;
}

/** The prefetch a complete client sends for our templates. */
export function fullPrefetch(resources: Resource[], patientId: string): Record<string, unknown> {
  const of = (t: string) => resources.filter((r) => r.resourceType === t);
  const bundle = (rs: Resource[]) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    total: rs.length,
    entry: rs.map((resource) => ({ resource })),
  });
  return {
    patient: resources.find((r) => r.resourceType === 'Patient' && r.id === patientId) ?? null,
    conditions: bundle(of('Condition')),
    medicationStatements: bundle(of('MedicationStatement')),
    medicationRequests: bundle(of('MedicationRequest')),
    medicationAdministrations: bundle(of('MedicationAdministration')),
    imagingStudies: bundle(of('ImagingStudy')),
    diagnosticReports: bundle(of('DiagnosticReport')),
    serviceRequests: bundle(of('ServiceRequest')),
    osteonecrosisObservations: bundle(of('Observation')),
  };
}
