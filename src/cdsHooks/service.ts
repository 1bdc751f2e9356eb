/**
 * One hook call, end to end: gather the data, compute exposure, apply the screening rules, build the cards,
 * record the invocation in the audit trail.
 */
import type {
  Condition,
  DiagnosticReport,
  ImagingStudy,
  MedicationRequest,
  Observation,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import type { HookAuditQueue } from '../audit/queue.ts';
import type { CdsClient } from '../auth/cdsJwt.ts';
import { computeExposure, type ExposureConfig, type ExposureSummary } from '../exposure/index.ts';
import { isLoopbackUrl } from '../fhir/loopback.ts';
import type { Logger } from '../log/logger.ts';
import { type CohortDefinition, cohortConditions, MYOSITIS_COHORT } from '../screening/cohort.ts';
import { openWbMriOrders, osteonecrosisFindings, wbMriStudies } from '../screening/imaging.ts';
import { DEFAULT_SCREENING_CONFIG, type ScreeningConfig, screen } from '../screening/rules.ts';
import { type Card, type CardContext, screeningCards } from './cards.ts';
import { HookDataSource } from './data.ts';
import type { ServiceDeclaration } from './declarations.ts';
import { orderCards } from './orderCards.ts';
import { normaliseDraft, projectDrafts } from './orderProjection.ts';
import type { HookRequest } from './request.ts';

export interface CdsServiceDeps {
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  cohorts?: CohortDefinition[];
  /** Where hook invocations are recorded (after the answer is sent). */
  audit?: HookAuditQueue;
  publicUrl: () => string;
  /** Query a fhirServer given without fhirAuthorization (OSTEOWATCH_ALLOW_OPEN_FHIR; always allowed on loopback). */
  allowOpenFhirServer: boolean;
  now: () => Date;
  logger?: Logger;
}

const OPTIONAL_KEYS = new Set(['patient']);

/** The audit keeps the summary, contributions and issues; the per-day timeline can be recomputed. */
function snapshotOf(x: ExposureSummary) {
  const { timeline: _timeline, patient: _patient, contributions, ...rest } = x;
  // Sources, amounts and status are the record; the derivation text is recomputed from them on demand.
  return { ...rest, contributions: contributions.map(({ derivation: _d, ...c }) => c) };
}

const ofType = <T extends Resource>(list: Resource[] | undefined, type: T['resourceType']): T[] =>
  (list ?? []).filter((r): r is T => r.resourceType === type);

export async function runHook(
  decl: ServiceDeclaration,
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
  });
  const specs = Object.entries(decl.prefetch).map(([key, template]) => ({
    key,
    template,
    required: !OPTIONAL_KEYS.has(key),
  }));
  const data = await source.gather(specs, req.prefetch, req.context as Record<string, unknown> & { patientId: string });
  const k = (key: string) => data.byKey.get(key) ?? [];
  const records = [...k('medicationStatements'), ...k('medicationRequests'), ...k('medicationAdministrations')];
  const medications = [
    ...records.filter((r) => r.resourceType === 'Medication'),
    ...(await source.medications(records, records)),
  ];

  let cards: Card[] = [];
  let exposure: ExposureSummary | undefined;
  let studyDates: string[] = [];
  const inCohort =
    cohortConditions(ofType<Condition>(k('conditions'), 'Condition'), deps.cohorts ?? [MYOSITIS_COHORT]).length > 0;
  if (inCohort) {
    exposure = computeExposure({
      resources: [...records, ...medications],
      patient: patientId,
      asOf,
      config: deps.exposure,
      timeline: false,
    });
    const studies = wbMriStudies(
      ofType<ImagingStudy>(k('imagingStudies'), 'ImagingStudy'),
      ofType<DiagnosticReport>(k('diagnosticReports'), 'DiagnosticReport'),
    );
    studyDates = studies.map((s) => s.date);
    const openOrders = openWbMriOrders(ofType<ServiceRequest>(k('serviceRequests'), 'ServiceRequest'));
    const findings = osteonecrosisFindings(ofType<Observation>(k('osteonecrosisObservations'), 'Observation'));
    const ctx: CardContext = { patientId, asOf, exposure, publicUrl: deps.publicUrl() };
    if (decl.hook === 'patient-view') {
      cards = screeningCards(
        ctx,
        screen({ asOf, exposure, studies, openOrders, findings, config: deps.screening ?? DEFAULT_SCREENING_CONFIG }),
      );
    } else {
      const entries = (req.context.draftOrders?.entry ?? []) as Array<{ resource?: Record<string, unknown> }>;
      const drafts = entries
        .map((e, i) =>
          e.resource?.resourceType === 'MedicationRequest' ? normaliseDraft(e.resource, patientId, asOf, i) : undefined,
        )
        .filter((d): d is MedicationRequest => !!d);
      const projection = projectDrafts([...records, ...medications], drafts, patientId, asOf, deps.exposure);
      if (projection) cards = orderCards(ctx, projection, studies, openOrders);
    }
  }

  const audit = deps.audit;
  if (audit) {
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    const recordedAt = deps.now().toISOString();
    // Recorded after the answer has been written (setImmediate runs after this turn's I/O): validating and
    // serialising the record is not the clinician's wait.
    setImmediate(() => {
      audit
        .enqueue({
          recordedAt,
          service: decl.id,
          hook: decl.hook,
          hookInstance: req.hookInstance,
          patientId,
          userRef: req.context.userId,
          tenant: client.tenant,
          clientIss: client.iss,
          latencyMs,
          status: 200,
          cards: cards.map((c) => ({
            uuid: c.uuid,
            indicator: c.indicator,
            summary: c.summary,
            source: { label: c.source.label },
            suggestions: c.suggestions?.map((s) => ({ uuid: s.uuid, label: s.label })),
          })),
          ...(exposure ? { exposure: snapshotOf(exposure) } : {}),
          dataSources: records.map(
            (r) => `${r.resourceType}/${r.id}${r.meta?.versionId ? `/_history/${r.meta.versionId}` : ''}`,
          ),
          wbmriStudies: studyDates.map((date) => ({ date })),
        })
        // The clinician still gets the guidance; a failed audit write is loud in the logs.
        .catch((err) => deps.logger?.error({ err: (err as Error).message, service: decl.id }, 'audit record failed'));
    });
  }
  return { cards };
}
