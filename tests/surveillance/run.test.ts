/**
 * A surveillance run end to end over HTTP (crawl mode) on each store engine: every cohort patient evaluated
 * once, the worklist and its Tasks, a second run that duplicates nothing, and an entry resolved (its Task
 * completed) once the WB-MRI is done.
 */
import type { Bundle, ImagingStudy, ServiceRequest, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { inCohort } from '../../src/screening/assess.ts';
import { verifyRun, worklistDigest } from '../../src/surveillance/runAudit.ts';
import { WORKLIST_ENTRY_IDENTIFIER } from '../../src/terminology/systems.ts';
import type { RunningServer } from '../helpers/server.ts';
import { AS_OF, cohort, engines, finished, surveillanceFor, useTestBed } from './harness.ts';

const resources = cohort(40);
const cohortIds = (() => {
  const byPatient = new Map<string, typeof resources>();
  for (const r of resources) {
    const ref = (r as { subject?: { reference?: string } }).subject?.reference;
    if (r.resourceType === 'Condition' && ref) byPatient.set(ref, [...(byPatient.get(ref) ?? []), r]);
  }
  return [...byPatient]
    .filter(([, conditions]) => inCohort({ conditions }))
    .map(([ref]) => ref.slice(8))
    .sort();
})();

async function tasks(server: RunningServer): Promise<Task[]> {
  const b = (await (await fetch(`${server.fhirUrl}/Task?_count=1000`)).json()) as Bundle<Task>;
  return (b.entry ?? []).map((e) => e.resource!);
}

for (const engine of engines()) {
  describe(`surveillance run (crawl, ${engine.name})`, () => {
    const metrics = createMetrics({ defaults: false });
    const bed = useTestBed(() => ({ resources, engine, extra: { metrics: metrics.surveillance } }));

    it('a restart (or a second instance) starts on the store the first one set up', async () => {
      const again = surveillanceFor(bed.server, bed.db);
      await again.start();
      await again.stop();
    }, 60_000);

    let first: string;
    it('evaluates every cohort patient once and publishes one Task per actionable entry', async () => {
      first = await bed.s.startRun('api');
      const run = await finished(bed.s, first);
      expect(run.status).toBe('succeeded');
      expect(cohortIds.length).toBeGreaterThan(10);
      expect(run.total).toBe(cohortIds.length);
      expect(run.counts.inCohort).toBe(cohortIds.length);
      expect(run.counts.errors).toBe(0);
      expect(run.done).toBe(cohortIds.length);
      expect(run.transactionTime).toBeTruthy();
      expect(run.asOf).toBe(AS_OF);
      const page = await bed.s.store.worklist({ runId: first, limit: 1000 });
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items.every((e) => e.change === 'new')).toBe(true);
      expect(
        run.counts.screeningDue! +
          run.counts.followUpDue! +
          run.counts.followUpOverdue! +
          run.counts.findings! +
          run.counts.unknownExposure!,
      ).toBe(page.items.length);
      const published = await tasks(bed.server);
      const keys = published.map((t) => t.identifier?.find((i) => i.system === WORKLIST_ENTRY_IDENTIFIER)?.value);
      expect(new Set(keys).size).toBe(keys.length);
      expect(published.length).toBe(page.items.length - 0);
      for (const e of page.items) {
        const t = published.find((x) => `Task/${x.id}` === e.taskRef)!;
        expect(t.status).toBe('ready');
        expect(t.intent).toBe('order');
        expect(t.for?.reference).toBe(`Patient/${e.patientId}`);
        expect(t.restriction?.period?.start).toBe(e.dueDate);
        if (e.rule !== 'findings') expect(t.basedOn?.[0]?.reference).toMatch(/^ServiceRequest\//);
      }
      // The audit trail holds the run with its counts and its worklist's digest; the worklist's rows are
      // append-only, so the digest recomputed later is the same, and an attempt to alter one is refused.
      const rows = await bed.db.store.db.query<{
        summary: { counts: unknown; worklist: { entries: number; sha256: string } };
        payload: { summary: { counts: unknown; worklist: { entries: number; sha256: string } } };
      }>(`select s.summary, l.payload from surveillance_run s join audit_log l on l.seq = s.seq where s.run_id = $1`, [
        first,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.payload.summary.worklist.entries).toBe(page.items.length);
      expect(rows[0]!.payload.summary.worklist.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(rows[0]!.summary).toEqual(rows[0]!.payload.summary);
      // Paged in twos: every page reaches the digest, and it is the one recorded.
      expect(await worklistDigest(bed.s.store.db, first, 2)).toEqual(rows[0]!.payload.summary.worklist);
      expect((await verifyRun(bed.s.store, first)).ok).toBe(true);
      await expect(
        bed.db.store.db.query(`update worklist_entries set due_date = null where run_id = $1`, [first]),
      ).rejects.toThrow(/append-only/);
      await expect(bed.db.store.db.query(`delete from worklist_entries where run_id = $1`, [first])).rejects.toThrow(
        /append-only/,
      );
      await expect(bed.db.store.db.exec('truncate worklist_entries')).rejects.toThrow(/append-only/);
      expect((await verifyRun(bed.s.store, first)).ok).toBe(true);
      // /metrics counts what this instance did: every patient once, one run.
      const text = await metrics.registry.metrics();
      expect(text).toContain(`osteowatch_surveillance_patients_evaluated_total ${cohortIds.length}`);
      expect(text).toContain('osteowatch_surveillance_runs_total{status="succeeded"} 1');
    }, 180_000);

    it('a second run duplicates no Task and marks entries still due', async () => {
      const before = await tasks(bed.server);
      const second = await bed.s.startRun('api');
      const run = await finished(bed.s, second);
      expect(run.status).toBe('succeeded');
      expect(await tasks(bed.server)).toHaveLength(before.length);
      const page = await bed.s.store.worklist({ runId: second, limit: 1000 });
      expect(page.items.every((e) => e.change === 'still-due')).toBe(true);
    }, 180_000);

    it('resolves an entry once its WB-MRI is done, and completes its Task', async () => {
      const latest = await bed.s.store.worklist({ limit: 1000, rules: ['screening-due'] });
      // The last patient in id order: reached only if the finishing step pages through the whole worklist.
      const due = latest.items.toSorted((a, b) => (a.patientId < b.patientId ? 1 : -1))[0];
      expect(due).toBeDefined();
      await bed.server.repo.createResource<ImagingStudy>({
        resourceType: 'ImagingStudy',
        status: 'available',
        subject: { reference: `Patient/${due!.patientId}` },
        started: `${AS_OF}T09:00:00Z`,
        modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MR' }],
        procedureCode: [{ coding: [{ system: 'http://loinc.org', code: '46358-8' }], text: 'MR Whole body' }],
      });
      // The last run's worklist compared a page of two patients at a time: every page is reached.
      const last = (await bed.s.store.worklist({ limit: 1000 })).items;
      expect(last.length).toBeGreaterThan(4);
      bed.s.runner.d.resolvePageSize = 2;
      const third = await bed.s.startRun('api');
      expect((await finished(bed.s, third)).status).toBe('succeeded');
      const resolved = await bed.s.store.worklist({ runId: third, limit: 1000, changes: ['resolved'] });
      expect(resolved.items.map((e) => `${e.patientId}:${e.rule}`)).toContain(`${due!.patientId}:screening-due`);
      // Nothing else went away, and every entry of the last run is accounted for in this one.
      expect(resolved.items.every((e) => e.patientId === due!.patientId)).toBe(true);
      const entries = (await bed.s.store.worklist({ runId: third, limit: 1000 })).items;
      const key = (e: { patientId: string; rule: string }) => `${e.patientId}:${e.rule}`;
      const now = new Set(entries.map(key));
      for (const e of last) expect(now.has(key(e))).toBe(true);
      const task = (await tasks(bed.server)).find((t) => `Task/${t.id}` === due!.taskRef)!;
      expect(task.status).toBe('completed');
      // And the draft WB-MRI order it suggested is revoked: nobody should sign it now.
      const order = await bed.server.repo.readReference<ServiceRequest>(task.basedOn![0]! as { reference: string });
      expect(order.status).toBe('revoked');

      // Someone with the rights to switch the guard off and alter a run's worklist is found out all the same.
      await bed.db.store.db.exec(
        `alter table worklist_entries disable trigger worklist_entries_append_only;
         update worklist_entries set due_date = '2000-01-01' where run_id = '${first}' and rule = 'screening-due';
         alter table worklist_entries enable trigger worklist_entries_append_only;`,
      );
      const check = await verifyRun(bed.s.store, first);
      expect(check.ok).toBe(false);
      expect(check.now.entries).toBe(check.audited!.entries);
      expect(check.now.sha256).not.toBe(check.audited!.sha256);
    }, 180_000);
  });
}
