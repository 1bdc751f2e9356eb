/**
 * A cohort patient whose steroid exposure cannot be computed (a prednisolone statement with no dose) is on the
 * worklist for review, and its review is a FHIR Task like any other entry: one Task per patient across runs (no
 * due date: nothing says since when), completed once the record can be quantified, and the same Task opened again
 * if it cannot again — on the same day too, and after a run that failed having published it. Over HTTP against
 * the demo FHIR server, on each store engine.
 */
import type { Bundle, MedicationStatement, Resource, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { WORKLIST_ENTRY_IDENTIFIER, WORKLIST_RULE_SYSTEM } from '../../src/terminology/systems.ts';
import { daily, myositisPatient } from '../helpers/patients.ts';
import { AS_OF, engines, finished, runFailingAfterTask, useTestBed, WALL_CLOCK } from './harness.ts';

const PATIENT = 'review-1';
/** Prednisolone 10 mg a day for 30 days, 300 mg, far below the threshold (nothing due). */
const dosed = daily(PATIENT, 1, 10, '2026-01-05', '2026-02-03') as MedicationStatement;
/** The same statement with no dose, still taken: nothing the engine can count, so the screening status is unknown. */
const { dosage: _, ...undosed } = dosed;
const noDose: MedicationStatement = { ...undosed, status: 'active', effectivePeriod: { start: '2026-01-05' } };
const resources: Resource[] = [...myositisPatient(PATIENT), noDose];

for (const engine of engines()) {
  describe(`the review of an unknown exposure as a Task (${engine.name})`, () => {
    const bed = useTestBed(() => ({ resources, engine, extra: WALL_CLOCK }));

    const tasks = async () =>
      ((await (await fetch(`${bed.server.fhirUrl}/Task?_count=100`)).json()) as Bundle<Task>).entry?.map(
        (e) => e.resource!,
      ) ?? [];
    const run = async (asOf: string) => {
      const runId = await bed.s.startRun('api', asOf);
      const ended = await finished(bed.s, runId);
      expect(ended.status).toBe('succeeded');
      return { run: ended, entries: (await bed.s.store.worklist({ runId, limit: 100 })).items };
    };
    const setStatement = (s: MedicationStatement) =>
      bed.server.repo.updateResource<MedicationStatement>({ ...s, id: noDose.id });

    it('is one Task while the exposure stays unknown, completed once known, and opened again when unknown again', async () => {
      const first = await run(AS_OF);
      expect(first.run.counts.unknownExposure).toBe(1);
      expect(first.entries).toHaveLength(1);
      const entry = first.entries[0]!;
      expect(entry).toMatchObject({ patientId: PATIENT, rule: 'exposure-unknown', dueDate: null, change: 'new' });
      expect(entry.taskError).toBeNull();
      let held = await tasks();
      expect(held).toHaveLength(1);
      const task = held[0]!;
      expect(`Task/${task.id}`).toBe(entry.taskRef);
      expect(task).toMatchObject({ status: 'ready', intent: 'order', priority: 'routine' });
      expect(task.businessStatus?.text).toBe('due');
      expect(task.for?.reference).toBe(`Patient/${PATIENT}`);
      expect(task.code?.coding).toEqual([
        {
          system: WORKLIST_RULE_SYSTEM,
          code: 'exposure-review',
          display: 'Glucocorticoid exposure unknown: medication records to review',
        },
      ]);
      expect(task.identifier).toEqual([
        { system: WORKLIST_ENTRY_IDENTIFIER, value: `${PATIENT}:exposure-review:none` },
      ]);
      // Open from the run that found it.
      expect(task.restriction?.period).toEqual({ start: AS_OF });
      // A review suggests no WB-MRI order.
      expect(task.basedOn).toBeUndefined();

      // The next day: the same review, still due, the same Task.
      const second = await run('2026-07-01');
      expect(second.entries).toHaveLength(1);
      expect(second.entries[0]).toMatchObject({ rule: 'exposure-unknown', dueDate: null, change: 'still-due' });
      expect(second.entries[0]!.taskRef).toBe(entry.taskRef);
      expect(await tasks()).toHaveLength(1);

      // The dose recorded: the exposure is known (300 mg, nothing due), the review resolved and its Task completed.
      await setStatement(dosed);
      const third = await run('2026-07-02');
      expect(third.run.counts.unknownExposure).toBe(0);
      expect(third.entries).toHaveLength(1);
      expect(third.entries[0]).toMatchObject({ rule: 'exposure-unknown', change: 'resolved' });
      expect(third.entries[0]!.taskError).toBeNull();
      held = await tasks();
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ status: 'completed', businessStatus: { text: 'resolved' } });

      // The dose taken out again, the same day: a new entry, and the Task it names open again (not a completed
      // Task behind an entry that asks for work), from this run.
      await setStatement(noDose);
      const fourth = await run('2026-07-02');
      expect(fourth.entries).toHaveLength(1);
      expect(fourth.entries[0]).toMatchObject({ rule: 'exposure-unknown', change: 'new' });
      expect(fourth.entries[0]!.taskRef).toBe(entry.taskRef);
      held = await tasks();
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ status: 'ready', businessStatus: { text: 'due' } });
      expect(held[0]!.statusReason).toBeUndefined();
      expect(held[0]!.restriction?.period).toEqual({ start: '2026-07-02' });
    }, 240_000);

    it('a run that failed after publishing the review leaves no second Task: the next run takes the same one', async () => {
      await setStatement(dosed);
      expect((await run('2026-07-03')).entries[0]).toMatchObject({ rule: 'exposure-unknown', change: 'resolved' });
      expect((await tasks()).map((t) => t.status)).toEqual(['completed']);
      await setStatement(noDose);
      // This run's Task written, then the run failed (an instance gone, an operator's word): none of its entries kept.
      const failing = await runFailingAfterTask(bed.s, '2026-07-04', () => true);
      expect((await bed.s.store.worklist({ runId: failing, limit: 100 })).items).toEqual([]);
      const next = await run('2026-07-05');
      expect(next.entries).toHaveLength(1);
      expect(next.entries[0]).toMatchObject({ rule: 'exposure-unknown', change: 'new' });
      const held = await tasks();
      expect(held).toHaveLength(1);
      expect(`Task/${held[0]!.id}`).toBe(next.entries[0]!.taskRef);
      expect(held[0]!.status).toBe('ready');
    }, 240_000);
  });
}
