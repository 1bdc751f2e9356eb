/** The WB-MRI screening ServiceRequest profile (what the CDS cards suggest). */
import type { StructureDefinition } from '@medplum/fhirtypes';
import { CANONICAL, deriveProfile } from './derive.ts';

export const WB_MRI_SR_URL = `${CANONICAL}/StructureDefinition/osteowatch-wbmri-servicerequest`;

export function wbMriServiceRequestProfile(): StructureDefinition {
  return deriveProfile({
    id: 'osteowatch-wbmri-servicerequest',
    type: 'ServiceRequest',
    name: 'OsteoWatchWbMriServiceRequest',
    title: 'OsteoWatch STIR whole-body MRI screening ServiceRequest',
    description:
      'A request for STIR whole-body MRI without contrast (LOINC 46358-8 "MR Whole body") to screen for glucocorticoid-induced osteonecrosis, with the due window and the exposure behind it.',
    constraints: {
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
    },
  });
}
