/**
 * How a run ends at an operator's word (RunStore.cancel, fail): in any active state, finishing too, after which
 * nothing more is written to it; and a failed run's counts are taken after its status has changed, so they
 * include every batch that was stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../src/surveillance/runStore.ts';
import { type StoreTarget, storeTargets } from '../helpers/store.ts';

const now = new Date('2026-06-30T08:00:00Z');
for (const target of storeTargets()) {
  describe(`ending a run (${target.name})`, () => {
    let store: Awaited<ReturnType<StoreTarget['open']>>;
    let runs: RunStore;
    beforeAll(async () => {
      store = await target.open();
      runs = new RunStore(store.db);
    });
    afterAll(() => store?.dispose());
    const create = (runId: string) =>
      runs.createRun({
        runId,
        trigger: 'api',
        mode: 'crawl',
        fhirBase: 'http://ehr.example/fhir',
        asOf: '2026-06-30',
        rulesHash: 'h',
        now,
      });

    it('a finishing run may be cancelled (a hung Task server, an instance gone): nothing more is written to it', async () => {
      await create('r-finishing');
      await runs.update('r-finishing', { status: 'finishing' });
      expect(await runs.cancel('r-finishing', 'ops', now)).toBe(true);
      expect(await runs.statusOf('r-finishing')).toBe('failed');
      const entry = {
        runId: 'r-finishing',
        patientId: 'p1',
        rule: 'screening-due' as const,
        change: 'resolved' as const,
        dueDate: '2026-01-01',
        overdueFrom: null,
        daysOverdue: null,
        cumulativeMg: 3650,
        lowerBound: false,
        lastStudy: null,
        summary: 'x',
        taskRef: null,
        taskError: null,
      };
      // The finishing step's writes after the cancel: refused under the run's row lock.
      expect(await runs.insertEntriesWhile('r-finishing', 'finishing', [entry])).toBe(false);
      expect(await runs.worklistOf('r-finishing')).toEqual([]);
    });

    it('two resolved entries of a rule that differ by due date are both kept; the same entry twice is kept once', async () => {
      await create('r-two-resolved');
      await runs.update('r-two-resolved', { status: 'finishing' });
      const entry = (dueDate: string, taskError: string | null) => ({
        runId: 'r-two-resolved',
        patientId: 'p1',
        rule: 'follow-up-due' as const,
        change: 'resolved' as const,
        dueDate,
        overdueFrom: null,
        daysOverdue: null,
        cumulativeMg: 3650,
        lowerBound: false,
        lastStudy: null,
        summary: `follow-up due ${dueDate}`,
        taskRef: null,
        taskError,
      });
      // A follow-up resolved earlier whose Task is still open (carried), and the next one resolved now.
      const carried = entry('2026-01-01', 'the Task could not be completed: HTTP 503');
      const resolved = entry('2026-05-01', null);
      expect(await runs.insertEntriesWhile('r-two-resolved', 'finishing', [resolved])).toBe(true);
      expect(await runs.insertEntriesWhile('r-two-resolved', 'finishing', [carried, resolved])).toBe(true);
      const stored = await runs.worklistOf('r-two-resolved');
      expect(stored.map((e) => [e.dueDate, e.taskError]).sort()).toEqual([
        ['2026-01-01', 'the Task could not be completed: HTTP 503'],
        ['2026-05-01', null],
      ]);
      // Ended, so that the next test may start its own (runs go one at a time).
      await runs.cancel('r-two-resolved', 'test', now);
    });

    it('a cancelled run keeps the counts of the batches it stored; a batch arriving after stores nothing', async () => {
      await create('r-cancel');
      await runs.update('r-cancel', { status: 'evaluating', total: 2, batches: 2 });
      await runs.saveBatches('r-cancel', [['p1'], ['p2']]);
      await runs.completeBatch(
        'r-cancel',
        0,
        [{ patientId: 'p1', decision: 'screening-due', cumulativeMg: 3650, lowerBound: false }],
        [],
        now,
      );
      expect(await runs.cancel('r-cancel', 'ops', now)).toBe(true);
      await runs.completeBatch(
        'r-cancel',
        1,
        [{ patientId: 'p2', decision: 'screening-due', cumulativeMg: 4000, lowerBound: false }],
        [],
        now,
      );
      const run = (await runs.getRun('r-cancel'))!;
      expect(run).toMatchObject({ status: 'failed', error: 'cancelled by ops', done: 1 });
      expect(run.counts).toMatchObject({ inCohort: 1 });
      expect(await runs.cancel('r-cancel', 'ops', now)).toBe(false);
    });
  });
}
