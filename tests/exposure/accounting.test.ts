/**
 * Every medication record is accounted for: counted (a contribution), excluded with a reason (not a
 * glucocorticoid, or a status that takes nothing), or reported (an error issue naming it). None is dropped
 * silently. Checked over every published shape in tests/fixtures/exposure/, whoever added it.
 */
import type { Medication, Reference, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EXPOSURE_CONFIG } from '../../src/exposure/config.ts';
import { dayFromIso } from '../../src/exposure/dates.ts';
import { classifyRecord, type RecordOutcome } from '../../src/exposure/evaluate.ts';
import type { MedicationRecord } from '../../src/exposure/evaluation.ts';
import { computeExposure } from '../../src/exposure/index.ts';
import { fixture, fixtureNames } from './fixtures.ts';

const RECORD_TYPES = new Set(['MedicationStatement', 'MedicationRequest', 'MedicationAdministration']);
const AS_OF = '2026-12-31';

/** Each record of a fixture with its outcome; references resolve as the engine resolves them. */
function outcomes(resources: Resource[]): Array<{ source: string; outcome: RecordOutcome }> {
  const medications = resources.filter((r): r is Medication => r.resourceType === 'Medication');
  const medication = (record: MedicationRecord, ref: Reference): Medication | undefined => {
    const reference = ref.reference ?? '';
    const id = reference.startsWith('#') ? reference.slice(1) : reference.replace(/^.*Medication\//, '');
    const contained = reference.startsWith('#')
      ? record.contained?.find((c): c is Medication => c.resourceType === 'Medication' && c.id === id)
      : undefined;
    return contained ?? medications.find((m) => m.id === id);
  };
  const ctx = { asOf: dayFromIso(AS_OF), config: DEFAULT_EXPOSURE_CONFIG, medication };
  return resources
    .filter((r): r is MedicationRecord => RECORD_TYPES.has(r.resourceType))
    .map((record) => ({ source: `${record.resourceType}/${record.id}`, outcome: classifyRecord(record, ctx) }));
}

describe('every medication record is counted, excluded with a reason, or reported', () => {
  it.each(fixtureNames())('%s', (name) => {
    const resources = fixture(name);
    const all = outcomes(resources);
    const summary = computeExposure({ resources, asOf: AS_OF, timeline: false });
    const contributed = new Set(summary.contributions.map((c) => c.source));
    const errored = new Set(summary.issues.filter((i) => i.severity === 'error').map((i) => i.source));
    const mentioned = new Set(summary.issues.map((i) => i.source));

    let evaluated = 0;
    let reported = 0;
    let excluded = 0;
    for (const { source, outcome } of all) {
      if (outcome.kind === 'evaluated') {
        evaluated++;
        expect(contributed.has(source), `${source} has a contribution`).toBe(true);
      } else if (outcome.kind === 'reported') {
        reported++;
        expect(contributed.has(source), `${source} has no contribution`).toBe(false);
        expect(errored.has(source), `${source} is reported with an error`).toBe(true);
      } else {
        excluded++;
        expect(outcome.reason.length, `${source} is excluded with a reason`).toBeGreaterThan(0);
        expect(contributed.has(source) || mentioned.has(source), `${source} excluded, not listed`).toBe(false);
      }
    }
    expect(evaluated + reported + excluded).toBe(all.length);
    // The summary itself: one contribution per evaluated record, one reported source per reported record.
    expect(summary.contributions.length).toBe(evaluated);
    expect([...errored].filter((s) => !contributed.has(s)).length).toBe(reported);
  });

  it('the HL7 R4 examples: 1 counted, 5 excluded with their reasons, 3 reported', () => {
    const all = outcomes(fixture('hl7-r4-medication-records-accounting.json'));
    const by = (kind: RecordOutcome['kind']) => all.filter((o) => o.outcome.kind === kind).map((o) => o.source);
    expect(by('evaluated')).toEqual(['MedicationRequest/medrx0303']);
    expect(
      Object.fromEntries(
        all.flatMap(({ source, outcome }) => (outcome.kind === 'excluded' ? [[source, outcome.reason]] : [])),
      ),
    ).toEqual({
      'MedicationRequest/medrx0331': 'RxNorm 114194 "Warfarin Sodium" is not a glucocorticoid',
      'MedicationStatement/example004': 'SNOMED CT 27658006 "Amoxicillin (product)" is not a glucocorticoid',
      'MedicationStatement/example005': 'status "entered-in-error": nothing was or will be taken',
      'MedicationAdministration/medadminexample03':
        'RxNorm 1594660 "Alemtuzumab 10mg/ml (Lemtrada)" is not a glucocorticoid',
      'MedicationRequest/medrx0308': 'RxNorm 856907 "Vicodin 5/500 Oral Tablet" is not a glucocorticoid',
    });
    const reported = Object.fromEntries(
      all.flatMap(({ source, outcome }) => (outcome.kind === 'reported' ? [[source, outcome.issue]] : [])),
    );
    expect(Object.keys(reported).sort()).toEqual([
      'MedicationRequest/medrx002',
      'MedicationRequest/medrx0306',
      'MedicationStatement/example003',
    ]);
    // An NDC product code with a brand name: we cannot tell it from a glucocorticoid brand, so it is named.
    expect(reported['MedicationRequest/medrx0306']!.code).toBe('medication-unidentified');
    expect(reported['MedicationRequest/medrx0306']!.message).toContain('http://hl7.org/fhir/sid/ndc|76388-713-25');
    expect(reported['MedicationStatement/example003']!.message).toContain('Little Pink Pill for water retention');
    expect(reported['MedicationRequest/medrx002']!.code).toBe('medication-unresolved');
    expect(reported['MedicationRequest/medrx002']!.message).toContain('Medication/med0316');

    const summary = computeExposure({
      resources: fixture('hl7-r4-medication-records-accounting.json'),
      asOf: AS_OF,
      timeline: false,
    });
    expect(summary.cumulativeMg).toBe(215); // medrx0303: 5 d × 20 mg + 8 d × 10 mg + 7 d × 5 mg
    expect(summary.cumulativeIsLowerBound).toBe(true); // three records could not be identified
  });

  it('a local code system, an RxCUI we do not know without a display, or nothing at all: reported, not dropped', () => {
    const base = { resourceType: 'MedicationStatement', status: 'completed', subject: { reference: 'Patient/p' } };
    const records = [
      {
        ...base,
        id: 'local',
        medicationCodeableConcept: { coding: [{ system: 'http://example.com/localcode', code: 'Local Code' }] },
      },
      {
        ...base,
        id: 'rxcui',
        medicationCodeableConcept: {
          coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '999999' }],
        },
      },
      { ...base, id: 'nothing' },
    ] as Resource[];
    const all = outcomes(records);
    expect(all.map((o) => o.outcome.kind)).toEqual(['reported', 'reported', 'reported']);
    expect(all.map((o) => (o.outcome.kind === 'reported' ? o.outcome.issue.message : ''))).toEqual([
      'medication not identified: http://example.com/localcode|Local Code names no glucocorticoid we can recognise, nor another drug',
      'medication not identified: http://www.nlm.nih.gov/research/umls/rxnorm|999999 names no glucocorticoid we can recognise, nor another drug',
      'the record names no medication',
    ]);
  });
});

describe('records no regimen can be are evaluated and reported, never dropped', () => {
  const RX = 'http://www.nlm.nih.gov/research/umls/rxnorm';
  const base = {
    resourceType: 'MedicationStatement',
    status: 'completed',
    subject: { reference: 'Patient/p' },
    medicationCodeableConcept: { coding: [{ system: RX, code: '8638', display: 'prednisolone' }] },
    effectivePeriod: { start: '2024-01-01', end: '2024-01-14' },
  };
  const dose = { doseAndRate: [{ doseQuantity: { value: 5, unit: 'mg', system: 'http://unitsofmeasure.org' } }] };
  const records = [
    { ...base, id: 'weekday', dosage: [{ ...dose, timing: { repeat: { dayOfWeek: ['mon', 'mo'] } } }] },
    { ...base, id: 'no-weekday', dosage: [{ ...dose, timing: { repeat: { dayOfWeek: ['xx'] } } }] },
    {
      ...base,
      id: 'per-minute',
      dosage: [{ ...dose, timing: { repeat: { frequency: 1, period: 1, periodUnit: 'min' } } }],
    },
    { ...base, id: 'old', effectivePeriod: { start: '1850-01-01' }, dosage: [dose] },
    {
      ...base,
      id: 'old-bounds',
      dosage: [{ ...dose, timing: { repeat: { boundsPeriod: { start: '0001-01-01', end: '2024-01-02' } } } }],
    },
  ] as Resource[];

  it('each has a contribution and an error naming the problem', () => {
    const all = outcomes(records);
    expect(all.map((o) => o.outcome.kind)).toEqual(['evaluated', 'evaluated', 'evaluated', 'evaluated', 'evaluated']);
    const summary = computeExposure({ resources: records, asOf: AS_OF, timeline: false });
    expect(summary.contributions.map((c) => c.source).sort()).toEqual(all.map((o) => o.source).sort());
    const errors = Object.fromEntries(
      summary.issues.filter((i) => i.severity === 'error').map((i) => [i.source.split('/')[1], i.code]),
    );
    expect(errors).toEqual({
      weekday: 'unknown-day-of-week',
      'no-weekday': 'unknown-day-of-week',
      'per-minute': 'frequency-implausible',
      old: 'date-implausible',
      'old-bounds': 'date-implausible',
    });
    expect(summary.cumulativeIsLowerBound).toBe(true);
  });
});
