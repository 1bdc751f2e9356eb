/**
 * Reading a record's patient off its NDJSON line (lineStaging.ts) is exact or silent: over the demo cohort and the
 * published examples in tests/fixtures (HL7, Synthea, the Swiss and French IGs), every answer is what parsing the
 * line gives (stagingOf), and the shapes it cannot vouch for get no answer, to be parsed as before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { resolveExposureConfig } from '../../src/exposure/config.ts';
import { passesTypeFilter, SCANNED_TYPES, stagingOf } from '../../src/surveillance/bulkSource.ts';
import { evaluatePatient } from '../../src/surveillance/evaluate.ts';
import { patientOfLine } from '../../src/surveillance/lineStaging.ts';
import { KEY_OF } from '../../src/surveillance/stagedRecords.ts';

const TYPES = SCANNED_TYPES;

const FIXTURES = new URL('../fixtures/', import.meta.url);

/** Every resource of the published examples (Bundles opened, contained resources as their own lines too). */
function publishedResources(): Resource[] {
  const out: Resource[] = [];
  const walk = (r: Resource) => {
    out.push(r);
    if (r.resourceType === 'Bundle') for (const e of r.entry ?? []) if (e.resource) walk(e.resource);
    for (const c of (r as { contained?: Resource[] }).contained ?? []) out.push(c);
  };
  for (const dir of ['fhir', 'exposure']) {
    const path = new URL(`${dir}/`, FIXTURES);
    for (const f of readdirSync(path).filter((n) => n.endsWith('.json')))
      walk(JSON.parse(readFileSync(join(path.pathname, f), 'utf8')) as Resource);
  }
  return out;
}

/** The answer must be what the parse gives: that patient, no Medication to fetch. */
function checkLine(line: string): boolean {
  const quick = patientOfLine(line, TYPES);
  if (quick === undefined) return false;
  const parsed = stagingOf(JSON.parse(line) as Record<string, unknown>);
  expect(parsed, line).toEqual({ patientId: quick, medication: undefined });
  return true;
}

describe('a record staged from its line, unparsed', () => {
  it('agrees with the parse on every line of the demo cohort, and answers for most of them', () => {
    const lines = generateCohort({ size: 300, seed: 42, asOf: '2026-06-30' }).map((r) => JSON.stringify(r));
    let answered = 0;
    let scanned = 0;
    for (const line of lines) {
      if (checkLine(line)) answered++;
      const type = (JSON.parse(line) as Resource).resourceType;
      if (TYPES.has(type)) scanned++;
    }
    // Whatever the generator writes in those types is read this way: the load's parse is what this saves.
    expect(answered).toBe(scanned);
    expect(answered).toBeGreaterThan(2500);
  });

  it('agrees with the parse on the published examples (answering where their shape allows)', () => {
    const resources = publishedResources();
    expect(resources.length).toBeGreaterThan(30);
    const answered = resources.map((r) => JSON.stringify(r)).filter(checkLine);
    // Some examples name their patient as "Patient/…": those are read; urn:uuid and absolute references are parsed.
    expect(answered.length).toBeGreaterThan(0);
  });

  const condition = (rest: string) => `{"resourceType":"Condition","id":"c1",${rest}}`;
  const shapes: Array<[string, string, string | undefined]> = [
    ['the common shape', condition('"subject":{"reference":"Patient/p1"}'), 'p1'],
    ['with its display', condition('"subject":{"reference":"Patient/p1","display":"Anna Patel"}'), 'p1'],
    ['display first', condition('"subject":{"display":"Anna","reference":"Patient/p1"}'), undefined],
    ['a second reference', condition('"subject":{"reference":"Patient/p1","reference":"Patient/p2"}'), undefined],
    [
      'two subjects (the parse keeps the last)',
      condition('"subject":{"reference":"Patient/p1"},"subject":{"reference":"Patient/p2"}'),
      undefined,
    ],
    [
      'a subject nested in an extension',
      condition('"extension":[{"url":"x","subject":{"reference":"Patient/p1"}}]'),
      undefined,
    ],
    [
      'a subject in a contained resource',
      `{"resourceType":"Condition","contained":[{"resourceType":"Condition","subject":{"reference":"Patient/p1"}}]}`,
      undefined,
    ],
    ['an absolute reference', condition('"subject":{"reference":"https://ehr.example/fhir/Patient/p1"}'), undefined],
    ['a versioned reference', condition('"subject":{"reference":"Patient/p1/_history/2"}'), undefined],
    ['a Group as subject', condition('"subject":{"reference":"Group/g1"}'), undefined],
    [
      'escapes in the text',
      condition('"note":[{"text":"said \\"subject\\""}],"subject":{"reference":"Patient/p1"}'),
      undefined,
    ],
    ['a line cut short', '{"resourceType":"Condition","subject":{"reference":"Patient/p1"},"onsetDate', undefined],
    [
      'resourceType not first',
      '{"id":"c1","resourceType":"Condition","subject":{"reference":"Patient/p1"}}',
      undefined,
    ],
    ['spaces after the colons', '{"resourceType": "Condition", "subject": {"reference": "Patient/p1"}}', undefined],
    [
      'a patient key beside',
      condition('"patient":{"reference":"Patient/p2"},"subject":{"reference":"Patient/p1"}'),
      undefined,
    ],
    [
      'a Medication referenced',
      `{"resourceType":"MedicationStatement","medicationReference":{"reference":"Medication/m1"},"subject":{"reference":"Patient/p1"}}`,
      undefined,
    ],
    [
      'a type with a code filter (Observation)',
      `{"resourceType":"Observation","subject":{"reference":"Patient/p1"}}`,
      undefined,
    ],
    [
      '"subject" as a string value before the key',
      condition('"category":[{"text":"subject"}],"subject":{"reference":"Patient/p1"}'),
      'p1',
    ],
    [
      'a contained resource with its own subject',
      '{"resourceType":"Condition","contained":[{"resourceType":"Condition","subject":{"reference":"Patient/p2"}}],"subject":{"reference":"Patient/p1"}}',
      'p1',
    ],
    [
      "a nested subject after the record's own",
      condition('"subject":{"reference":"Patient/p1"},"extension":[{"url":"x","subject":{"reference":"Patient/p2"}}]'),
      'p1',
    ],
    [
      'a raw NUL in a string (not JSON; a database refuses it)',
      condition('"note":[{"text":"a\u0000b"}],"subject":{"reference":"Patient/p1"}'),
      undefined,
    ],
    ['brackets unbalanced', `${condition('"subject":{"reference":"Patient/p1"}')}}`, undefined],
    [
      'a second resourceType',
      condition('"resourceType":"Observation","subject":{"reference":"Patient/p1"}'),
      undefined,
    ],
  ];
  for (const [what, line, expected] of shapes)
    it(`${what}: ${expected ? `patient ${expected}` : 'no answer, parsed as before'}`, () => {
      expect(patientOfLine(line, TYPES)).toBe(expected);
      if (expected) checkLine(line);
    });

  it('a line read as staged that is not JSON after all is its patient’s error, not a record dropped', () => {
    const broken = condition('"subject":{"reference":"Patient/p1"},"code":{"text":}');
    expect(patientOfLine(broken, TYPES)).toBe('p1');
    const { result } = evaluatePatient(
      'p1',
      { staged: [broken], medications: [] },
      { asOf: '2026-06-30', exposure: resolveExposureConfig({}) },
    );
    expect(result.decision).toBe('error');
    expect(result.error).toBe('the Condition/c1 record exported for this patient is not valid JSON');
  });

  it('reads the staged types that have no code filter to check, and only those', () => {
    expect([...TYPES].sort()).toEqual(
      Object.keys(KEY_OF)
        .filter((type) => passesTypeFilter({ resourceType: type }))
        .sort(),
    );
    expect(TYPES.has('MedicationStatement')).toBe(true);
  });
});
