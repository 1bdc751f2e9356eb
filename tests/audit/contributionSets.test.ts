import { describe, expect, it } from 'vitest';
import { contributionRef, inflateExposure, splitExposure } from '../../src/audit/contributionSets.ts';
import type { ExposureSnapshot } from '../../src/audit/records.ts';

const snapshot: ExposureSnapshot = {
  asOf: '2026-01-01',
  cumulativeMg: 620,
  cumulativeIsLowerBound: false,
  currentDailyMg: 20,
  threshold: { mg: 3000, crossedOn: null, projectedOn: '2026-05-01' },
  contributions: [{ source: 'MedicationStatement/a', ingredient: 'prednisolone', mg: 620 }],
  issues: [],
};

describe('content-addressed contribution lists', () => {
  it('splits a snapshot into the stored summary and a body addressed by its SHA-256, and back', () => {
    const { stored, ref, body } = splitExposure(snapshot);
    expect(ref).toBe(contributionRef(body));
    expect(ref).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stored).toEqual({ ...snapshot, contributions: undefined, contributionsRef: ref, contributionCount: 1 });
    expect(inflateExposure(stored, new Map([[ref, body]]))).toEqual(snapshot);
  });

  it('reads records written before lists were shared (contributions inline) as they are', () => {
    expect(inflateExposure(snapshot, new Map())).toBe(snapshot);
    expect(inflateExposure(undefined, new Map())).toBeNull();
  });

  it('a list that cannot be found reads as empty (verification reports it)', () => {
    const { stored } = splitExposure(snapshot);
    expect(inflateExposure(stored, new Map())!.contributions).toEqual([]);
  });
});
