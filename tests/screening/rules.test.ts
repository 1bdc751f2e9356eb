/**
 * The screening rules on their own (src/screening/rules.ts, docs/screening-rules.md): exposure, WB-MRI
 * history and orders in, one decision out — each rule at its boundary days.
 */
import { describe, expect, it } from 'vitest';
import { dayFromIso } from '../../src/exposure/dates.ts';
import type { ExposureSummary } from '../../src/exposure/index.ts';
import type { WbMriOrder, WbMriStudy } from '../../src/screening/imaging.ts';
import { type Decision, screen } from '../../src/screening/rules.ts';

/**
 * A patient whose doses are given as {day: mg}; cumulative and crossing computed from them, as the engine
 * would (3,000 mg threshold).
 */
function patient(doses: Record<string, number>, asOf: string) {
  const days = Object.keys(doses).sort();
  const through = (day: string) => days.filter((d) => d <= day).reduce((s, d) => s + doses[d]!, 0);
  const crossedOn = days.find((d) => d <= asOf && through(d) >= 3000) ?? null;
  const exposure: ExposureSummary = {
    asOf,
    cumulativeMg: through(asOf),
    cumulativeIsLowerBound: false,
    currentDailyMg: doses[asOf] ?? 0,
    firstExposure: days[0] ?? null,
    threshold: { mg: 3000, crossedOn, projectedOn: null },
    contributions: [],
    issues: [],
    timeline: [],
  };
  return { exposure, cumulativeThrough: through };
}
/** `mg` every day from `from` to `to` inclusive. */
function daily(mg: number, from: string, to: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (let d = dayFromIso(from); d <= dayFromIso(to); d++)
    out[new Date(d * 86_400_000).toISOString().slice(0, 10)] = mg;
  return out;
}
const study = (date: string): WbMriStudy => ({ date, reference: `ImagingStudy/${date}` });
const order = (date: string): WbMriOrder => ({ date, reference: `ServiceRequest/${date}`, status: 'active' });

function decide(
  asOf: string,
  doses: Record<string, number>,
  studies: WbMriStudy[] = [],
  openOrders: WbMriOrder[] = [],
): Decision {
  return screen({ asOf, ...patient(doses, asOf), studies, openOrders, findings: [] }).decision;
}

// 60 mg a day from 1 Jan: 3,000 mg reached on 19 Feb 2026 (day 50).
const HIGH = daily(60, '2026-01-01', '2026-12-31');

describe('baseline screening', () => {
  it('crossed on 19 Feb with no WB-MRI: due', () => {
    expect(decide('2026-03-01', HIGH)).toEqual({ kind: 'baseline-due', crossedOn: '2026-02-19' });
  });

  it('a scan 90 days before the crossing is the baseline; 91 days before is not', () => {
    // The baseline of 21 Nov makes its follow-up due from 21 Feb.
    expect(decide('2026-03-01', HIGH, [study('2025-11-21')])).toMatchObject({
      kind: 'follow-up-due',
      dueFrom: '2026-02-21',
    });
    expect(decide('2026-03-01', HIGH, [study('2025-11-20')]).kind).toBe('baseline-due');
  });

  it('an order authored on the crossing day counts as ordered; one the day before does not', () => {
    expect(decide('2026-03-01', HIGH, [], [order('2026-02-19')])).toMatchObject({ kind: 'baseline-ordered' });
    expect(decide('2026-03-01', HIGH, [], [order('2026-02-18')])).toEqual({
      kind: 'baseline-due',
      crossedOn: '2026-02-19',
    });
  });

  it('an open order 90 days old still counts; at 91 days it is named as not performed', () => {
    expect(decide('2026-05-20', HIGH, [], [order('2026-02-19')]).kind).toBe('baseline-ordered');
    expect(decide('2026-05-21', HIGH, [], [order('2026-02-19')])).toEqual({
      kind: 'baseline-due',
      crossedOn: '2026-02-19',
      staleOrder: { order: order('2026-02-19'), ageDays: 91 },
    });
  });

  it('below the threshold: no screening decision, the projection is passed on', () => {
    expect(decide('2026-02-18', HIGH)).toEqual({ kind: 'below-threshold', projectedOn: null });
  });
});

describe('follow-up after the baseline: exposure since the scan, not today’s dose', () => {
  const scan = [study('2026-03-01')];
  it('scheduled the day before 3 months, due on the 3-month day, overdue on the 6-month day', () => {
    expect(decide('2026-05-31', HIGH, scan)).toMatchObject({ kind: 'follow-up-scheduled', dueFrom: '2026-06-01' });
    expect(decide('2026-06-01', HIGH, scan)).toMatchObject({ kind: 'follow-up-due', overdueFrom: '2026-09-01' });
    expect(decide('2026-08-31', HIGH, scan).kind).toBe('follow-up-due');
    expect(decide('2026-09-01', HIGH, scan).kind).toBe('follow-up-overdue');
  });

  it('monthly 1 g pulses after the scan (no daily dose today): the follow-up still falls due', () => {
    const pulses = { ...daily(60, '2026-01-01', '2026-02-28'), '2026-03-15': 1250, '2026-04-15': 1250 };
    expect(decide('2026-06-10', pulses, scan)).toMatchObject({ kind: 'follow-up-due' });
  });

  it('steroids stopped a week after the scan: a dose on the scan day or after still calls for the follow-up', () => {
    const stopped = daily(60, '2026-01-01', '2026-03-08');
    expect(decide('2026-06-10', stopped, scan).kind).toBe('follow-up-due');
    expect(decide('2026-06-10', daily(60, '2026-01-01', '2026-03-01'), scan).kind).toBe('follow-up-due');
  });

  it('no glucocorticoid on or after the scan day: screened, nothing due', () => {
    expect(decide('2026-09-01', daily(60, '2026-01-01', '2026-02-28'), scan)).toEqual({
      kind: 'screened-exposure-stopped',
      lastStudy: study('2026-03-01'),
    });
  });

  it('an order placed after the scan is the follow-up ordered; an order on the scan day is not', () => {
    expect(decide('2026-06-10', HIGH, scan, [order('2026-04-01')]).kind).toBe('follow-up-ordered');
    expect(decide('2026-06-10', HIGH, scan, [order('2026-03-01')]).kind).toBe('follow-up-due');
  });

  it('a follow-up order 100 days old with no study is named as not performed', () => {
    expect(decide('2026-06-10', HIGH, scan, [order('2026-03-02')])).toMatchObject({
      kind: 'follow-up-due',
      staleOrder: { ageDays: 100 },
    });
  });
});

describe('re-screening after baseline and follow-up: by exposure since the last WB-MRI', () => {
  // 10 mg a day for years: 3,000 mg takes 300 days.
  const maintenance = { ...daily(60, '2025-01-01', '2025-02-28'), ...daily(10, '2025-03-01', '2027-12-31') };
  const scans = [study('2025-03-01'), study('2025-06-01')];
  it('not due until 3,000 mg since the last scan; due on the day it is reached exactly', () => {
    // 10 mg a day from 1 Jun 2025 (inclusive): 3,000 mg on the 300th day, 27 Mar 2026.
    expect(decide('2026-03-26', maintenance, scans)).toMatchObject({ kind: 'rescreen-not-due', sinceMg: 2990 });
    expect(decide('2026-03-27', maintenance, scans)).toMatchObject({
      kind: 'rescreen-due',
      sinceMg: 3000,
      reachedOn: '2026-03-27',
    });
  });

  it('2.5 mg maintenance does not bring a WB-MRI every 3 months for ever', () => {
    const low = { ...daily(60, '2025-01-01', '2025-02-28'), ...daily(2.5, '2025-03-01', '2027-12-31') };
    expect(decide('2026-12-01', low, scans)).toMatchObject({ kind: 'rescreen-not-due' });
  });
});
