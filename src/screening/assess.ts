/**
 * One patient, one day: the cohort check, the exposure, the WB-MRI history and the screening decision, from the
 * patient's FHIR records. The CDS services (a chart opened) and cohort surveillance (a scheduled run) both call
 * this, so that for any patient on any day the card and the worklist say the same thing.
 */
import type {
  Condition,
  DiagnosticReport,
  ImagingStudy,
  Observation,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { dayFromIso, isoFromDay } from '../exposure/dates.ts';
import { computeExposure, type ExposureConfig, type ExposureSummary } from '../exposure/index.ts';
import { type CohortDefinition, cohortConditions, MYOSITIS_COHORT } from './cohort.ts';
import {
  type Finding,
  openWbMriOrders,
  osteonecrosisFindings,
  type WbMriOrder,
  type WbMriStudy,
  wbMriStudies,
} from './imaging.ts';
import { DEFAULT_SCREENING_CONFIG, type ScreeningConfig, type ScreeningResult, screen } from './rules.ts';

/** A patient's records by kind, as the CDS prefetch keys group them (any may be empty). */
export interface PatientRecords {
  conditions: Resource[];
  medicationStatements: Resource[];
  medicationRequests: Resource[];
  medicationAdministrations: Resource[];
  /** Medications the medication records reference (contained ones travel with their record). */
  medications: Resource[];
  imagingStudies: Resource[];
  diagnosticReports: Resource[];
  serviceRequests: Resource[];
  osteonecrosisObservations: Resource[];
}

export interface AssessOptions {
  patientId: string;
  asOf: string;
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  cohorts?: CohortDefinition[];
  /** Also the per-day timeline in `exposure` (the exposure timeline page; cards do without). */
  timeline?: boolean;
}

export interface Assessment {
  patientId: string;
  asOf: string;
  exposure: ExposureSummary;
  /** The medication records with their Medications: what the exposure was computed from. */
  records: Resource[];
  studies: WbMriStudy[];
  openOrders: WbMriOrder[];
  findings: Finding[];
  /** The cumulative dose through a day (inclusive), same engine and records; memoised. */
  cumulativeThrough: (day: string) => number | null;
  /** A dose today or in the last 30 days (an unknown current dose counts as continuing). */
  steroidsContinue: boolean;
  screening: ScreeningResult;
  config: { exposure: ExposureConfig; screening: ScreeningConfig };
}

const ofType = <T extends Resource>(list: Resource[] | undefined, type: T['resourceType']): T[] =>
  (list ?? []).filter((r): r is T => r?.resourceType === type);

/** Whether the patient is in a screening cohort (a myositis Condition by default). */
export function inCohort(records: Pick<PatientRecords, 'conditions'>, cohorts?: CohortDefinition[]): boolean {
  return cohortConditions(ofType<Condition>(records.conditions, 'Condition'), cohorts ?? [MYOSITIS_COHORT]).length > 0;
}

/** The assessment, or null when the patient is in no screening cohort (no card, no worklist entry). */
export function assessPatient(data: PatientRecords, options: AssessOptions): Assessment | null {
  if (!inCohort(data, options.cohorts)) return null;
  const { patientId, asOf } = options;
  const screeningConfig = options.screening ?? DEFAULT_SCREENING_CONFIG;
  const records = [
    ...data.medicationStatements,
    ...data.medicationRequests,
    ...data.medicationAdministrations,
    ...data.medications,
  ];
  const exposure = computeExposure({
    resources: records,
    patient: patientId,
    asOf,
    config: options.exposure,
    timeline: options.timeline ?? false,
  });
  const studies = wbMriStudies(
    ofType<ImagingStudy>(data.imagingStudies, 'ImagingStudy'),
    ofType<DiagnosticReport>(data.diagnosticReports, 'DiagnosticReport'),
  );
  // The total through an earlier day, by the same engine over the same records: exposure since a scan is
  // the difference. Memoised: the rules ask for a handful of days.
  const through = new Map<string, number | null>();
  const cumulativeThrough = (day: string): number | null => {
    if (day >= asOf) return exposure.cumulativeMg;
    if (!through.has(day))
      through.set(
        day,
        computeExposure({
          resources: records,
          patient: patientId,
          asOf: day,
          config: options.exposure,
          timeline: false,
        }).cumulativeMg,
      );
    return through.get(day)!;
  };
  // A dose today or in the last 30 days: read off the contributions' last counted days, not a second run of
  // the engine. An unknown current dose is taken as continuing.
  const monthAgo = isoFromDay(dayFromIso(asOf) - 30);
  const steroidsContinue =
    (exposure.currentDailyMg ?? 1) > 0 ||
    exposure.contributions.some((k) => k.status === 'counted' && (k.mg ?? 0) > 0 && (k.lastDay ?? '') >= monthAgo);
  const openOrders = openWbMriOrders(ofType<ServiceRequest>(data.serviceRequests, 'ServiceRequest'));
  const findings = osteonecrosisFindings(ofType<Observation>(data.osteonecrosisObservations, 'Observation'));
  const screening = screen({
    asOf,
    exposure,
    cumulativeThrough,
    studies,
    openOrders,
    findings,
    config: screeningConfig,
  });
  return {
    patientId,
    asOf,
    exposure,
    records,
    studies,
    openOrders,
    findings,
    cumulativeThrough,
    steroidsContinue,
    screening,
    config: { exposure: options.exposure, screening: screeningConfig },
  };
}
