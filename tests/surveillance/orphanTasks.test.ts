/**
 * A run that fails after publishing Tasks keeps none of its worklist; the Tasks stay in the EHR. The next run that
 * succeeds completes those whose reason has gone by then (here: the WB-MRI was done) and lists them as resolved,
 * and keeps those still due as its own entries' Tasks (the same identifier, no second Task). Over HTTP against
 * the demo FHIR server, on each store engine.
 */
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, ImagingStudy, Resource, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { daily, myositisPatient, wbMri } from '../helpers/patients.ts';
import { AS_OF, engines, finished, runFailingAfterTask, useTestBed, WALL_CLOCK } from './harness.ts';

/** A myositis patient on 60 mg prednisolone a day for 100 days (6,000 mg): the baseline WB-MRI is due. */
const highDose = (id: string): Resource[] => [...myositisPatient(id), daily(id, 1, 60, '2026-01-05', '2026-04-14')];

const SCANNED = 'orphan-scanned';
const STILL_DUE = 'orphan-still-due';

for (const engine of engines()) {
  describe(`Tasks of a failed run (${engine.name})`, () => {
    const bed = useTestBed(() => ({
      resources: [...highDose(SCANNED), ...highDose(STILL_DUE)],
      engine,
      extra: WALL_CLOCK,
    }));
    const tasks = async () =>
      ((await (await fetch(`${bed.server.fhirUrl}/Task?_count=100`)).json()) as Bundle<Task>).entry?.map(
        (e) => e.resource!,
      ) ?? [];
    const taskFor = async (patientId: string) => {
      const all = (await tasks()).filter((t) => t.for?.reference === `Patient/${patientId}`);
      expect(all).toHaveLength(1);
      return all[0]!;
    };

    it('the next succeeded run completes those whose reason has gone and takes over those still due', async () => {
      // The first run publishes both patients' Tasks, then fails (an operator's word, an instance gone).
      const failing = await runFailingAfterTask(bed.s, AS_OF, (_, written) => written === 2);
      expect((await bed.s.store.worklist({ runId: failing, limit: 100 })).items).toEqual([]);
      const orphan = await taskFor(SCANNED);
      const kept = await taskFor(STILL_DUE);
      expect([orphan.status, kept.status]).toEqual(['ready', 'ready']);

      // One of them has the WB-MRI meanwhile.
      await bed.server.repo.createResource(wbMri(SCANNED, 1, '2026-07-01')[0]!);
      const next = await bed.s.startRun('api', '2026-07-02');
      expect((await finished(bed.s, next)).status).toBe('succeeded');
      const entries = (await bed.s.store.worklist({ runId: next, limit: 100 })).items;

      // Its Task completed, and the run says so: resolved by that WB-MRI.
      const resolved = entries.filter((e) => e.patientId === SCANNED);
      expect(resolved).toHaveLength(1);
      expect(resolved[0]).toMatchObject({ rule: 'screening-due', change: 'resolved', lastStudy: '2026-07-01' });
      expect(resolved[0]!.summary).toMatch(/^Resolved by the WB-MRI of 2026-07-01\./);
      expect(resolved[0]!.taskError).toBeNull();
      expect(resolved[0]!.taskRef).toBe(`Task/${orphan.id}`);
      expect((await taskFor(SCANNED)).status).toBe('completed');

      // The other is this run's new entry, with the Task the failed run wrote.
      const due = entries.filter((e) => e.patientId === STILL_DUE);
      expect(due).toHaveLength(1);
      expect(due[0]).toMatchObject({ rule: 'screening-due', change: 'new', taskRef: `Task/${kept.id}` });
      expect((await taskFor(STILL_DUE)).status).toBe('ready');

      // A run after it does not go back to the failed run's Tasks: nothing more resolved.
      const third = await bed.s.startRun('api', '2026-07-03');
      expect((await finished(bed.s, third)).status).toBe('succeeded');
      const again = (await bed.s.store.worklist({ runId: third, limit: 100 })).items;
      expect(again.map((e) => `${e.patientId}:${e.change}`)).toEqual([`${STILL_DUE}:still-due`]);
      // What was recorded for the failed run is forgotten once settled.
      expect(await bed.s.store.db.query('select * from surveillance_published_tasks')).toEqual([]);
    }, 240_000);

    it('a patient whose records could not be read by the next run keeps the entry, settled by a later run', async () => {
      // Back to due: the WB-MRI entered in error (deleted), so both are due again; a run publishes, then fails.
      const studies = await bed.server.repo.searchResources<ImagingStudy>(
        parseSearchRequest(`ImagingStudy?subject=Patient/${SCANNED}`),
      );
      expect(studies).toHaveLength(1);
      for (const st of studies) await bed.server.repo.deleteResource('ImagingStudy', st.id!);
      await runFailingAfterTask(bed.s, '2026-07-04', (item) => item.patientId === SCANNED);
      const orphan = await taskFor(SCANNED);
      // Opened again by the failed run (it had been resolved by this service).
      expect(orphan.status).toBe('ready');

      // The next run cannot read that patient's records: the entry stays, still due, with its Task open.
      const source = bed.s.runner.d.source;
      const records = source.records.bind(source);
      source.records = async (ids, r, batchNo) => {
        const found = await records(ids, r, batchNo);
        if (found.has(SCANNED)) found.set(SCANNED, new Error('the records did not come in time'));
        return found;
      };
      let second: string;
      try {
        second = await bed.s.startRun('api', '2026-07-05');
        expect((await finished(bed.s, second)).status).toBe('succeeded');
      } finally {
        source.records = records;
      }
      const kept = (await bed.s.store.worklist({ runId: second, limit: 100 })).items.filter(
        (e) => e.patientId === SCANNED,
      );
      expect(kept.map((e) => [e.rule, e.change])).toEqual([['screening-due', 'still-due']]);
      expect((await taskFor(SCANNED)).status).toBe('ready');

      // The WB-MRI done, a later run reads everyone: resolved, the Task completed.
      await bed.server.repo.createResource(wbMri(SCANNED, 2, '2026-07-05')[0]!);
      const third = await bed.s.startRun('api', '2026-07-06');
      expect((await finished(bed.s, third)).status).toBe('succeeded');
      const resolved = (await bed.s.store.worklist({ runId: third, limit: 100 })).items.filter(
        (e) => e.patientId === SCANNED,
      );
      expect(resolved.map((e) => [e.rule, e.change])).toEqual([['screening-due', 'resolved']]);
      expect((await taskFor(SCANNED)).status).toBe('completed');
    }, 240_000);
  });
}
