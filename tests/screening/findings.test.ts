/** Findings across studies (src/screening/findings.ts): every affected joint and side, each at its latest read. */
import { describe, expect, it } from 'vitest';
import { findingsAcrossStudies } from '../../src/screening/findings.ts';
import type { Finding } from '../../src/screening/imaging.ts';

const read = (date: string, joint: string, side: 'left' | 'right', f: Partial<Finding> = {}): Finding => ({
  date,
  joint,
  side,
  present: true,
  extent: [],
  collapse: false,
  highCollapseRisk: false,
  reference: `Observation/${date}-${joint}-${side}`,
  ...f,
});

describe('findings across studies', () => {
  it('a follow-up read that lists only a new site keeps the known hip lesion > 2/3, with its latest read', () => {
    const f = findingsAcrossStudies(
      [
        read('2026-01-10', 'hip', 'left', { extent: ['over 2/3 of the weight-bearing area'], highCollapseRisk: true }),
        read('2026-04-10', 'knee', 'right'),
      ],
      '2026-06-01',
    );
    expect(f?.affected.map((x) => [x.joint, x.side, x.date])).toEqual([
      ['hip', 'left', '2026-01-10'],
      ['knee', 'right', '2026-04-10'],
    ]);
    expect(f?.highRisk.map((x) => x.joint)).toEqual(['hip']);
    expect(f?.latestRead).toBe('2026-04-10');
  });

  it('a later read of a site as absent is the latest word on it', () => {
    expect(
      findingsAcrossStudies(
        [read('2026-01-10', 'hip', 'left'), read('2026-04-10', 'hip', 'left', { present: false })],
        '2026-06-01',
      ),
    ).toBeNull();
  });

  it('collapse is named as collapse, not as collapse risk; sites are ordered most severe first', () => {
    const f = findingsAcrossStudies(
      [
        read('2026-01-10', 'ankle', 'left'),
        read('2026-01-10', 'knee', 'left', { collapse: true, highCollapseRisk: true }),
        read('2026-01-10', 'knee', 'right', { extent: ['over 50% of the articular surface'], highCollapseRisk: true }),
      ],
      '2026-06-01',
    );
    expect(f?.collapsed.map((x) => `${x.joint} ${x.side}`)).toEqual(['knee left']);
    expect(f?.highRisk.map((x) => `${x.joint} ${x.side}`)).toEqual(['knee right']);
    expect(f?.affected.map((x) => `${x.joint} ${x.side}`)).toEqual(['knee left', 'knee right', 'ankle left']);
  });

  it('reads after the as-of day are not yet known', () => {
    expect(findingsAcrossStudies([read('2026-07-01', 'hip', 'left')], '2026-06-01')).toBeNull();
  });
});
