/**
 * Instances share a run's work only when they share its settings (how the cohort is read, the rules): an
 * instance with other rules on the same store — a rolling upgrade, a CLI run with its own environment — neither
 * takes the run's batches (which would mix two rule sets in one run, or read a bulk staging that a crawl never
 * made) nor re-queues the run at its start. The run's own instance does it all.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCREENING_CONFIG } from '../../src/screening/rules.ts';
import { cohort, finished, surveillanceFor, useTestBed } from './harness.ts';

describe('instances with other settings', () => {
  const bed = useTestBed(() => ({ resources: cohort(30), config: { batchSize: 3, taskFhirUrl: 'none' } }));

  it('leave a run to the instances that share its settings', async () => {
    const other = surveillanceFor(
      bed.server,
      bed.db,
      { batchSize: 3, taskFhirUrl: 'none' },
      {
        screening: {
          ...DEFAULT_SCREENING_CONFIG,
          rescreenIncrementMg: DEFAULT_SCREENING_CONFIG.rescreenIncrementMg + 1,
        },
      },
    );
    let taken = 0;
    const batch = other.runner.batch.bind(other.runner);
    other.runner.batch = (...args) => {
      taken++;
      return batch(...args);
    };
    const load = other.runner.load.bind(other.runner);
    other.runner.load = (...args) => {
      taken++;
      return load(...args);
    };
    await other.start();
    try {
      expect(other.runner.settings).not.toBe(bed.s.runner.settings);
      const runId = await bed.s.startRun('api');
      // At its start, an instance re-queues unfinished runs: not this one.
      expect(await other.jobs.resumeUnfinished()).toEqual([]);
      const run = await finished(bed.s, runId);
      expect(run.status).toBe('succeeded');
      expect(run.batches).toBeGreaterThan(2);
      expect(taken).toBe(0);

      // A run made under the other settings whose jobs nobody holds (its instance gone for good) would refuse
      // every later run as the one in progress: the next instance to start ends it, with the reason.
      const { runId: orphan } = await other.runner.create({ trigger: 'api', asOf: run.asOf });
      expect(await bed.s.jobs.resumeUnfinished()).toEqual([]);
      const ended = (await bed.s.store.getRun(orphan))!;
      expect(ended.status).toBe('failed');
      expect(ended.error).toMatch(/^abandoned: made under other settings .* no instance holds its jobs$/);
      expect((await bed.s.store.getRun(await bed.s.startRun('api')))?.status).not.toBe('failed');
    } finally {
      await other.stop();
    }
  }, 180_000);
});
