/**
 * One hook call, end to end: gather the data, compute exposure, apply the screening rules, build the cards,
 * record the invocation in the audit trail.
 */
import { hookRecordOf } from '../audit/hookRecord.ts';
import type { HookAuditQueue } from '../audit/queue.ts';
import type { CdsClient } from '../auth/cdsJwt.ts';
import { dayIn } from '../exposure/dates.ts';
import type { ExposureConfig, ExposureSummary } from '../exposure/index.ts';
import { isLoopbackUrl } from '../fhir/loopback.ts';
import type { FhirLimits } from '../fhir/patientRecords.ts';
import type { Logger } from '../log/logger.ts';
import { assessPatient } from '../screening/assess.ts';
import type { CohortDefinition } from '../screening/cohort.ts';
import type { ScreeningConfig } from '../screening/rules.ts';
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
  /** The clinic's IANA time zone (OSTEOWATCH_TZ): what day it is for the cards; UTC when not said. */
  timeZone?: string;
  logger?: Logger;
  /** Timeout, page and resource caps and read concurrency for fhirServer (OSTEOWATCH_FHIR_*). */
  fhirLimits?: FhirLimits;
  /** The most one call may spend waiting for fhirServer, ms (OSTEOWATCH_HOOK_DEADLINE_MS). */
  hookDeadlineMs?: number;
  /** The exposure timeline app's SMART launch URL, when the service serves it: every card links to it. */
  timelineLaunchUrl?: () => string;
}

export const DEFAULT_HOOK_DEADLINE_MS = 10_000;

/** The shared pipeline: gather → cohort → exposure → WB-MRI history → the service's cards → audit record. */
export async function runHook(
  service: CdsServiceDefinition,
  req: HookRequest,
  client: CdsClient,
  deps: CdsServiceDeps,
): Promise<{ cards: Card[] }> {
  const started = performance.now();
  const patientId = req.context.patientId;
  const asOf = dayIn(deps.now(), deps.timeZone);
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

  // Cohort, exposure, WB-MRI history and the screening decision: the same function as cohort surveillance.
  const assessment = assessPatient(
    { ...data, medications },
    { patientId, asOf, exposure: deps.exposure, screening: deps.screening, cohorts: deps.cohorts },
  );
  const exposure: ExposureSummary | undefined = assessment?.exposure;
  const studyDates = assessment?.studies.map((s) => s.date) ?? [];
  const cards: Card[] = assessment
    ? service.cards({
        card: {
          patientId,
          asOf,
          exposure: assessment.exposure,
          publicUrl: deps.publicUrl(),
          ...(deps.timelineLaunchUrl ? { timelineLaunchUrl: deps.timelineLaunchUrl() } : {}),
          steroidsContinue: assessment.steroidsContinue,
          records: assessment.records,
        },
        cumulativeThrough: assessment.cumulativeThrough,
        request: req,
        medicationRecords: assessment.records,
        studies: assessment.studies,
        openOrders: assessment.openOrders,
        findings: assessment.findings,
        screening: assessment.screening,
        exposureConfig: deps.exposure,
        screeningConfig: assessment.config.screening,
      })
    : [];

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
