/**
 * The exposure timeline app's answer (src/pages/app/api.ts), shaped from one patient's FHIR records: the same
 * assessment as the patient-view card (src/screening/assess.ts assessPatient), the engine's per-day timeline
 * (computeExposure with timeline: true), one row per medication record as prescribed and as counted, the days
 * whose dose is unknown, the WB-MRIs and their follow-up window, the findings per joint and side, and the card's
 * own summary sentences (screeningCards), so that the page and the card cannot say different things.
 *
 * No I/O: records in, view out. The HTTP route (pageRoutes.ts) validates the request and calls this.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { CardContext } from '../cdsHooks/cards.ts';
import { recordAsWritten } from '../cdsHooks/doseAsWritten.ts';
import { mg, totalMg } from '../cdsHooks/format.ts';
import { findingsCard, screeningCards } from '../cdsHooks/screeningCards.ts';
import { addMonths, DAY_MS, dayFromIso, isoFromDay, parseFhirDate } from '../exposure/dates.ts';
import {
  type Contribution,
  computeExposure,
  type ExposureConfig,
  type ExposureIssue,
  type ExposureSummary,
} from '../exposure/index.ts';
import { windowOf } from '../exposure/steps.ts';
import type {
  CardLine,
  FindingView,
  PulseView,
  RecordStatus,
  RecordView,
  TimelineView,
  UnknownSpanView,
} from '../pages/app/api.ts';
import { assessPatient, type PatientRecords } from '../screening/assess.ts';
import type { CohortDefinition } from '../screening/cohort.ts';
import type { Finding } from '../screening/imaging.ts';
import { DEFAULT_SCREENING_CONFIG, type ScreeningConfig } from '../screening/rules.ts';

export interface TimelineViewInput {
  patientId: string;
  asOf: string;
  /** The patient's resources, Bundle references already resolved (fhir/bundleReferences.ts). */
  resources: readonly Resource[];
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  cohorts?: CohortDefinition[];
}

/**
 * The card's pulse: an IV record giving on average at least this many mg prednisolone-equivalent a day
 * (src/cdsHooks/cards.ts counts "IV pulses" so); its days are the pulses.
 */
export const PULSE_MG = 250;

const RECORD_TYPES = new Set(['MedicationStatement', 'MedicationRequest', 'MedicationAdministration']);

/** The resources grouped as the CDS prefetch keys group them. */
export function patientRecords(resources: readonly Resource[]): PatientRecords {
  const of = (...types: string[]) => resources.filter((r) => types.includes(r.resourceType));
  return {
    conditions: of('Condition'),
    medicationStatements: of('MedicationStatement'),
    medicationRequests: of('MedicationRequest'),
    medicationAdministrations: of('MedicationAdministration'),
    medications: of('Medication'),
    imagingStudies: of('ImagingStudy'),
    diagnosticReports: of('DiagnosticReport'),
    serviceRequests: of('ServiceRequest'),
    osteonecrosisObservations: of('Observation'),
  };
}

const keyOf = (r: Resource) => `${r.resourceType}/${r.id ?? '(no id)'}`;
const dayOfMs = (ms: number) => isoFromDay(Math.floor(ms / DAY_MS));
const lastDayOfEndMs = (endMs: number) => isoFromDay(Math.ceil(endMs / DAY_MS) - 1);

/** The dates written on a record (start, end), as calendar days; null where none is written. */
export function recordedDates(r: Resource): { start: string | null; end: string | null; ongoing: boolean } {
  if (r.resourceType === 'MedicationAdministration') {
    const start = parseFhirDate(r.effectiveDateTime ?? r.effectivePeriod?.start);
    const end = parseFhirDate(r.effectivePeriod?.end);
    return {
      start: start ? isoFromDay(start.day) : null,
      end: end ? lastDayOfEndMs(end.wallEndMs) : start ? isoFromDay(start.day) : null,
      ongoing: r.status === 'in-progress',
    };
  }
  if (r.resourceType !== 'MedicationStatement' && r.resourceType !== 'MedicationRequest')
    return { start: null, end: null, ongoing: false };
  const dosages = (r.resourceType === 'MedicationStatement' ? r.dosage : r.dosageInstruction) ?? [];
  const w = windowOf(r, dosages, {});
  // A taper's steps carry their own bounds: the last one's end is the record's.
  let endMs = w.endMs;
  if (endMs === undefined)
    for (const d of dosages) {
      const e = parseFhirDate(d.timing?.repeat?.boundsPeriod?.end)?.wallEndMs;
      if (e !== undefined && (endMs === undefined || e > endMs)) endMs = e;
    }
  return {
    start: w.startMs === undefined ? null : dayOfMs(w.startMs),
    end: endMs === undefined ? null : lastDayOfEndMs(endMs),
    ongoing: w.ongoing || r.status === 'unknown' || r.status === 'on-hold',
  };
}

const statusOf = (k: Contribution | undefined): RecordStatus =>
  !k || k.status === 'unquantified' ? 'unknown' : k.status === 'counted' ? 'counted' : 'excluded';

function cardLine(card: { summary: string; indicator: CardLine['indicator'] } | undefined): CardLine | null {
  return card ? { summary: card.summary, indicator: card.indicator } : null;
}

function findingView(f: Finding): FindingView {
  return {
    joint: f.joint,
    side: f.side,
    date: f.date,
    extent: f.extent.filter((e) => !e.startsWith('Steinberg')),
    steinberg: f.extent.find((e) => e.startsWith('Steinberg')) ?? null,
    collapse: f.collapse,
    highCollapseRisk: f.highCollapseRisk,
    reference: f.reference,
  };
}

function projectionText(x: ExposureSummary): string {
  const t = x.threshold;
  if (t.crossedOn) return `None needed: ${mg(t.mg)} was reached on ${t.crossedOn}`;
  if (x.cumulativeMg === null) return 'The cumulative dose could not be computed: no projection';
  const schedule = t.projectedOn
    ? `${mg(t.mg)} on ${t.projectedOn} if taken as recorded`
    : `The recorded schedule ends before ${mg(t.mg)}`;
  const current = x.projectedAtCurrentDoseOn ? `; on ${x.projectedAtCurrentDoseOn} at today's dose` : '';
  return schedule + current;
}

/** The view of one patient on one day; every figure is the engine's. */
export function timelineView(input: TimelineViewInput): TimelineView {
  const { patientId, asOf } = input;
  const data = patientRecords(input.resources);
  const assessment = assessPatient(data, {
    patientId,
    asOf,
    exposure: input.exposure,
    screening: input.screening,
    cohorts: input.cohorts,
    timeline: true,
  });
  const records = [
    ...data.medicationStatements,
    ...data.medicationRequests,
    ...data.medicationAdministrations,
    ...data.medications,
  ];
  const medications = data.medications;
  // The assessment's own exposure (with the per-day timeline); a patient outside the cohort is still drawn.
  const x =
    assessment?.exposure ??
    computeExposure({ resources: records, patient: patientId, asOf, config: input.exposure, timeline: true });

  const byRef = new Map(records.map((r) => [keyOf(r), r]));
  const issuesOf = (source: string): ExposureIssue[] => x.issues.filter((i) => i.source === source);
  const rows: RecordView[] = x.contributions.map((k) => {
    const r = byRef.get(k.source);
    const dates = r ? recordedDates(r) : { start: null, end: null };
    return {
      source: k.source,
      resourceType: k.resourceType,
      drug: k.ingredient,
      asWritten: r ? recordAsWritten(r, k.ingredient, byRef) : k.ingredient,
      route: k.route,
      recorded: { start: dates.start, end: dates.end },
      counted: k.firstDay && k.lastDay && k.days > 0 ? { from: k.firstDay, to: k.lastDay, days: k.days } : null,
      mg: k.mg,
      status: statusOf(k),
      engineStatus: k.status,
      derivation: k.derivation,
      ...(k.countedVia ? { countedVia: k.countedVia } : {}),
      issues: issuesOf(k.source).map(({ code, severity, message }) => ({ code, severity, message })),
    };
  });
  // Records the engine could not identify as a glucocorticoid (or whose Medication was not found): no
  // contribution, an error issue. They may be glucocorticoids taken: listed, status unknown.
  const contributed = new Set(x.contributions.map((k) => k.source));
  for (const source of new Set(x.issues.map((i) => i.source))) {
    const r = byRef.get(source);
    if (contributed.has(source) || !r || !RECORD_TYPES.has(r.resourceType)) continue;
    const dates = recordedDates(r);
    rows.push({
      source,
      resourceType: r.resourceType,
      drug: 'unidentified',
      asWritten: recordAsWritten(r, '', byRef).trim() || 'medication not identified',
      route: 'unknown',
      recorded: { start: dates.start, end: dates.end },
      counted: null,
      mg: null,
      status: 'unknown',
      engineStatus: 'unidentified',
      derivation: 'not quantified: the medication could not be identified',
      issues: issuesOf(source).map(({ code, severity, message }) => ({ code, severity, message })),
    });
  }

  const unknownSpans = rows.flatMap((row): UnknownSpanView[] => {
    const errors = row.issues.filter((i) => i.severity === 'error');
    const partial = row.status === 'counted' && errors.length > 0;
    if (row.status !== 'unknown' && !partial) return [];
    const r = byRef.get(row.source);
    if (!r) return [];
    const d = recordedDates(r);
    const from = d.start ?? row.counted?.from;
    if (!from || from > asOf) return [];
    // No end written: an ongoing record may run to the as-of day; a finished one is drawn on its known days.
    let to = d.end ?? (d.ongoing ? asOf : (row.counted?.to ?? from));
    if (row.counted && row.counted.to > to) to = row.counted.to;
    if (to > asOf) to = asOf;
    if (to < from) to = from;
    return [
      {
        source: row.source,
        from,
        to,
        partial,
        openEnd: d.end === null,
        reason: (errors[0] ?? row.issues[0])?.message ?? 'the dose could not be computed',
      },
    ];
  });

  // Pulses as the card counts them: the days of each IV record that averages ≥ PULSE_MG mg a day.
  const pulses: PulseView[] = x.contributions
    .filter((k) => k.status === 'counted' && k.route === 'intravenous' && (k.mg ?? 0) / Math.max(k.days, 1) >= PULSE_MG)
    .flatMap((k) => {
      const r = byRef.get(k.source);
      if (!r) return [];
      const one = computeExposure({
        resources: [r, ...medications],
        patient: patientId,
        asOf,
        config: input.exposure,
        timeline: true,
      });
      return one.timeline.map((t) => ({ date: t.date, mg: t.mg, source: k.source }));
    })
    .sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));

  const screeningConfig = input.screening ?? DEFAULT_SCREENING_CONFIG;
  let wbMri: TimelineView['wbMri'] = { studies: [], followUp: null, openOrders: [] };
  let findings: FindingView[] = [];
  let status: CardLine | null = null;
  let findingsStatus: CardLine | null = null;
  let findingsLatestRead: string | null = null;
  if (assessment) {
    const studies = assessment.studies.filter((s) => s.date <= asOf);
    // The baseline: the first WB-MRI on or after the day `baselineLookbackDays` before the crossing (rules.ts).
    const crossed = assessment.exposure.threshold.crossedOn;
    const baseline = crossed
      ? studies.find((s) => s.date >= isoFromDay(dayFromIso(crossed) - screeningConfig.baselineLookbackDays))
      : undefined;
    wbMri = {
      studies: studies.map((s) => ({ date: s.date, reference: s.reference })),
      followUp: baseline
        ? {
            after: baseline.date,
            from: isoFromDay(addMonths(dayFromIso(baseline.date), screeningConfig.followUpDueMonths)),
            to: isoFromDay(addMonths(dayFromIso(baseline.date), screeningConfig.followUpOverdueMonths)),
          }
        : null,
      openOrders: assessment.openOrders.map((o) => ({ date: o.date, reference: o.reference, status: o.status })),
    };
    const known = assessment.screening.findings;
    findings = known?.affected.map(findingView) ?? [];
    findingsLatestRead = known?.latestRead || null;
    const card: CardContext = {
      patientId,
      asOf,
      exposure: assessment.exposure,
      publicUrl: '',
      steroidsContinue: assessment.steroidsContinue,
      records: assessment.records,
    };
    // The decision's card alone, then the findings card: each literally as the patient-view service builds it.
    status = cardLine(screeningCards(card, { decision: assessment.screening.decision, findings: null })[0]);
    findingsStatus = known ? cardLine(findingsCard(card, known)) : null;
  }

  return {
    patientId,
    asOf: x.asOf,
    inCohort: assessment !== null,
    thresholdMg: x.threshold.mg,
    cumulative: { mg: x.cumulativeMg, isLowerBound: x.cumulativeIsLowerBound, text: totalMg(x) },
    currentDailyMg: x.currentDailyMg,
    firstExposure: x.firstExposure,
    peakDaily: x.peakDaily ?? null,
    crossedOn: x.threshold.crossedOn,
    projection: {
      onSchedule: x.threshold.projectedOn,
      atCurrentDose: x.projectedAtCurrentDoseOn ?? null,
      text: projectionText(x),
    },
    timeline: x.timeline,
    pulses,
    records: rows,
    unknownSpans,
    wbMri,
    findings,
    findingsLatestRead,
    status,
    findingsStatus,
    decision: assessment?.screening.decision.kind ?? null,
    issues: x.issues.map(({ source, code, severity, message }) => ({ source, code, severity, message })),
  };
}
