/**
 * The timeline app's answer (src/server/timelineView.ts) and the page's series (src/pages/app/chartData.ts):
 * every figure is the engine's (computeExposure, assessPatient), the status sentence is literally the
 * patient-view card's, and a dose that could not be quantified is shown as unknown, never as 0.
 */
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { CardContext } from '../../src/cdsHooks/cards.ts';
import { PATIENT_DATA } from '../../src/cdsHooks/serviceDefinition.ts';
import { osteonecrosisScreening } from '../../src/cdsHooks/services/osteonecrosisScreening.ts';
import { computeExposure, resolveExposureConfig } from '../../src/exposure/index.ts';
import { dayOf, dayReader, doseSeries, readingText, recordBars } from '../../src/pages/app/chartData.ts';
import { launchParams } from '../../src/pages/app/launchParams.ts';
import { medicationReferences, PATIENT_SEARCHES, parseAppContext, searchUrl } from '../../src/pages/app/queries.ts';
import { assessPatient } from '../../src/screening/assess.ts';
import { patientRecords, timelineView } from '../../src/server/timelineView.ts';
import {
  AS_OF,
  BELOW,
  cohort,
  DUE_WITH_UNKNOWN,
  findingsPatient,
  OUTSIDE,
  patientResources,
  WITH_FINDINGS,
} from './timelineFixtures.ts';

const config = resolveExposureConfig();
const view = (id: string, resources = patientResources(id), asOf = AS_OF) =>
  timelineView({ patientId: id, asOf, resources, exposure: config });

const medicationRecords = (resources: Resource[]) =>
  resources.filter((r) =>
    ['MedicationStatement', 'MedicationRequest', 'MedicationAdministration', 'Medication'].includes(r.resourceType),
  );

/** The patient-view service's cards for the same records and day, built as runHook builds them. */
function cards(id: string, resources: Resource[], asOf = AS_OF) {
  const a = assessPatient(patientRecords(resources), { patientId: id, asOf, exposure: config });
  if (!a) return [];
  const card: CardContext = {
    patientId: id,
    asOf,
    exposure: a.exposure,
    publicUrl: 'http://example.test',
    steroidsContinue: a.steroidsContinue,
    records: a.records,
  };
  return osteonecrosisScreening.cards({
    card,
    screening: a.screening,
    cumulativeThrough: a.cumulativeThrough,
    medicationRecords: a.records,
    studies: a.studies,
    openOrders: a.openOrders,
    findings: a.findings,
    exposureConfig: config,
    screeningConfig: a.config.screening,
    request: {} as never,
  });
}

describe('timelineView: the figures are the engine’s', () => {
  const resources = patientResources(DUE_WITH_UNKNOWN);
  const v = view(DUE_WITH_UNKNOWN, resources);
  const x = computeExposure({
    resources: medicationRecords(resources),
    patient: DUE_WITH_UNKNOWN,
    asOf: AS_OF,
    config,
    timeline: true,
  });

  it('cumulative, crossing day, current dose, projection and the per-day timeline equal computeExposure’s', () => {
    expect(v.cumulative.mg).toBe(x.cumulativeMg);
    expect(v.cumulative.isLowerBound).toBe(x.cumulativeIsLowerBound);
    expect(v.crossedOn).toBe(x.threshold.crossedOn);
    expect(v.currentDailyMg).toBe(x.currentDailyMg);
    expect(v.projection.onSchedule).toBe(x.threshold.projectedOn);
    expect(v.firstExposure).toBe(x.firstExposure);
    expect(v.timeline).toEqual(x.timeline);
    expect(v.timeline.at(-1)?.cumulativeMg).toBe(x.cumulativeMg);
    // …and the assessment behind the card (computed without the timeline) says the same.
    const a = assessPatient(patientRecords(resources), { patientId: DUE_WITH_UNKNOWN, asOf: AS_OF, exposure: config });
    expect(a?.exposure.cumulativeMg).toBe(v.cumulative.mg);
    expect(a?.exposure.threshold.crossedOn).toBe(v.crossedOn);
  });

  it('says the status literally as the patient-view card does, and the total in the card’s words', () => {
    const [card] = cards(DUE_WITH_UNKNOWN, resources);
    expect(v.decision).toBe('baseline-due');
    expect(v.status).toEqual({ summary: card!.summary, indicator: card!.indicator });
    expect(v.status?.summary).toMatch(/^STIR whole-body MRI due: at least [\d,]+ mg/);
    expect(v.cumulative.text).toBe(`at least ${new Intl.NumberFormat('en-US').format(x.cumulativeMg!)} mg`);
    expect(card!.summary).toContain(v.cumulative.text);
  });

  it('lists one row per medication record, as prescribed and as counted, with its issues', () => {
    const sources = resources
      .filter((r) => ['MedicationStatement', 'MedicationRequest', 'MedicationAdministration'].includes(r.resourceType))
      .map((r) => `${r.resourceType}/${r.id}`)
      .sort();
    expect(v.records.map((r) => r.source).sort()).toEqual(sources);
    for (const row of v.records) {
      const k = x.contributions.find((c) => c.source === row.source)!;
      expect(row.mg).toBe(k.mg);
      expect(row.derivation).toBe(k.derivation);
    }
    const pulse = v.records.find((r) => r.resourceType === 'MedicationAdministration')!;
    expect(pulse).toMatchObject({ asWritten: 'methylprednisolone 500 mg IV', status: 'counted', mg: 625 });
    const duplicate = v.records.find((r) => r.engineStatus === 'duplicate')!;
    expect(duplicate).toMatchObject({ status: 'excluded', mg: 0 });
    const unknown = v.records.find((r) => r.status === 'unknown')!;
    expect(unknown).toMatchObject({
      asWritten: 'prednisolone 0.5 mg/kg daily',
      mg: null,
      counted: null,
      recorded: { start: '2024-01-13', end: '2024-01-19' },
    });
    expect(unknown.issues.map((i) => i.code)).toEqual(['weight-based-dose']);
  });

  it('draws an unknown dose as unknown: a span, a gap in the daily line, never 0', () => {
    expect(v.unknownSpans).toEqual([
      expect.objectContaining({ from: '2024-01-13', to: '2024-01-19', partial: false, openEnd: false }),
    ]);
    const s = doseSeries(v);
    const from = dayOf('2024-01-13');
    const to = dayOf('2024-01-19');
    // The line has a null point at the span's start and no number inside it.
    expect(s.daily.find((p) => p.x === from && p.y === null)).toBeDefined();
    expect(s.daily.filter((p) => p.x > from && p.x <= to && p.y !== null)).toEqual([]);
    const read = dayReader(v);
    expect(read(from + 2).mg).toBeNull();
    expect(readingText(read(from + 2))).toContain('dose unknown');
    // Outside the span a day without a counted dose is 0.
    expect(read(from - 3).mg).toBe(0);
    expect(recordBars(v).find((b) => b.row.status === 'unknown')).toMatchObject({
      unknown: true,
      span: [from, to + 1],
    });
  });

  it('the daily series steps exactly through the engine’s days and the cumulative series ends at its total', () => {
    const s = doseSeries(v);
    const read = dayReader(v);
    for (const t of x.timeline.slice(0, 50))
      expect(read(dayOf(t.date))).toMatchObject({ mg: t.mg, cumulativeMg: t.cumulativeMg });
    expect(s.cumulative.at(-1)).toEqual({ x: dayOf(AS_OF) + 1, y: expect.closeTo(x.cumulativeMg!, 6) });
    // Stepped: between two change points the value holds.
    const first = x.timeline[0]!;
    expect(s.daily.find((p) => p.x === dayOf(first.date))?.y).toBe(first.mg);
  });

  it('marks the pulses the card counts', () => {
    const [card] = cards(DUE_WITH_UNKNOWN, resources);
    const n = Number(/(\d+) IV pulses?/.exec(card!.detail ?? '')?.[1]);
    expect(n).toBe(3);
    expect(v.pulses).toHaveLength(n);
    expect(v.pulses.map((p) => p.mg)).toEqual([625, 625, 625]);
  });
});

describe('timelineView: other patients', () => {
  it('below the threshold: the projection of the recorded schedule, in the card’s words', () => {
    const resources = patientResources(BELOW);
    const v = view(BELOW, resources);
    const [card] = cards(BELOW, resources);
    expect(v.crossedOn).toBeNull();
    expect(v.projection.onSchedule).not.toBeNull();
    expect(card!.summary).toContain(`3,000 mg on ${v.projection.onSchedule} if taken as recorded`);
    expect(v.projection.text).toContain(`3,000 mg on ${v.projection.onSchedule} if taken as recorded`);
    expect(v.status?.summary).toBe(card!.summary);
  });

  it('outside the cohort: figures, no card and no status', () => {
    const v = view(OUTSIDE);
    expect(v.inCohort).toBe(false);
    expect(v.status).toBeNull();
    expect(v.decision).toBeNull();
    expect(v.cumulative.mg).toBeGreaterThan(0);
    expect(cards(OUTSIDE, patientResources(OUTSIDE))).toEqual([]);
  });

  it('findings per joint and side, the follow-up window and both card sentences', () => {
    const resources = findingsPatient();
    const v = view(WITH_FINDINGS, resources);
    const cs = cards(WITH_FINDINGS, resources);
    expect(v.decision).toBe('follow-up-scheduled');
    expect(v.wbMri.studies.map((s) => s.date)).toEqual(['2026-05-20']);
    expect(v.wbMri.followUp).toEqual({ after: '2026-05-20', from: '2026-08-20', to: '2026-11-20' });
    expect(cs[0]!.summary).toContain('follow-up due 2026-08-20–2026-11-20');
    expect(v.status?.summary).toBe(cs[0]!.summary);
    expect(v.findingsStatus?.summary).toBe(cs[1]!.summary);
    expect(v.findingsStatus?.indicator).toBe('critical');
    expect(v.findings).toEqual([
      expect.objectContaining({
        joint: 'knee',
        side: 'right',
        collapse: true,
        extent: ['25–50% of the articular surface'],
      }),
      expect.objectContaining({
        joint: 'hip',
        side: 'left',
        collapse: false,
        highCollapseRisk: true,
        extent: ['over 2/3 of the weight-bearing area'],
      }),
    ]);
    expect(v.findingsLatestRead).toBe('2026-05-20');
  });

  it('a record whose medication cannot be identified is a row of unknown dose, not left out', () => {
    const id = WITH_FINDINGS;
    const mystery = {
      resourceType: 'MedicationStatement',
      id: 'mystery',
      status: 'completed',
      subject: { reference: `Patient/${id}` },
      medicationCodeableConcept: { text: 'the white tablets' },
      effectivePeriod: { start: '2026-01-01', end: '2026-01-10' },
      dosage: [{ text: '2 daily' }],
    } as Resource;
    const v = view(id, [...findingsPatient(), mystery]);
    const row = v.records.find((r) => r.source === 'MedicationStatement/mystery');
    expect(row).toMatchObject({ status: 'unknown', engineStatus: 'unidentified', mg: null });
    expect(v.unknownSpans).toContainEqual(
      expect.objectContaining({ source: 'MedicationStatement/mystery', from: '2026-01-01', to: '2026-01-10' }),
    );
  });

  it('every patient of the cohort: the status is the card’s and the total the engine’s', () => {
    const all = cohort();
    const ids = all.filter((r) => r.resourceType === 'Patient').map((r) => r.id!);
    for (const id of ids) {
      const resources = patientResources(id, all);
      const v = view(id, resources);
      const decisionCard = cards(id, resources).find((c) => !c.summary.startsWith('Osteonecrosis on WB-MRI'));
      expect(v.status?.summary ?? null, id).toBe(decisionCard?.summary ?? null);
      const x = computeExposure({ resources: medicationRecords(resources), patient: id, asOf: AS_OF, config });
      expect(v.cumulative.mg, id).toBe(x.cumulativeMg);
      expect(v.crossedOn, id).toBe(x.threshold.crossedOn);
    }
  });
});

describe('the page’s requests', () => {
  it('searches what the CDS services prefetch', () => {
    const { patient: _read, ...searches } = PATIENT_DATA;
    expect(PATIENT_SEARCHES).toEqual(Object.fromEntries(Object.entries(searches).map(([k, v]) => [k, v.query])));
    const url = searchUrl(PATIENT_SEARCHES.osteonecrosisObservations, 'ow-0042');
    expect(new URLSearchParams(url.split('?')[1]).get('code')).toBe('http://snomed.info/sct|397758007');
    expect(new URLSearchParams(url.split('?')[1]).get('patient')).toBe('ow-0042');
  });

  it('reads the Medications referenced, not contained ones', () => {
    expect(
      medicationReferences([
        { medicationReference: { reference: 'Medication/a' } },
        { medicationReference: { reference: '#c' } },
        { medicationReference: { reference: 'Medication/a' } },
        { medicationReference: { reference: 'https://x.test/fhir/Medication/b' } },
        { medicationCodeableConcept: {} },
      ]),
    ).toEqual(['Medication/a', 'https://x.test/fhir/Medication/b']);
  });

  it('EHR and standalone launches ask for the SMART scopes of each', () => {
    expect(launchParams(new URL('https://app.test/app/launch.html?iss=https://ehr.test/fhir&launch=abc'), 'x')).toEqual(
      {
        iss: 'https://ehr.test/fhir',
        launch: 'abc',
        scope: 'launch launch/patient patient/*.rs openid fhirUser',
        kind: 'ehr',
      },
    );
    expect(launchParams(new URL('https://app.test/app/launch.html'), 'https://app.test/fhir')).toEqual({
      iss: 'https://app.test/fhir',
      scope: 'launch/patient patient/*.rs openid fhirUser',
      kind: 'standalone',
    });
  });

  it('reads appContext for what to show only, and nothing odd from it', () => {
    expect(parseAppContext('{"patient":"ow-0042","view":"exposure-timeline"}')).toEqual({
      patient: 'ow-0042',
      view: 'exposure-timeline',
    });
    expect(parseAppContext('{"cumulativeMg": 1}')).toEqual({});
    expect(parseAppContext('not json')).toEqual({});
    expect(parseAppContext(undefined)).toEqual({});
  });
});
