/**
 * Surveillance runs in the audit trail, as an auditor uses it: every ended run is recorded (a cancelled one with
 * its reason too); `verify` finds the run history edited behind the record's back (its day, its status), not only
 * the worklist; and "who was due on a day" is answered from the records: stable when a later run the same day
 * resolves an entry, each patient with the WB-MRI that followed, a day without a run answered by the last run
 * before it.
 */
import type { ImagingStudy } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { toFhir } from '../../src/audit/fhirExport.ts';
import { auditRows } from '../../src/audit/queries.ts';
import { dueOn, verifyRun } from '../../src/surveillance/runAudit.ts';
import { AS_OF, cohort, finished, surveillanceFor, useTestBed } from './harness.ts';

const NEXT_DAY = '2026-07-01';

describe('surveillance runs in the audit trail', () => {
  // "Now" is the evening of the day after AS_OF: runs for either day may start, each given its day.
  const bed = useTestBed(() => ({
    resources: cohort(30),
    config: { taskFhirUrl: 'none' },
    extra: { now: () => new Date(`${NEXT_DAY}T20:00:00Z`) },
  }));
  const records = async () =>
    bed.db.store.db.query<{ run_id: string; summary: { status?: string; error?: string; asOf: string } }>(
      'select run_id, summary from surveillance_run order by seq',
    );

  /** A whole-body MRI of the patient, done at `started`, on the FHIR server the runs read. */
  const wbMriDone = (patientId: string, started: string) =>
    bed.server.repo.createResource<ImagingStudy>({
      resourceType: 'ImagingStudy',
      status: 'available',
      subject: { reference: `Patient/${patientId}` },
      started,
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MR' }],
      procedureCode: [{ coding: [{ system: 'http://loinc.org', code: '46358-8' }], text: 'MR Whole body' }],
    });

  let morning = '';
  let afternoon = '';
  let scanned = '';
  it('two runs the same day: who was due that day keeps the patient the afternoon run resolved, with the scan', async () => {
    morning = await bed.s.startRun('api', AS_OF);
    expect((await finished(bed.s, morning)).status).toBe('succeeded');
    const due = (await bed.s.store.worklist({ runId: morning, limit: 1000, rules: ['screening-due'] })).items[0]!;
    expect(due).toBeDefined();
    scanned = due.patientId;
    await wbMriDone(scanned, `${AS_OF}T13:00:00Z`);
    afternoon = await bed.s.startRun('api', AS_OF);
    expect((await finished(bed.s, afternoon)).status).toBe('succeeded');

    // The afternoon run resolved it, and says which WB-MRI did.
    const resolved = (await bed.s.store.worklist({ runId: afternoon, limit: 1000, changes: ['resolved'] })).items;
    expect(resolved).toEqual([
      expect.objectContaining({ patientId: scanned, rule: 'screening-due', lastStudy: AS_OF }),
    ]);

    const answer = await dueOn(bed.s.store, AS_OF);
    expect(answer.runDay).toBe(AS_OF);
    expect(answer.runs.map((r) => r.runId)).toEqual([morning, afternoon]);
    const morningOpen = (await bed.s.store.worklistOf(morning)).filter((e) => e.change !== 'resolved');
    expect(answer.entries.map((e) => `${e.patientId} ${e.rule}`).sort()).toEqual(
      morningOpen.map((e) => `${e.patientId} ${e.rule}`).sort(),
    );
    const entry = answer.entries.find((e) => e.patientId === scanned && e.rule === 'screening-due')!;
    expect(entry).toMatchObject({ runId: morning, scannedOn: AS_OF });
    expect(answer.entries.filter((e) => e.patientId !== scanned).every((e) => e.scannedOn === null)).toBe(true);

    // A day without a run: the last run before it; a day before any run: nothing.
    const later = await dueOn(bed.s.store, '2026-07-15');
    expect(later.runDay).toBe(AS_OF);
    expect(later.runs.map((r) => r.runId)).toEqual([afternoon]);
    expect(later.entries.some((e) => e.patientId === scanned && e.rule === 'screening-due')).toBe(false);
    expect(await dueOn(bed.s.store, '2026-01-01')).toEqual({
      runs: [],
      runDay: null,
      entries: [],
      total: 0,
      next: null,
    });
  }, 240_000);

  it('a cancelled run is recorded with its reason; the day it was for still answers from succeeded runs', async () => {
    const { runId } = await bed.s.runner.create({ trigger: 'api', asOf: NEXT_DAY });
    expect(await bed.s.cancel(runId, 'an operator')).toBe(true);
    const rec = (await records()).find((r) => r.run_id === runId);
    expect(rec?.summary).toMatchObject({ status: 'failed', error: 'cancelled by an operator', asOf: NEXT_DAY });
    expect((await verifyRun(bed.s.store, runId)).ok).toBe(true);
    // The FHIR export says so too: a failed query (outcome 8) with its reason, the succeeded runs outcome 0.
    const rows = (await auditRows(bed.db.store.db, { from: '2000-01-01', to: '2100-01-01', limit: 5000 })).items.filter(
      (r) => r.kind === 'surveillance-run',
    );
    const events = rows.map((r) => toFhir(r)[0] as { outcome: string; outcomeDesc?: string });
    expect(events.map((e) => e.outcome)).toEqual(['0', '0', '8']);
    expect(events[2]!.outcomeDesc).toBe('surveillance run failed: cancelled by an operator');
    expect((await dueOn(bed.s.store, NEXT_DAY)).runs.map((r) => r.runId)).toEqual([afternoon]);
  }, 60_000);

  it('verify finds the run history edited behind the record: its day, its status', async () => {
    expect(await verifyRun(bed.s.store, morning)).toMatchObject({ ok: true, mismatches: [] });
    const before = await dueOn(bed.s.store, AS_OF);
    await bed.db.store.db.query(
      `update surveillance_runs set as_of = '2026-06-01', status = 'failed' where run_id = $1`,
      [morning],
    );
    const check = await verifyRun(bed.s.store, morning);
    expect(check.ok).toBe(false);
    expect(check.mismatches).toEqual([
      `asOf: recorded "${AS_OF}", now "2026-06-01"`,
      'status: recorded "succeeded", now "failed"',
    ]);
    // The auditor's answer comes from the records, not from the edited history.
    const after = await dueOn(bed.s.store, AS_OF);
    expect(after.entries).toEqual(before.entries);
    expect(after.runs.map((r) => r.runId)).toEqual([morning, afternoon]);
  }, 60_000);

  it('a failed run left without its record (a process died, an earlier release) is recorded when an instance starts', async () => {
    const runs = bed.s.store;
    expect(
      await runs.createRun({
        runId: 'failed-unrecorded',
        trigger: 'api',
        mode: 'crawl',
        fhirBase: 'http://ehr.example/fhir',
        asOf: NEXT_DAY,
        rulesHash: 'x',
        now: new Date(`${NEXT_DAY}T21:00:00Z`),
      }),
    ).toBe(true);
    expect(await runs.fail('failed-unrecorded', 'the instance went away', new Date(`${NEXT_DAY}T21:05:00Z`))).toBe(
      true,
    );
    expect((await records()).some((r) => r.run_id === 'failed-unrecorded')).toBe(false);
    const again = surveillanceFor(bed.server, bed.db, { taskFhirUrl: 'none' });
    try {
      await again.start();
    } finally {
      await again.stop();
    }
    expect((await records()).find((r) => r.run_id === 'failed-unrecorded')?.summary).toMatchObject({
      status: 'failed',
      error: 'the instance went away',
    });
    expect(await bed.db.store.audit.verify()).toMatchObject({ ok: true });
  }, 60_000);

  it('in pages: together the whole answer in its order, each page reading the runs the first one read', async () => {
    const whole = await dueOn(bed.s.store, AS_OF);
    expect(whole.next).toBeNull();
    expect(whole.total).toBe(whole.entries.length);
    expect(whole.entries.length).toBeGreaterThan(5);
    // Due date (none last), then patient and rule, by code point.
    const keys = whole.entries.map((e) => `${e.dueDate ?? '9999-12-31'} ${e.patientId} ${e.rule}`);
    expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    const first = await dueOn(bed.s.store, AS_OF, { limit: 4 });
    expect(first.entries).toEqual(whole.entries.slice(0, 4));
    expect(first.total).toBe(whole.total);
    // After the first page, a third run of the day, and a scan that a run of the next day sees, are recorded: the
    // pages that follow still read the trail as the first page did.
    const third = await bed.s.startRun('api', AS_OF);
    expect((await finished(bed.s, third)).status).toBe('succeeded');
    const unscanned = whole.entries.filter((e) => e.scannedOn === null).at(-1)!.patientId;
    await wbMriDone(unscanned, `${NEXT_DAY}T09:00:00Z`);
    const nextDay = await bed.s.startRun('api', NEXT_DAY);
    expect((await finished(bed.s, nextDay)).status).toBe('succeeded');
    const pages = [first];
    while (pages.at(-1)!.next) pages.push(await dueOn(bed.s.store, AS_OF, { limit: 4, from: pages.at(-1)!.next! }));
    expect(pages.flatMap((p) => p.entries)).toEqual(whole.entries);
    expect(pages.every((p) => p.runs.map((r) => r.runId).join() === [morning, afternoon].join())).toBe(true);
    expect(pages.slice(0, -1).every((p) => p.entries.length === 4)).toBe(true);
    // Asked afresh, the answer reads all three runs of the day, and the scan.
    const afresh = await dueOn(bed.s.store, AS_OF);
    expect(afresh.runs.map((r) => r.runId)).toEqual([morning, afternoon, third]);
    expect(afresh.entries.filter((e) => e.patientId === unscanned).map((e) => e.scannedOn)).toContain(NEXT_DAY);
  }, 120_000);

  it('in pages of one, an entry without a due date and one due on 9999-12-31 are both given', async () => {
    // Written straight into the morning run's worklist (append-only: inserts are allowed): the two sort alike but
    // for the missing date, which a keyset of the sort's values alone would skip over.
    for (const due of [null, '9999-12-31'])
      await bed.db.store.db.query(
        `insert into worklist_entries (run_id, patient_id, rule, change, due_date, lower_bound, summary)
         values ($1, 'zz-tie', 'screening-due', 'new', $2::date, false, 'tie')`,
        [morning, due],
      );
    const whole = await dueOn(bed.s.store, AS_OF);
    const ties = whole.entries.filter((e) => e.patientId === 'zz-tie').map((e) => e.dueDate);
    expect(ties).toEqual(['9999-12-31', null]);
    const paged = [];
    let page = await dueOn(bed.s.store, AS_OF, { limit: 1 });
    paged.push(...page.entries);
    while (page.next) {
      page = await dueOn(bed.s.store, AS_OF, { limit: 1, from: page.next });
      paged.push(...page.entries);
    }
    expect(paged).toEqual(whole.entries);
  }, 120_000);
});
