/**
 * How a dose is written for a person (exposure/format.ts), on the cards, the timeline, the dashboard and the CLI:
 * to the hundredth of a milligram, "unknown" never 0, and a lower bound never rounded up past what is known.
 */
import { describe, expect, it } from 'vitest';
import { mg, totalMg } from '../../src/exposure/format.ts';

describe('dose text', () => {
  it('to the hundredth, with thousands separators; unknown is never 0 mg', () => {
    expect(mg(6020)).toBe('6,020 mg');
    expect(mg(7.5)).toBe('7.5 mg');
    expect(mg(2999.996)).toBe('3,000 mg');
    expect(mg(null)).toBe('unknown');
    expect(totalMg({ cumulativeMg: null, cumulativeIsLowerBound: true })).toBe('unknown');
  });

  it('a lower bound is floored to the hundredth: "at least" never claims more than was counted', () => {
    expect(totalMg({ cumulativeMg: 2999.996, cumulativeIsLowerBound: true })).toBe('at least 2,999.99 mg');
    expect(totalMg({ cumulativeMg: 2999.5, cumulativeIsLowerBound: true })).toBe('at least 2,999.5 mg');
    expect(totalMg({ cumulativeMg: 3000, cumulativeIsLowerBound: true })).toBe('at least 3,000 mg');
    // 0.29 is 28.999999999999996 hundredths in binary: still 0.29.
    expect(totalMg({ cumulativeMg: 0.29, cumulativeIsLowerBound: true })).toBe('at least 0.29 mg');
    expect(totalMg({ cumulativeMg: 2999.996, cumulativeIsLowerBound: false })).toBe('3,000 mg');
  });
});
