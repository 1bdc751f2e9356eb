/**
 * A cohort patient whose steroid exposure cannot be computed (a prednisone statement with no dose) is on the
 * worklist for review, and its review is a FHIR Task like any other entry: one Task across runs (its due date the
 * day a run first found it), completed once the record can be quantified, and a new one if it cannot again.
 * Over HTTP against the demo FHIR server, on each store engine.
 */
import type { Bundle, Condition, MedicationStatement, Patient, Resource, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { WORKLIST_ENTRY_IDENTIFIER, WORKLIST_RULE_SYSTEM } from '../../src/terminology/systems.ts';
import { AS_OF, engines, finished, useTestBed, WALL_CLOCK } from './harness.ts';

const PATIENT = 'review-1';
const patient: Patient = { resourceType: 'Patient', id: PATIENT, name: [{ family: 'Review', given: ['Ada'] }] };
const myositis: Condition = {
  resourceType: 'Condition',
  id: `${PATIENT}-cond`,
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
  verificationStatus: {
    coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
  },
  code: {
    coding: [{ system: 'http://snomed.info/sct', code: '715863001' }],
    text: 'Immune-mediated necrotizing myopathy',
  },
  subject: { reference: `Patient/${PATIENT}` },
  onsetDateTime: '2026-01-05',
};
/** Prednisone with no dose: nothing the engine can count, so the screening status cannot be decided. */
const noDose: MedicationStatement = {
  resourceType: 'MedicationStatement',
  id: `${PATIENT}-ms`,
  status: 'active',
  medicationCodeableConcept: {
    coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8640', display: 'prednisone' }],
  },
  subject: { reference: `Patient/${PATIENT}` },
  effectivePeriod: { start: '2026-01-05' },
};
/** The same statement completed: 10 mg a day for 30 days, 300 mg, far below the threshold (nothing due). */
const dosed: MedicationStatement = {
  ...noDose,
  effectivePeriod: { start: '2026-01-05', end: '2026-02-03' },
  dosage: [
    {
      timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
      doseAndRate: [{ doseQuantity: { value: 10, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }],
    },
  ],
};
const resources: Resource[] = [patient, myositis, noDose];

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

    it('is one Task while the exposure stays unknown, completed once known, and a new one when unknown again', async () => {
      const first = await run(AS_OF);
      expect(first.run.counts.unknownExposure).toBe(1);
      expect(first.entries).toHaveLength(1);
      const entry = first.entries[0]!;
      expect(entry).toMatchObject({ patientId: PATIENT, rule: 'exposure-unknown', dueDate: AS_OF, change: 'new' });
      expect(entry.taskError).toBeNull();
      let held = await tasks();
      expect(held).toHaveLength(1);
      const task = held[0]!;
      expect(`Task/${task.id}`).toBe(entry.taskRef);
      expect(task).toMatchObject({ status: 'ready', intent: 'order', priority: 'routine' });
      expect(task.for?.reference).toBe(`Patient/${PATIENT}`);
      expect(task.code?.coding).toEqual([
        {
          system: WORKLIST_RULE_SYSTEM,
          code: 'exposure-review',
          display: 'Glucocorticoid exposure unknown: medication records to review',
        },
      ]);
      expect(task.identifier).toEqual([
        { system: WORKLIST_ENTRY_IDENTIFIER, value: `${PATIENT}:exposure-review:${AS_OF}` },
      ]);
      expect(task.restriction?.period).toEqual({ start: AS_OF });
      // A review suggests no WB-MRI order.
      expect(task.basedOn).toBeUndefined();

      // The next day: the same review, still due from the first day, the same Task.
      const second = await run('2026-07-01');
      expect(second.entries).toHaveLength(1);
      expect(second.entries[0]).toMatchObject({ rule: 'exposure-unknown', dueDate: AS_OF, change: 'still-due' });
      expect(second.entries[0]!.taskRef).toBe(entry.taskRef);
      expect(await tasks()).toHaveLength(1);

      // The dose recorded: the exposure is known (300 mg, nothing due), the review resolved and its Task completed.
      await setStatement(dosed);
      const third = await run('2026-07-02');
      expect(third.run.counts.unknownExposure).toBe(0);
      expect(third.entries).toHaveLength(1);
      expect(third.entries[0]).toMatchObject({ rule: 'exposure-unknown', dueDate: AS_OF, change: 'resolved' });
      expect(third.entries[0]!.taskError).toBeNull();
      held = await tasks();
      expect(held).toHaveLength(1);
      expect(held[0]!.status).toBe('completed');

      // The dose removed again: a new review from that day, with a Task of its own (the completed one stays so).
      await setStatement(noDose);
      const fourth = await run('2026-07-03');
      expect(fourth.entries).toHaveLength(1);
      expect(fourth.entries[0]).toMatchObject({ rule: 'exposure-unknown', dueDate: '2026-07-03', change: 'new' });
      held = await tasks();
      expect(held).toHaveLength(2);
      const again = held.find((t) => `Task/${t.id}` === fourth.entries[0]!.taskRef)!;
      expect(again.status).toBe('ready');
      expect(again.identifier?.[0]?.value).toBe(`${PATIENT}:exposure-review:2026-07-03`);
      expect(held.find((t) => t.id === task.id)!.status).toBe('completed');
    }, 240_000);
  });
}
