/**
 * The screening rules on their own (src/screening/rules.ts): exposure, WB-MRI history and findings in,
 * decision out; each rule at its boundary days.
 */
import { describe, expect, it } from 'vitest';
import type { ExposureSummary } from '../../src/exposure/index.ts';
import type { Finding, WbMriOrder, WbMriStudy } from '../../src/screening/imaging.ts';
import { screen } from '../../src/screening/rules.ts';

const exposure = (
  x: Partial<ExposureSummary> & { crossedOn?: string | null; projectedOn?: string | null },
): ExposureSummary => ({
  asOf: '2026-06-01',
  cumulativeMg: x.cumulativeMg === undefined ? 4000 : x.cumulativeMg,
  cumulativeIsLowerBound: false,
  currentDailyMg: x.currentDailyMg === undefined ? 10 : x.currentDailyMg,
  firstExposure: '2026-01-01',
  threshold: {
    mg: 3000,
    crossedOn: x.crossedOn === undefined ? '2026-02-19' : x.crossedOn,
    projectedOn: x.projectedOn ?? null,
  },
  contributions: [],
  issues: [],
  timeline: [],
});
const study = (date: string): WbMriStudy => ({ date, reference: `ImagingStudy/${date}` });
const order = (date: string): WbMriOrder => ({ date, reference: `ServiceRequest/${date}`, status: 'active' });
const finding = (date: string, f: Partial<Finding> = {}): Finding => ({
  date,
  joint: 'hip',
  side: 'left',
  present: true,
  extent: [],
  collapse: false,
  highCollapseRisk: false,
  reference: `Observation/${date}`,
  ...f,
});
const decide = (asOf: string, x: ExposureSummary, studies: WbMriStudy[] = [], openOrders: WbMriOrder[] = []) =>
  screen({ asOf, exposure: x, studies, openOrders, findings: [] }).decision;

describe('baseline screening', () => {
  it('unknown exposure is never a decision on 0 mg', () => {
    expect(decide('2026-06-01', exposure({ cumulativeMg: null, crossedOn: null }))).toEqual({
      kind: 'exposure-unknown',
    });
  });

  it('below the threshold: the projected crossing day is passed on', () => {
    expect(decide('2026-06-01', exposure({ cumulativeMg: 2999, crossedOn: null, projectedOn: '2026-06-02' }))).toEqual({
      kind: 'below-threshold',
      projectedOn: '2026-06-02',
    });
  });

  it('crossed with no WB-MRI: due; a study the day before the crossing does not count, one on the crossing day does', () => {
    expect(decide('2026-06-01', exposure({}), [study('2026-02-18')]).kind).toBe('baseline-due');
    expect(decide('2026-06-01', exposure({}), [study('2026-02-19')]).kind).toBe('follow-up-due');
  });

  it('an open order authored on or after the crossing day is "ordered"; one before it is not', () => {
    expect(decide('2026-06-01', exposure({}), [], [order('2026-02-19')])).toMatchObject({ kind: 'baseline-ordered' });
    expect(decide('2026-06-01', exposure({}), [], [order('2026-02-18')]).kind).toBe('baseline-due');
  });

  it('a study after the as-of day is not yet done', () => {
    expect(decide('2026-06-01', exposure({}), [study('2026-06-02')]).kind).toBe('baseline-due');
  });
});

describe('follow-up after a WB-MRI, while steroids continue', () => {
  const x = exposure({});
  const scan = [study('2026-03-01')];
  it('scheduled the day before 3 months, due on the 3-month day', () => {
    expect(decide('2026-05-31', x, scan)).toMatchObject({ kind: 'follow-up-scheduled', dueFrom: '2026-06-01' });
    expect(decide('2026-06-01', x, scan)).toMatchObject({ kind: 'follow-up-due', overdueFrom: '2026-09-01' });
  });

  it('due the day before 6 months, overdue on the 6-month day', () => {
    expect(decide('2026-08-31', x, scan).kind).toBe('follow-up-due');
    expect(decide('2026-09-01', x, scan).kind).toBe('follow-up-overdue');
  });

  it('an open order placed after the scan is the follow-up ordered', () => {
    expect(decide('2026-09-01', x, scan, [order('2026-03-02')]).kind).toBe('follow-up-ordered');
    expect(decide('2026-09-01', x, scan, [order('2026-03-01')]).kind).toBe('follow-up-overdue');
  });

  it('no current dose after the scan: screened, nothing due', () => {
    expect(decide('2026-09-01', exposure({ currentDailyMg: 0 }), scan).kind).toBe('screened-exposure-stopped');
  });
});

describe('findings', () => {
  it('the latest read with osteonecrosis present is reported, with high collapse risk when any site has it', () => {
    const r = screen({
      asOf: '2026-06-01',
      exposure: exposure({}),
      studies: [study('2026-03-01')],
      openOrders: [],
      findings: [
        finding('2026-03-01', { joint: 'knee' }),
        finding('2026-03-01', { side: 'right', highCollapseRisk: true }),
        finding('2026-01-01', { joint: 'ankle' }),
        finding('2026-07-01', { joint: 'shoulder' }),
      ],
    });
    expect(r.lastFindings).toMatchObject({ studyDate: '2026-03-01', highCollapseRisk: true });
    expect(r.lastFindings?.findings.map((f) => f.joint)).toEqual(['knee', 'hip']);
  });

  it('a latest read with no osteonecrosis gives no findings decision', () => {
    const r = screen({
      asOf: '2026-06-01',
      exposure: exposure({}),
      studies: [],
      openOrders: [],
      findings: [finding('2026-03-01', { present: false })],
    });
    expect(r.lastFindings).toBeNull();
  });
});
