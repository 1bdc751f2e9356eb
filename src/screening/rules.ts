/**
 * The screening rules (docs/screening-rules.md), pure: exposure, WB-MRI history, orders and findings in;
 * one decision out. Every number is configurable, with its default named in DEFAULT_SCREENING_CONFIG.
 *
 * - Baseline: cumulative ≥ threshold and no WB-MRI on or after the day `baselineLookbackDays` before the
 *   crossing (a scan just before the crossing is the baseline) → due, unless a WB-MRI order authored on or
 *   after the crossing day is open and younger than `staleOrderDays`.
 * - Follow-up: after the baseline, if any glucocorticoid was given on or after the scan day (pulses and
 *   stopped courses included: osteonecrosis appears with a lag), the follow-up WB-MRI is due 3 months after
 *   the scan and overdue 6 months after it (Huang 2017: a follow-up 3–6 months later found new lesions).
 * - Re-screening (a product choice, not from the study): after the baseline and its follow-up, the next
 *   WB-MRI is due when the exposure since the last one reaches `rescreenIncrementMg`.
 * - An open order older than `staleOrderDays` with no study is not "ordered": it is named as not performed.
 */
import { addMonths, dayFromIso, isoFromDay } from '../exposure/dates.ts';
import type { ExposureSummary } from '../exposure/index.ts';
import { type FindingsDecision, findingsAcrossStudies } from './findings.ts';
import type { Finding, WbMriOrder, WbMriStudy } from './imaging.ts';

export interface ScreeningConfig {
  followUpDueMonths: number;
  followUpOverdueMonths: number;
  /** A WB-MRI this many days before the threshold crossing counts as the baseline screening. */
  baselineLookbackDays: number;
  /** An open WB-MRI order older than this, with no study since, is named as not performed. */
  staleOrderDays: number;
  /** After baseline and follow-up: the exposure since the last WB-MRI at which the next one is due. */
  rescreenIncrementMg: number;
}

export const DEFAULT_SCREENING_CONFIG: ScreeningConfig = {
  followUpDueMonths: 3,
  followUpOverdueMonths: 6,
  baselineLookbackDays: 90,
  staleOrderDays: 90,
  rescreenIncrementMg: 3000,
};

/** An open order that is too old to count as "ordered": shown so that someone checks what happened. */
export interface StaleOrder {
  order: WbMriOrder;
  ageDays: number;
}

interface Window {
  lastStudy: WbMriStudy;
  dueFrom: string;
  overdueFrom: string;
}

export type Decision =
  | { kind: 'exposure-unknown' }
  | { kind: 'below-threshold'; projectedOn: string | null }
  | { kind: 'baseline-due'; crossedOn: string; staleOrder?: StaleOrder }
  | { kind: 'baseline-ordered'; crossedOn: string; order: WbMriOrder }
  | ({ kind: 'follow-up-scheduled' | 'follow-up-due' | 'follow-up-overdue'; staleOrder?: StaleOrder } & Window)
  | { kind: 'follow-up-ordered'; lastStudy: WbMriStudy; order: WbMriOrder }
  | { kind: 'screened-exposure-stopped'; lastStudy: WbMriStudy }
  | {
      kind: 'rescreen-due';
      lastStudy: WbMriStudy;
      sinceMg: number;
      incrementMg: number;
      reachedOn: string;
      staleOrder?: StaleOrder;
    }
  | { kind: 'rescreen-ordered'; lastStudy: WbMriStudy; order: WbMriOrder }
  | { kind: 'rescreen-not-due'; lastStudy: WbMriStudy; sinceMg: number; incrementMg: number };

export interface ScreeningInput {
  asOf: string;
  exposure: ExposureSummary;
  /**
   * The cumulative dose through a day (inclusive), by the same engine and data as `exposure`; null when it
   * cannot be computed. Exposure since a scan is `cumulative − cumulativeThrough(scan day − 1)`.
   */
  cumulativeThrough: (day: string) => number | null;
  studies: WbMriStudy[];
  openOrders: WbMriOrder[];
  findings: Finding[];
  config?: ScreeningConfig;
}

export interface ScreeningResult {
  decision: Decision;
  findings: FindingsDecision | null;
}

export type { FindingsDecision } from './findings.ts';

const shiftDays = (iso: string, days: number) => isoFromDay(dayFromIso(iso) + days);
const daysBetween = (from: string, to: string) => dayFromIso(to) - dayFromIso(from);

export function screen(input: ScreeningInput): ScreeningResult {
  const config = input.config ?? DEFAULT_SCREENING_CONFIG;
  return { decision: decide(input, config), findings: findingsAcrossStudies(input.findings, input.asOf) };
}

function decide(input: ScreeningInput, config: ScreeningConfig): Decision {
  const { asOf, exposure: x } = input;
  if (x.cumulativeMg === null) return { kind: 'exposure-unknown' };
  const crossedOn = x.threshold.crossedOn;
  if (!crossedOn) return { kind: 'below-threshold', projectedOn: x.threshold.projectedOn };

  const studies = input.studies.filter((s) => s.date <= asOf).sort((a, b) => (a.date < b.date ? -1 : 1));
  const baselineFrom = shiftDays(crossedOn, -config.baselineLookbackDays);
  const sinceBaseline = studies.filter((s) => s.date >= baselineFrom);
  const lastStudy = sinceBaseline[sinceBaseline.length - 1];
  // Orders placed after `since` that are open: the live one counts as "ordered", a stale one is named.
  const orders = (since: string, inclusive: boolean) => {
    const open = input.openOrders.filter((o) => (inclusive ? o.date >= since : o.date > since) && o.date <= asOf);
    const live = open.find((o) => daysBetween(o.date, asOf) <= config.staleOrderDays);
    const stale = open.find((o) => daysBetween(o.date, asOf) > config.staleOrderDays);
    return { live, stale: stale ? { order: stale, ageDays: daysBetween(stale.date, asOf) } : undefined };
  };

  if (!lastStudy) {
    const { live, stale } = orders(crossedOn, true);
    if (live) return { kind: 'baseline-ordered', crossedOn, order: live };
    return { kind: 'baseline-due', crossedOn, ...(stale ? { staleOrder: stale } : {}) };
  }

  const before = input.cumulativeThrough(shiftDays(lastStudy.date, -1));
  const sinceMg = before === null ? null : x.cumulativeMg - before;
  const { live, stale } = orders(lastStudy.date, false);
  const staleOrder = stale ? { staleOrder: stale } : {};

  if (sinceBaseline.length === 1) {
    // The baseline and no follow-up yet. An unknown dose since the scan is treated as given: silence is the
    // failure to avoid.
    if (sinceMg !== null && sinceMg <= 0) return { kind: 'screened-exposure-stopped', lastStudy };
    if (live) return { kind: 'follow-up-ordered', lastStudy, order: live };
    const last = dayFromIso(lastStudy.date);
    const window = {
      lastStudy,
      dueFrom: isoFromDay(addMonths(last, config.followUpDueMonths)),
      overdueFrom: isoFromDay(addMonths(last, config.followUpOverdueMonths)),
    };
    if (asOf >= window.overdueFrom) return { kind: 'follow-up-overdue', ...window, ...staleOrder };
    if (asOf >= window.dueFrom) return { kind: 'follow-up-due', ...window, ...staleOrder };
    return { kind: 'follow-up-scheduled', ...window };
  }

  const incrementMg = config.rescreenIncrementMg;
  if (sinceMg === null || sinceMg < incrementMg)
    return { kind: 'rescreen-not-due', lastStudy, sinceMg: sinceMg ?? 0, incrementMg };
  if (live) return { kind: 'rescreen-ordered', lastStudy, order: live };
  const reachedOn = dayReached(input, before ?? 0, incrementMg, lastStudy.date);
  return { kind: 'rescreen-due', lastStudy, sinceMg, incrementMg, reachedOn, ...staleOrder };
}

/** The first day on which the exposure since `from` reached `increment` (bisection: the total only grows). */
function dayReached(input: ScreeningInput, before: number, increment: number, from: string): string {
  let lo = dayFromIso(from);
  let hi = dayFromIso(input.asOf);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const through = input.cumulativeThrough(isoFromDay(mid));
    if (through !== null && through - before >= increment) hi = mid;
    else lo = mid + 1;
  }
  return isoFromDay(lo);
}
