/**
 * `osteowatch exposure` end to end: files in the formats EHR exports use, a real FHIR server over HTTP with
 * paging, and the error paths a user meets.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { runOsteowatch } from '../helpers/cli.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'osteowatch-cli-'));
const UCUM = 'http://unitsofmeasure.org';
const RX = 'http://www.nlm.nih.gov/research/umls/rxnorm';

// Hand-worked: prednisone 5 mg tablets, 4 tablets daily 1–10 Jan (200 mg); methylprednisolone 1 g IV on
// 15 Jan given against an order (1250 mg pred-eq, the order not counted twice); a statement with no dose.
const resources: Resource[] = [
  { resourceType: 'Patient', id: 'p1' },
  {
    resourceType: 'MedicationStatement',
    id: 'ms1',
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [{ system: RX, code: '312617', display: 'predniSONE 5 MG Oral Tablet' }] },
    effectivePeriod: { start: '2025-01-01', end: '2025-01-10' },
    dosage: [
      {
        timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: { value: 4, unit: 'tablet', system: UCUM, code: '{tbl}' } }],
      },
    ],
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr1',
    status: 'completed',
    intent: 'order',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [{ system: RX, code: '6902', display: 'methylprednisolone' }] },
    authoredOn: '2025-01-15',
    dosageInstruction: [
      {
        timing: { repeat: { count: 1, frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: { value: 1, unit: 'g', system: UCUM, code: 'g' } }],
      },
    ],
  },
  {
    resourceType: 'MedicationAdministration',
    id: 'ma1',
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { coding: [{ system: RX, code: '6902', display: 'methylprednisolone' }] },
    effectiveDateTime: '2025-01-15T10:00:00Z',
    request: { reference: 'MedicationRequest/mr1' },
    dosage: { dose: { value: 1000, unit: 'mg', system: UCUM, code: 'mg' } },
  },
  {
    resourceType: 'MedicationStatement',
    id: 'ms2',
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: { text: 'prednisolone' },
    effectivePeriod: { start: '2025-02-01', end: '2025-02-05' },
    dosage: [{ text: 'as directed' }],
  },
  {
    resourceType: 'MedicationStatement',
    id: 'other',
    status: 'active',
    subject: { reference: 'Patient/p2' },
    medicationCodeableConcept: { text: 'prednisolone' },
    effectivePeriod: { start: '2025-01-01' },
    dosage: [{ doseAndRate: [{ doseQuantity: { value: 50, unit: 'mg', system: UCUM, code: 'mg' } }] }],
  },
];

const searchset = {
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((r) => ({ fullUrl: `http://ehr/fhir/${r.resourceType}/${r.id}`, resource: r })),
};
const bundleFile = join(dir, 'p1.json');
const ndjsonFile = join(dir, 'p1.ndjson');
writeFileSync(bundleFile, JSON.stringify(searchset));
writeFileSync(ndjsonFile, resources.map((r) => JSON.stringify(r)).join('\n'));

describe('osteowatch exposure --bundle', () => {
  it('prints the JSON the README specifies, exact to the milligram', async () => {
    const r = await runOsteowatch([
      'exposure',
      '--bundle',
      bundleFile,
      '--patient',
      'p1',
      '--as-of',
      '2025-03-01',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.patient).toBe('p1');
    expect(out.asOf).toBe('2025-03-01');
    expect(out.cumulativeMg).toBe(1450);
    expect(out.cumulativeIsLowerBound).toBe(true);
    expect(out.currentDailyMg).toBe(0);
    const bySource = Object.fromEntries(
      out.contributions.map((c: { source: string; mg: number | null; ingredient: string }) => [c.source, c]),
    );
    expect(bySource['MedicationStatement/ms1']).toMatchObject({ ingredient: 'prednisone', mg: 200 });
    expect(bySource['MedicationAdministration/ma1']).toMatchObject({ ingredient: 'methylprednisolone', mg: 1250 });
    expect(bySource['MedicationRequest/mr1']).toMatchObject({ mg: 0, status: 'duplicate' });
    expect(bySource['MedicationStatement/ms2']).toMatchObject({ mg: null, status: 'unquantified' });
    expect(out.issues).toContainEqual(expect.objectContaining({ source: 'MedicationStatement/ms2', code: 'no-dose' }));
    expect(out.timeline).toBeUndefined();
  });

  it('reads NDJSON the same way', async () => {
    const r = await runOsteowatch([
      'exposure',
      '--bundle',
      ndjsonFile,
      '--patient',
      'Patient/p1',
      '--as-of',
      '2025-03-01',
      '--json',
    ]);
    expect(JSON.parse(r.stdout).cumulativeMg).toBe(1450);
  });

  it('prints a readable table with each derivation and the issues', async () => {
    const r = await runOsteowatch(['exposure', '--bundle', bundleFile, '--patient', 'p1', '--as-of', '2025-03-01']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Cumulative dose      1,450 mg (at least');
    expect(r.stdout).toContain('prednisone oral: 1 × 20 mg (4 tablet × 5 mg)/day × 10 d = 200 mg');
    expect(r.stdout).toContain('[error] MedicationStatement/ms2 no-dose');
  });

  it('applies a configuration file', async () => {
    const cfg = join(dir, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ equivalentToPrednisolone5mg: { methylprednisolone: 5 } }));
    const r = await runOsteowatch([
      'exposure',
      '--bundle',
      bundleFile,
      '--patient',
      'p1',
      '--as-of',
      '2025-03-01',
      '--config',
      cfg,
      '--json',
    ]);
    expect(JSON.parse(r.stdout).cumulativeMg).toBe(1200);
  });
});

describe('osteowatch exposure errors', () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    [
      'missing file',
      ['--bundle', join(dir, 'nope.json'), '--patient', 'p1'],
      1,
      /cannot read .*nope\.json: no such file/,
    ],
    ['not JSON', ['--bundle', join(dir, 'bad.json'), '--patient', 'p1'], 1, /is not valid JSON/],
    ['not a resource', ['--bundle', join(dir, 'array.json'), '--patient', 'p1'], 1, /not a FHIR Bundle/],
    [
      'bad date',
      ['--bundle', bundleFile, '--patient', 'p1', '--as-of', '2025-13-45'],
      2,
      /--as-of must be a calendar date/,
    ],
    ['no source', ['--patient', 'p1'], 2, /give --bundle FILE or --fhir BASE_URL/],
    ['no patient', ['--bundle', bundleFile], 2, /required option '--patient <id>'/],
  ];
  writeFileSync(join(dir, 'bad.json'), '{"resourceType": "Bundle", ');
  writeFileSync(join(dir, 'array.json'), '[]');
  it.each(cases)('%s: a clear message, a non-zero exit, no stack trace', async (_name, args, code, message) => {
    const r = await runOsteowatch(['exposure', ...args]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('invalid configuration is explained', async () => {
    const cfg = join(dir, 'badcfg.json');
    writeFileSync(cfg, JSON.stringify({ thresholdMg: 'lots' }));
    const r = await runOsteowatch(['exposure', '--bundle', bundleFile, '--patient', 'p1', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('thresholdMg must be a number of milligrams');
  });
});

describe('osteowatch exposure --fhir (real FHIR server over HTTP, paging)', () => {
  let srv: RunningServer;
  const cohort = generateCohort({ size: 12, seed: 3, asOf: '2026-11-21' });
  beforeAll(async () => {
    srv = await startServer([...resources, ...cohort], { maxPageSize: 3 });
  });
  afterAll(() => srv.close());

  it('gives the same result as the file for the hand-worked patient', async () => {
    const r = await runOsteowatch([
      'exposure',
      '--fhir',
      srv.fhirUrl,
      '--patient',
      'p1',
      '--as-of',
      '2025-03-01',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).cumulativeMg).toBe(1450);
  });

  it('follows every page: the server result equals the in-memory result for a cohort patient', async () => {
    const id = 'ow-0002';
    const cohortFile = join(dir, 'cohort.ndjson');
    writeFileSync(cohortFile, cohort.map((r) => JSON.stringify(r)).join('\n'));
    const fromFile = JSON.parse(
      (await runOsteowatch(['exposure', '--bundle', cohortFile, '--patient', id, '--as-of', '2026-11-21', '--json']))
        .stdout,
    );
    const fromServer = JSON.parse(
      (await runOsteowatch(['exposure', '--fhir', srv.fhirUrl, '--patient', id, '--as-of', '2026-11-21', '--json']))
        .stdout,
    );
    expect(fromServer.contributions.length).toBeGreaterThan(3); // more than one page of 3
    expect(fromServer.cumulativeMg).toBe(fromFile.cumulativeMg);
    expect(fromServer.contributions.map((c: { source: string }) => c.source).sort()).toEqual(
      fromFile.contributions.map((c: { source: string }) => c.source).sort(),
    );
  });

  it('an unknown patient is a clear error', async () => {
    const r = await runOsteowatch(['exposure', '--fhir', srv.fhirUrl, '--patient', 'nobody']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read Patient\/nobody: Not found/i);
  });

  it('an unreachable server is a clear error', async () => {
    const r = await runOsteowatch(['exposure', '--fhir', 'http://127.0.0.1:9/fhir', '--patient', 'p1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read Patient\/p1: .*(ECONNREFUSED|fetch failed)/);
  });
});
