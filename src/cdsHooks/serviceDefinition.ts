/**
 * A CDS service declared once, as HAPI FHIR's CDS Hooks module declares one with `@CdsService` and
 * `@CdsServicePrefetch`: its hook, its discovery text, its prefetch keys (each with its query and what a
 * missing key means), the context it accepts, and the handler that turns the patient's data into cards.
 * Discovery (`GET /cds-services`, https://cds-hooks.hl7.org/2.0/#discovery) and the published
 * cds-hooks/services/*.json are made from it; `runHook` (service.ts) is the pipeline every handler runs in.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { z } from 'zod';
import type { ExposureConfig } from '../exposure/index.ts';
import type { Finding, WbMriOrder, WbMriStudy } from '../screening/imaging.ts';
import type { ScreeningConfig, ScreeningResult } from '../screening/rules.ts';
import type { Card, CardContext } from './cards.ts';
import type { HookRequest } from './request.ts';

export type Hook = 'patient-view' | 'order-select' | 'order-sign';

/**
 * What it means when a key's data can be had neither from prefetch nor from the FHIR server: `required`
 * answers 412 with an OperationOutcome (no guess from partial data); `optional` leaves the key empty.
 */
export type FailureMode = 'required' | 'optional';

export interface PrefetchSpec {
  /** A CDS Hooks 2.0 prefetch template (https://cds-hooks.hl7.org/2.0/#prefetch-template). */
  query: string;
  onMissing: FailureMode;
}

/**
 * The patient data every OsteoWatch service reads. The ImagingStudy query asks for all the patient's studies:
 * the R4 `modality` search parameter sees only series, and whether a study is a WB-MRI is decided in code.
 */
export const PATIENT_DATA = {
  patient: { query: 'Patient/{{context.patientId}}', onMissing: 'optional' },
  conditions: { query: 'Condition?patient={{context.patientId}}', onMissing: 'required' },
  medicationStatements: { query: 'MedicationStatement?patient={{context.patientId}}', onMissing: 'required' },
  medicationRequests: { query: 'MedicationRequest?patient={{context.patientId}}', onMissing: 'required' },
  medicationAdministrations: {
    query: 'MedicationAdministration?patient={{context.patientId}}',
    onMissing: 'required',
  },
  imagingStudies: { query: 'ImagingStudy?patient={{context.patientId}}', onMissing: 'required' },
  diagnosticReports: {
    query: 'DiagnosticReport?patient={{context.patientId}}&code=http://loinc.org|46358-8',
    onMissing: 'required',
  },
  serviceRequests: {
    query: 'ServiceRequest?patient={{context.patientId}}&code=http://loinc.org|46358-8',
    onMissing: 'required',
  },
  osteonecrosisObservations: {
    query: 'Observation?patient={{context.patientId}}&code=http://snomed.info/sct|397758007',
    onMissing: 'required',
  },
} as const satisfies Record<string, PrefetchSpec>;

export type PrefetchKey = keyof typeof PATIENT_DATA;

/** The resources gathered for each prefetch key. */
export type PatientData = Record<PrefetchKey, Resource[]>;

/** What a handler gets: the patient's data already reduced by the shared pipeline. */
export interface HandlerInput {
  card: CardContext;
  request: HookRequest;
  /** Medication records with the Medications they reference. */
  medicationRecords: Resource[];
  studies: WbMriStudy[];
  openOrders: WbMriOrder[];
  findings: Finding[];
  /** The screening decision and findings (src/screening/assess.ts): the same as cohort surveillance's. */
  screening: ScreeningResult;
  /** The cumulative dose through a day (inclusive), same engine and data; for exposure since a scan. */
  cumulativeThrough: (day: string) => number | null;
  exposureConfig: ExposureConfig;
  screeningConfig: ScreeningConfig;
}

export interface CdsServiceDefinition {
  id: string;
  hook: Hook;
  title: string;
  description: string;
  usageRequirements?: string;
  prefetch: Record<PrefetchKey, PrefetchSpec>;
  /** The hook's context as this service needs it (https://cds-hooks.hl7.org/hooks/). */
  context: z.ZodType;
  cards(input: HandlerInput): Card[];
}

/** A service as discovery describes it (https://cds-hooks.hl7.org/2.0/#response). */
export interface DiscoveryEntry {
  hook: Hook;
  id: string;
  title: string;
  description: string;
  usageRequirements?: string;
  prefetch: Record<string, string>;
}

export function discoveryEntry(s: CdsServiceDefinition): DiscoveryEntry {
  return {
    hook: s.hook,
    id: s.id,
    title: s.title,
    description: s.description,
    ...(s.usageRequirements ? { usageRequirements: s.usageRequirements } : {}),
    prefetch: Object.fromEntries(Object.entries(s.prefetch).map(([k, v]) => [k, v.query])),
  };
}

/** The usage requirements every OsteoWatch service shares (they read the same patient data). */
export const PATIENT_DATA_REQUIREMENTS =
  "Needs the patient's full glucocorticoid history (MedicationStatement, MedicationRequest, MedicationAdministration), Conditions, prior whole-body MRI (ImagingStudy, DiagnosticReport, ServiceRequest) and osteonecrosis Observations: satisfy the prefetch templates, or grant FHIR read access (fhirServer with fhirAuthorization) for what is not prefetched. Without that data the service answers 412 rather than guess.";
