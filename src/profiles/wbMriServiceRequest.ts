/** The WB-MRI screening ServiceRequest: its profile, and the draft the CDS cards suggest, which conforms to it. */
import type { ServiceRequest, StructureDefinition } from '@medplum/fhirtypes';
import { IMAGING_CATEGORY, WB_MRI, WB_MRI_LOINC } from '../terminology/codes.ts';
import { LONG_TERM_STEROIDS } from '../terminology/orderReasons.ts';
import { LOINC, WB_MRI_SERVICE_REQUEST_PROFILE } from '../terminology/systems.ts';
import { deriveProfile } from './derive.ts';

export const WB_MRI_SR_URL = WB_MRI_SERVICE_REQUEST_PROFILE;

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
        patternCodeableConcept: { coding: [{ system: LOINC, code: WB_MRI_LOINC }] },
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

/** The draft order the cards suggest: STIR whole-body MRI, no contrast, with its due window and reason. */
export function wbMriServiceRequest(
  patientId: string,
  window: { start: string; end?: string },
  reason: string,
  reasonCoding: { system: string; code: string; display: string } = LONG_TERM_STEROIDS,
): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    meta: { profile: [WB_MRI_SR_URL] },
    status: 'draft',
    intent: 'order',
    category: [{ coding: [IMAGING_CATEGORY] }],
    code: {
      coding: [WB_MRI],
      text: 'STIR whole-body MRI, no contrast',
    },
    subject: { reference: `Patient/${patientId}` },
    occurrencePeriod: { start: window.start, ...(window.end ? { end: window.end } : {}) },
    reasonCode: [
      {
        coding: [{ ...reasonCoding }],
        text: reason,
      },
    ],
    note: [
      { text: 'Coronal STIR whole-body sequence for osteonecrosis screening (10–15 min). No gadolinium contrast.' },
    ],
  };
}
