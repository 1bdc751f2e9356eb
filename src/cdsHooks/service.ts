/**
 * One hook call, end to end: gather the data, compute exposure, apply the screening rules, build the cards,
 * record the invocation in the audit trail.
 */
import type {
  Condition,
  DiagnosticReport,
  ImagingStudy,
  Observation,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import { hookRecordOf } from '../audit/hookRecord.ts';
import type { HookAuditQueue } from '../audit/queue.ts';
import type { CdsClient } from '../auth/cdsJwt.ts';
import { dayFromIso, isoFromDay } from '../exposure/dates.ts';
import { computeExposure, type ExposureConfig, type ExposureSummary } from '../exposure/index.ts';
import { isLoopbackUrl } from '../fhir/loopback.ts';
import type { FhirLimits } from '../fhir/patientRecords.ts';
import type { Logger } from '../log/logger.ts';
import { type CohortDefinition, cohortConditions, MYOSITIS_COHORT } from '../screening/cohort.ts';
import { openWbMriOrders, osteonecrosisFindings, wbMriStudies } from '../screening/imaging.ts';
import { DEFAULT_SCREENING_CONFIG, type ScreeningConfig } from '../screening/rules.ts';
import type { Card } from './cards.ts';
import { HookDataSource } from './data.ts';
import type { HookRequest } from './request.ts';
import type { CdsServiceDefinition } from './serviceDefinition.ts';

export interface CdsServiceDeps {
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  cohorts?: CohortDefinition[];
  /** Where hook invocations are recorded: journaled before the answer is sent, stored in group commits. */
  audit?: HookAuditQueue;
  publicUrl: () => string;
  /** Query a fhirServer given without fhirAuthorization (OSTEOWATCH_ALLOW_OPEN_FHIR; always allowed on loopback). */
  allowOpenFhirServer: boolean;
  now: () => Date;
  logger?: Logger;
  /** Timeout, page and resource caps and read concurrency for fhirServer (OSTEOWATCH_FHIR_*). */
  fhirLimits?: FhirLimits;
  /** The most one call may spend waiting for fhirServer, ms (OSTEOWATCH_HOOK_DEADLINE_MS). */
  hookDeadlineMs?: number;
}

export const DEFAULT_HOOK_DEADLINE_MS = 10_000;

const ofType = <T extends Resource>(list: Resource[] | undefined, type: T['resourceType']): T[] =>
  (list ?? []).filter((r): r is T => r.resourceType === type);

/** The shared pipeline: gather → cohort → exposure → WB-MRI history → the service's cards → audit record. */
export async function runHook(
  service: CdsServiceDefinition,
  req: HookRequest,
  client: CdsClient,
  deps: CdsServiceDeps,
): Promise<{ cards: Card[] }> {
  const started = performance.now();
  const patientId = req.context.patientId;
  const asOf = deps.now().toISOString().slice(0, 10);
  const source = new HookDataSource({
    fhirServer: req.fhirServer,
    accessToken: req.fhirAuthorization?.access_token,
    allowOpenServer: deps.allowOpenFhirServer || isLoopbackUrl(req.fhirServer),
    limits: deps.fhirLimits,
    // One deadline for every request this call makes to fhirServer (an unref'd timer: nothing to clear), so that
    // a slow or hostile server costs the clinician at most this long: DataTooSlow, a 503 with Retry-After.
    deadline: AbortSignal.timeout(deps.hookDeadlineMs ?? DEFAULT_HOOK_DEADLINE_MS),
  });
  const { data } = await source.gather(
    service.prefetch,
    req.prefetch,
    req.context as Record<string, unknown> & { patientId: string },
  );
  const records = [...data.medicationStatements, ...data.medicationRequests, ...data.medicationAdministrations];
  const medications = [
    ...records.filter((r) => r.resourceType === 'Medication'),
    ...(await source.medications(records, records)),
  ];

  let cards: Card[] = [];
  let exposure: ExposureSummary | undefined;
  let studyDates: string[] = [];
  const inCohort =
    cohortConditions(ofType<Condition>(data.conditions, 'Condition'), deps.cohorts ?? [MYOSITIS_COHORT]).length > 0;
  if (inCohort) {
    exposure = computeExposure({
      resources: [...records, ...medications],
      patient: patientId,
      asOf,
      config: deps.exposure,
      timeline: false,
    });
    const studies = wbMriStudies(
      ofType<ImagingStudy>(data.imagingStudies, 'ImagingStudy'),
      ofType<DiagnosticReport>(data.diagnosticReports, 'DiagnosticReport'),
    );
    studyDates = studies.map((s) => s.date);
    const resources = [...records, ...medications];
    // The total through an earlier day, by the same engine over the same records: exposure since a scan is
    // the difference. Memoised: the rules ask for a handful of days.
    const through = new Map<string, number | null>();
    const cumulativeThrough = (day: string): number | null => {
      if (day >= asOf) return exposure!.cumulativeMg;
      if (!through.has(day))
        through.set(
          day,
          computeExposure({ resources, patient: patientId, asOf: day, config: deps.exposure, timeline: false })
            .cumulativeMg,
        );
      return through.get(day)!;
    };
    // A dose today or in the last 30 days: read off the contributions' last counted days, not a second run of
    // the engine on every call. An unknown current dose is taken as continuing.
    const monthAgo = isoFromDay(dayFromIso(asOf) - 30);
    const steroidsContinue =
      (exposure.currentDailyMg ?? 1) > 0 ||
      exposure.contributions.some((k) => k.status === 'counted' && (k.mg ?? 0) > 0 && (k.lastDay ?? '') >= monthAgo);
    cards = service.cards({
      card: { patientId, asOf, exposure, publicUrl: deps.publicUrl(), steroidsContinue, records: resources },
      cumulativeThrough,
      request: req,
      medicationRecords: resources,
      studies,
      openOrders: openWbMriOrders(ofType<ServiceRequest>(data.serviceRequests, 'ServiceRequest')),
      findings: osteonecrosisFindings(ofType<Observation>(data.osteonecrosisObservations, 'Observation')),
      exposureConfig: deps.exposure,
      screeningConfig: deps.screening ?? DEFAULT_SCREENING_CONFIG,
    });
  }

  const audit = deps.audit;
  if (audit) {
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    const recordedAt = deps.now().toISOString();
    // Failures are logged by error name only (a message may quote the record, which holds patient data) and a
    // record that could not even be built is counted as failed (/metrics), as the queue counts failed writes.
    const failed = (err: unknown, count: boolean) => {
      try {
        if (count) audit.failed++;
        deps.logger?.error(
          { err: err instanceof Error ? err.name : typeof err, service: service.id },
          'audit record failed',
        );
      } catch {
        // a logger that throws must not end the process either
      }
    };
    // The answer is sent only once its record is durable (HookAuditQueue.record: fsynced in the audit journal,
    // or committed): a call that cannot be recorded is refused (503, the queue's `unavailable`), never answered
    // and forgotten. The store write that follows is the queue's (it counts and reports failures).
    let built: ReturnType<typeof hookRecordOf>;
    try {
      built = hookRecordOf({
        recordedAt,
        service: service.id,
        hook: service.hook,
        hookInstance: req.hookInstance,
        patientId,
        userRef: req.context.userId,
        client,
        latencyMs,
        cards,
        exposure,
        records,
        wbmriStudyDates: studyDates,
      });
    } catch (err) {
      failed(err, true);
      throw err;
    }
    await audit.record(built).catch((err: unknown) => {
      failed(err, false);
      throw err;
    });
  }
  return { cards };
}
