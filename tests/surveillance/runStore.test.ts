/**
 * How a run ends at an operator's word (RunStore.cancel, fail): not while it is finishing (that step completes
 * Tasks and writes the audit record, and ends by itself); and a failed run's counts are taken after its status
 * has changed, so they include every batch that was stored.
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

    it('a finishing run is not cancelled (409 naming why); it ends by itself', async () => {
      await create('r-finishing');
      await runs.update('r-finishing', { status: 'finishing' });
      await expect(runs.cancel('r-finishing', 'ops', now)).rejects.toMatchObject({
        kind: 'conflict',
        message: 'run r-finishing is finishing (resolving entries, writing its audit record): it ends by itself',
      });
      expect(await runs.statusOf('r-finishing')).toBe('finishing');
      await runs.update('r-finishing', { status: 'succeeded' });
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
