/**
 * `osteowatch exposure` end to end: files in the formats EHR exports use, a real FHIR server over HTTP with
 * paging, and the error paths a user meets.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Resource } from '@medplum/fhirtypes';
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

// Bundles as EHRs and generators write them (tests/fixtures/fhir/README.md names each file's source). On these
// the engine used to find no record of the patient and print 0 mg without an issue.
const published = (name: string) => fileURLToPath(new URL(`../fixtures/fhir/${name}`, import.meta.url));
const exposureJsonOf = async (file: string, patient: string, asOf: string) => {
  const r = await runOsteowatch(['exposure', '--bundle', file, '--patient', patient, '--as-of', asOf, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
};
const issuesOf = (out: { issues: Array<{ source: string; code: string; severity: string }> }) =>
  out.issues.map(({ source, code, severity }) => ({ source, code, severity }));

describe('osteowatch exposure on published Bundle shapes (urn:uuid references, id-less entries)', () => {
  const SYNTHEA_PATIENT = '98ab6aa3-882b-4206-8a91-e9a8dfa69008';
  const HYDROCORTISONE_CREAM = 'MedicationRequest/08f39203-9b49-4af7-af9d-af4e10a6404a';

  it('Synthea: the records subject urn:uuid:… are the patient’s; topical hydrocortisone is listed, 0 mg, flagged', async () => {
    // Unmodified Synthea records: no expectation here depends on unit-less doses ({"value": 1} with no unit): the only
    // glucocorticoid is a topical cream, excluded by route before any dose is read; the others are not glucocorticoids.
    for (const patient of [SYNTHEA_PATIENT, `urn:uuid:${SYNTHEA_PATIENT}`]) {
      const out = await exposureJsonOf(published('synthea-rufus-kihn-excerpt.json'), patient, '2021-04-01');
      expect(out.patient).toBe(SYNTHEA_PATIENT);
      expect(out.cumulativeMg).toBe(0);
      expect(out.cumulativeIsLowerBound).toBe(false);
      expect(out.contributions).toEqual([
        expect.objectContaining({
          source: HYDROCORTISONE_CREAM,
          ingredient: 'hydrocortisone',
          route: 'topical',
          mg: 0,
          status: 'excluded',
        }),
      ]);
      expect(issuesOf(out)).toEqual([{ source: HYDROCORTISONE_CREAM, code: 'route-excluded', severity: 'info' }]);
    }
  });

  const PAT = '5f1d6a2c-8e4b-4f0a-9c3d-2b7e1a6f4d01';
  const ORDER = 'MedicationRequest/5f1d6a2c-8e4b-4f0a-9c3d-2b7e1a6f4d03';
  const STATEMENT = 'MedicationStatement/5f1d6a2c-8e4b-4f0a-9c3d-2b7e1a6f4d04';

  it('HL7 prednisone taper order in a transaction Bundle, id-less, subject and Medication by urn:uuid: 215 mg', async () => {
    // medrx0303: Prednisone 5 mg tablet (Medication med0311), 4 TAB/d 16–20 Jan 2015 (5 d, 100 mg), 2 TAB/d 23–30 Jan
    // (8 d, 80 mg), 1 TAB/d 31 Jan–6 Feb (7 d, 35 mg) = 215 mg.
    const bundle = JSON.parse(readFileSync(published('hl7-prednisone-transaction.json'), 'utf8')) as Bundle;
    bundle.entry = bundle.entry?.filter((e) => e.resource?.resourceType !== 'MedicationStatement');
    const file = join(dir, 'hl7-order-only.json');
    writeFileSync(file, JSON.stringify(bundle));
    const out = await exposureJsonOf(file, `urn:uuid:${PAT}`, '2015-02-22');
    expect(out.patient).toBe(PAT);
    expect(out.cumulativeMg).toBe(215);
    expect(out.contributions).toEqual([
      expect.objectContaining({
        source: ORDER,
        ingredient: 'prednisone',
        route: 'oral',
        mg: 215,
        days: 20,
        status: 'counted',
      }),
    ]);
    expect(out.issues).toEqual([]);
  });

  it('HL7 statement basedOn urn:uuid of the order: the statement is counted (310 mg), the order is its duplicate', async () => {
    // MedicationStatement example001 (now prednisone 5 mg): 1–2 TAB once daily PRN from 2015-01-23, active → counted at
    // 2 TAB (range upper bound, flagged; PRN as scheduled, flagged) × 5 mg × 31 d (23 Jan–22 Feb) = 310 mg.
    const out = await exposureJsonOf(published('hl7-prednisone-transaction.json'), PAT, '2015-02-22');
    expect(out.cumulativeMg).toBe(310);
    expect(out.currentDailyMg).toBe(10);
    const bySource = Object.fromEntries(out.contributions.map((c: { source: string }) => [c.source, c]));
    expect(bySource[STATEMENT]).toMatchObject({ mg: 310, days: 31, firstDay: '2015-01-23', status: 'counted' });
    expect(bySource[ORDER]).toMatchObject({ mg: 0, status: 'duplicate', countedVia: STATEMENT });
    expect(issuesOf(out)).toEqual([
      { source: STATEMENT, code: 'dose-range', severity: 'warning' },
      { source: STATEMENT, code: 'as-needed', severity: 'warning' },
      { source: STATEMENT, code: 'open-ended-through-as-of', severity: 'info' },
    ]);
  });

  it('HL7 transaction example: an id-less Patient entry is found by its fullUrl uuid; no records is 0 mg, said so', async () => {
    const file = published('hl7-bundle-transaction.json');
    const uuid = '61ebe359-bfdc-4613-8bf2-c5e300945f0a';
    const out = await exposureJsonOf(file, uuid, '2025-06-30');
    expect(out.patient).toBe(uuid);
    expect(out.cumulativeMg).toBe(0);
    expect(out.contributions).toEqual([]);
    expect(issuesOf(out)).toEqual([{ source: `Patient/${uuid}`, code: 'no-medication-records', severity: 'warning' }]);
    const byUrl = await exposureJsonOf(file, 'http://example.org/fhir/Patient/123', '2025-06-30');
    expect(byUrl.patient).toBe('123');
    expect(issuesOf(byUrl)).toEqual([{ source: 'Patient/123', code: 'no-medication-records', severity: 'warning' }]);
  });

  it('a patient in none of them is an error: one line on stderr, exit 1, nothing on stdout', async () => {
    // Another Synthea patient's id (R4/SYNTHEA/Stephen_McLaughlin_… in the same source repository).
    const r = await runOsteowatch([
      'exposure',
      '--bundle',
      published('synthea-rufus-kihn-excerpt.json'),
      '--patient',
      'd9427379-943a-42c1-b3d0-6b5056a12696',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        /^osteowatch: .*synthea-rufus-kihn-excerpt\.json: patient "d9427379-943a-42c1-b3d0-6b5056a12696" is not in the file .*; patients in it: 98ab6aa3-882b-4206-8a91-e9a8dfa69008$/,
      ),
    ]);
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
    // A patient found nowhere in the file is an error, not 0 mg: a typo or the wrong file must not pass for a
    // patient without glucocorticoids.
    [
      'unknown patient in a Bundle',
      ['--bundle', bundleFile, '--patient', 'p9'],
      1,
      /p1\.json: patient "p9" is not in the file \(no Patient resource with that id or fullUrl, no record whose subject is that patient\); patients in it: p1, p2\n$/,
    ],
    [
      'unknown patient in NDJSON',
      ['--bundle', ndjsonFile, '--patient', 'Patient/p9'],
      1,
      /patient "Patient\/p9" is not in the file/,
    ],
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
    expect(r.stderr).toMatch(/cannot read Patient\/p1: .*(ECONNREFUSED|bad port)/);
  });

  it('OSTEOWATCH_FHIR_MAX_PAGES and OSTEOWATCH_FHIR_MAX_RESOURCES bound the fetch as in the service', async () => {
    const args = ['exposure', '--fhir', srv.fhirUrl, '--patient', 'ow-0002', '--as-of', '2026-11-21'];
    const pages = await runOsteowatch(args, { OSTEOWATCH_FHIR_MAX_PAGES: '1' });
    expect(pages.code).toBe(1);
    expect(pages.stderr).toMatch(
      /^osteowatch: cannot search Medication\w+: the search goes on for more than 1 pages\n$/,
    );
    const many = await runOsteowatch(args, { OSTEOWATCH_FHIR_MAX_RESOURCES: '2' });
    expect(many.code).toBe(1);
    expect(many.stderr).toMatch(/more than 2 resources for one patient/);
  });
});

describe('osteowatch exposure --fhir honours the service’s FHIR limits (OSTEOWATCH_FHIR_*)', () => {
  let hole: Server;
  const sockets = new Set<Socket>();
  let url = '';
  let connections = 0;
  beforeAll(async () => {
    // Accepts connections and never answers a byte.
    hole = createTcpServer((s) => {
      connections++;
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(hole.address() as AddressInfo).port}/fhir`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => hole.close(r));
  });

  it('a server that never answers: OSTEOWATCH_FHIR_TIMEOUT_MS=500 ends it with a clear message, exit 1', async () => {
    const started = Date.now();
    const r = await runOsteowatch(['exposure', '--fhir', url, '--patient', 'p1'], {
      OSTEOWATCH_FHIR_TIMEOUT_MS: '500',
    });
    const ms = Date.now() - started;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    // The limit given, not the default of 5,000 ms.
    expect(r.stderr).toBe('osteowatch: cannot read Patient/p1: the FHIR server did not answer within 500 ms\n');
    // Starting the CLI takes most of this on a loaded machine; the default limit alone would take 5 s.
    expect(ms).toBeLessThan(15_000);
  });

  it.each([
    ['OSTEOWATCH_FHIR_TIMEOUT_MS', 'soon'],
    ['OSTEOWATCH_FHIR_TIMEOUT_MS', '5'],
    ['OSTEOWATCH_FHIR_MAX_PAGES', '0'],
    ['OSTEOWATCH_FHIR_MAX_RESOURCES', '-1'],
    ['OSTEOWATCH_FHIR_CONCURRENCY', '1000'],
  ])('%s=%s is refused before any request: exit 2, the variable named', async (name, value) => {
    const before = connections;
    const r = await runOsteowatch(['exposure', '--fhir', url, '--patient', 'p1'], { [name]: value });
    expect(r.code).toBe(2);
    expect(connections).toBe(before);
    expect(r.stderr).toMatch(new RegExp(`  - ${name} must `));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('the limits do not concern --bundle: a bad value does not fail a file', async () => {
    const r = await runOsteowatch(['exposure', '--bundle', bundleFile, '--patient', 'p1', '--as-of', '2025-03-01'], {
      OSTEOWATCH_FHIR_TIMEOUT_MS: 'soon',
    });
    expect(r.code).toBe(0);
  });
});
