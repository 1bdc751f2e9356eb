/**
 * The bulk source's staging, over HTTP against a minimal Bulk Data server and a real store (PGlite): batches cut
 * by a hash of the patient's id while the export is read (the Patient file first, whatever the manifest's order),
 * every patient in exactly one batch, each batch reading back its own patients' lines and the Medications they
 * reference — relative or absolute, as the engine resolves them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { ExportGoneError } from '../../src/fhir/bulkExport.ts';
import { noAuth } from '../../src/fhir/fhirAuth.ts';
import { batchOf, bulkSource } from '../../src/surveillance/bulkSource.ts';
import { RunStore } from '../../src/surveillance/runStore.ts';
import { recordsFromLines, type StagedLines } from '../../src/surveillance/stagedRecords.ts';

const statement = (id: string, patient: string, medication: Record<string, unknown>) => ({
  resourceType: 'MedicationStatement',
  id,
  status: 'active',
  ...medication,
  subject: { reference: `Patient/${patient}` },
  effectivePeriod: { start: '2026-01-01' },
  dosage: [
    { doseAndRate: [{ doseQuantity: { value: 10, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }] },
  ],
});

let server: Server;
let base = '';
let store: AuditStore;
const patients = ['p1', 'p2', 'p3'];
/** Whether the export holds the Patient file (a server may export only records). */
let withPatients = true;
/** Export jobs started, and deleted (by number). */
let jobs = 0;
const deleted: number[] = [];
/** The job whose files have expired (404). */
let expiredJob = 0;
/** Whether the export has problems to report: an error file, a line that is not JSON, a record without a patient. */
let withProblems = false;

/** The manifest's error file: one OperationOutcome per problem, as a server writes them. */
const ERRORS = [
  {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'not-found', details: { text: 'Group member Patient/p9 was not found' } }],
  },
  {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', diagnostics: '_typeFilter ignored' }],
  },
];

/** Files by type; the manifest lists the records before the Patients (a server may order them any way). */
function files(): Record<string, unknown[]> {
  return {
    MedicationStatement: [
      // An absolute reference to a Medication on the same server, as some servers write them.
      statement('s1', 'p1', { medicationReference: { reference: `${base}/Medication/m1` } }),
      statement('s2', 'p2', { medicationReference: { reference: 'Medication/m1' } }),
      statement('s3', 'p2', { medicationCodeableConcept: { text: 'prednisolone 5 mg tablet' } }),
      // Records of a patient the export holds no Patient resource for: still evaluated.
      statement('s4', 'p4', { medicationCodeableConcept: { text: 'prednisolone 5 mg tablet' } }),
      ...(withProblems
        ? [
            {
              ...statement('s5', 'x', { medicationCodeableConcept: { text: 'prednisone' } }),
              subject: { reference: 'Group/g' },
            },
          ]
        : []),
    ],
    Medication: [{ resourceType: 'Medication', id: 'm1', code: { text: 'prednisolone 5 mg tablet' } }],
    ...(withPatients ? { Patient: patients.map((id) => ({ resourceType: 'Patient', id })) } : {}),
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', base).pathname;
    if (/\/Group\/g\/\$export$/.test(path)) {
      res.writeHead(202, { 'content-location': `${base}/$export-status/${++jobs}` });
      return res.end();
    }
    const status = /\/\$export-status\/(\d+)$/.exec(path);
    if (status) {
      if (req.method === 'DELETE') {
        deleted.push(Number(status[1]));
        res.writeHead(202);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          transactionTime: '2026-06-30T00:00:00Z',
          request: `${base}/Group/g/$export`,
          requiresAccessToken: false,
          output: Object.keys(files()).map((type) => ({ type, url: `${base}/files/${status[1]}/${type}.ndjson` })),
          error: withProblems ? [{ type: 'OperationOutcome', url: `${base}/files/${status[1]}/errors.ndjson` }] : [],
        }),
      );
    }
    const file = /\/files\/(\d+)\/(\w+)\.ndjson$/.exec(path);
    if (file && Number(file[1]) === expiredJob) {
      res.writeHead(404);
      return res.end();
    }
    if (file) {
      const type = file[2]!;
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
      const lines = (type === 'errors' ? ERRORS : files()[type]!).map((r) => JSON.stringify(r));
      // A line cut short in transit, between two good ones.
      if (withProblems && type === 'MedicationStatement') lines.splice(1, 0, '{"resourceType":"Medication');
      return res.end(`${lines.join('\n')}\n`);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  store = await openAuditStore({ memory: true });
});

afterAll(async () => {
  await store?.close();
  await new Promise((resolve) => server?.close(resolve));
});

/** A run created in the store, and the bulk source that reads the export for it. */
async function prepare(runId: string) {
  const runs = new RunStore(store.db);
  await runs.createRun({
    runId,
    trigger: 'api',
    mode: 'bulk',
    fhirBase: base,
    asOf: '2026-06-30',
    rulesHash: 'x',
    now: new Date('2026-06-30T12:00:00Z'),
  });
  // Loading, as the runner has it before it calls load (a load stops once its run is no longer loading).
  await runs.update(runId, { status: 'loading' }, ['queued']);
  const source = bulkSource({
    fhirBaseUrl: base,
    groupId: 'g',
    auth: noAuth,
    store: runs,
    maxWaitSeconds: 10,
    retryAfterCapSeconds: 1,
  });
  return { runs, source };
}

/** A run created in the store and its export loaded by the bulk source, in batches of two. */
async function load(runId: string) {
  const { runs, source } = await prepare(runId);
  const cohort = await source.load((await runs.getRun(runId))!, { batchSize: 2 });
  // The run as a batch sees it: loaded, with its export's status URL.
  const run = (await runs.getRun(runId))!;
  // Ended, so that the next test may create its own: runs go one at a time.
  await runs.update(runId, { status: 'failed', error: 'test over' });
  return { source, cohort, run };
}

describe('bulk source', () => {
  it("reports what it could not take: the export's error files, a broken line, a record without a patient", async () => {
    withPatients = true;
    withProblems = true;
    try {
      const { cohort } = await load('bulk-source-problems');
      // The rest of the export is read as ever.
      expect(cohort.patientIds).toEqual(['p1', 'p2', 'p3', 'p4']);
      expect(cohort.issues).toEqual({
        total: 4,
        items: [
          { severity: 'error', file: 'MedicationStatement', line: 2, message: 'line skipped: not JSON' },
          {
            severity: 'warning',
            file: 'MedicationStatement',
            line: 6,
            message: 'MedicationStatement/s5 skipped: its subject is not a Patient of the export',
          },
          { severity: 'error', file: 'error', message: 'Group member Patient/p9 was not found' },
          { severity: 'information', file: 'error', message: '_typeFilter ignored' },
        ],
      });
    } finally {
      withProblems = false;
    }
  });

  it('an export whose files have expired is deleted and forgotten: the retry starts a new one', async () => {
    withPatients = true;
    const { runs, source } = await prepare('bulk-source-expired');
    expiredJob = jobs + 1;
    try {
      const first = await source
        .load((await runs.getRun('bulk-source-expired'))!, { batchSize: 2 })
        .catch((e: unknown) => e);
      expect(first).toBeInstanceOf(ExportGoneError);
      expect((first as Error).message).toMatch(/HTTP 404 \(the export's files have expired or were deleted\)/);
      // The dead job deleted on the server and forgotten by the run.
      expect(deleted).toContain(expiredJob);
      expect((await runs.getRun('bulk-source-expired'))!.exportStatusUrl).toBeNull();
      // The retry (the job queue's next attempt) exports anew and loads the cohort.
      const cohort = await source.load((await runs.getRun('bulk-source-expired'))!, { batchSize: 2 });
      expect(cohort.patientIds).toEqual(['p1', 'p2', 'p3', 'p4']);
      expect((await runs.getRun('bulk-source-expired'))!.exportStatusUrl).toMatch(`/$export-status/${expiredJob + 1}`);
    } finally {
      expiredJob = 0;
      await runs.update('bulk-source-expired', { status: 'failed', error: 'test over' });
    }
  });

  it('cuts batches by patient as it stages, and each batch reads back exactly its patients with their Medications', async () => {
    withPatients = true;
    const { source, cohort, run } = await load('bulk-source-test');
    expect(cohort.patientIds).toEqual(['p1', 'p2', 'p3', 'p4']);
    // Two batches from the three Patients (ceil(3 / 2)); each patient in the batch its id hashes to, once.
    expect(cohort.batches).toHaveLength(2);
    expect(cohort.batches!.flat().sort()).toEqual(cohort.patientIds);
    for (const [no, ids] of cohort.batches!.entries()) for (const id of ids) expect(batchOf(id, 2)).toBe(no);

    const read = new Map<string, StagedLines>();
    for (const [no, ids] of cohort.batches!.entries()) {
      const records = await source.records(ids, run, no);
      expect([...records.keys()].sort()).toEqual([...ids].sort());
      for (const [id, lines] of records) read.set(id, lines as StagedLines);
    }
    const ids = (id: string) => recordsFromLines(read.get(id)!).medicationStatements.map((r) => r.id);
    expect(ids('p1')).toEqual(['s1']);
    expect(ids('p2').sort()).toEqual(['s2', 's3']);
    expect(ids('p3')).toEqual([]);
    expect(ids('p4')).toEqual(['s4']);
    // The Medication travels with both records that reference it, the absolute reference included.
    for (const id of ['p1', 'p2']) expect(recordsFromLines(read.get(id)!).medications.map((m) => m.id)).toEqual(['m1']);

    // A batch asked for some of its patients (the others evaluated by a crashed attempt) reads only those.
    const both = cohort.batches!.findIndex((b) => b.includes('p2'));
    const partial = await source.records(['p2'], run, both);
    expect([...partial.keys()]).toEqual(['p2']);
  });

  it('an export without Patient resources: the fallback number of batches, every patient with records in one', async () => {
    withPatients = false;
    const { source, cohort, run } = await load('bulk-source-no-patients');
    expect(cohort.patientIds).toEqual(['p1', 'p2', 'p4']);
    expect(cohort.batches).toHaveLength(64);
    expect(cohort.batches!.flat().sort()).toEqual(cohort.patientIds);
    const no = cohort.batches!.findIndex((b) => b.includes('p2'));
    const records = await source.records(cohort.batches![no]!, run, no);
    expect(
      recordsFromLines(records.get('p2') as StagedLines)
        .medicationStatements.map((r) => r.id)
        .sort(),
    ).toEqual(['s2', 's3']);
  });
});
