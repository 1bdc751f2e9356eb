/**
 * The timeline view (api.ts) as chart series, without the DOM or Chart.js (unit-tested in Node). The x axis is
 * in day numbers (days since 1970-01-01, as the engine counts them); a day d covers [d, d + 1).
 *
 * - The daily dose is a stepped line with a point wherever the dose changes. Days without a counted dose are 0,
 *   except inside a span whose dose is unknown: there the line stops (null), never 0.
 * - The cumulative dose is exact piecewise-linear: it grows linearly while the daily dose is constant, so only
 *   the change points are needed; the value at d + 1 is the total through day d.
 */
import { mg, plural } from '../../exposure/format.ts';
import type { RecordView, TimelineView, UnknownSpanView } from './api.ts';

const DAY_MS = 86_400_000;

export const dayOf = (iso: string): number => Math.round(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
export const isoOf = (day: number): string => new Date(Math.round(day) * DAY_MS).toISOString().slice(0, 10);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** "Mar 2024" for axis ticks; the ISO date where the range is short. */
export function tickLabel(day: number, spanDays: number): string {
  const d = new Date(Math.round(day) * DAY_MS);
  if (spanDays <= 120) return d.toISOString().slice(0, 10);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** The card's milligrams: "16,815 mg", "7.5 mg", "unknown" (the cards' own formatter). */
export const mgText = mg;

export interface Point {
  x: number;
  y: number | null;
}

export interface Series {
  /** The first and last day drawn (inclusive). */
  from: number;
  to: number;
  daily: Point[];
  cumulative: Point[];
}

/** The days covered by spans of unknown dose, as a set of day numbers (clipped to [from, to]). */
function unknownDays(spans: readonly UnknownSpanView[], from: number, to: number): Set<number> {
  const out = new Set<number>();
  for (const s of spans) for (let d = Math.max(dayOf(s.from), from); d <= Math.min(dayOf(s.to), to); d++) out.add(d);
  return out;
}

/** The first day anything is drawn: the first dose, unknown span, record date or WB-MRI. */
export function firstDay(v: TimelineView): number {
  const days = [
    ...v.timeline.slice(0, 1).map((t) => t.date),
    ...v.unknownSpans.map((s) => s.from),
    ...v.records.flatMap((r) => [r.counted?.from, r.recorded.start]).filter((d): d is string => !!d && d <= v.asOf),
    ...v.wbMri.studies.map((s) => s.date),
  ];
  return days.length ? Math.min(...days.map(dayOf)) : dayOf(v.asOf);
}

export function doseSeries(v: TimelineView): Series {
  const to = dayOf(v.asOf);
  const from = Math.min(firstDay(v), to);
  const mg = new Map(v.timeline.map((t) => [dayOf(t.date), t.mg]));
  const unknown = unknownDays(v.unknownSpans, from, to);
  const daily: Point[] = [];
  const cumulative: Point[] = [{ x: from, y: 0 }];
  let prev: number | null | undefined;
  let total = 0;
  for (let d = from; d <= to; d++) {
    const counted = mg.get(d) ?? 0;
    const y = counted === 0 && unknown.has(d) ? null : counted;
    if (y !== prev) {
      // The value before a gap is drawn up to the gap (a segment ending in null would not be drawn).
      if (y === null && prev !== undefined && prev !== null) daily.push({ x: d, y: prev });
      daily.push({ x: d, y });
      if (d > from) cumulative.push({ x: d, y: total });
      prev = y;
    }
    total += counted;
  }
  if (prev !== null && prev !== undefined) daily.push({ x: to + 1, y: prev });
  cumulative.push({ x: to + 1, y: total });
  return { from, to, daily, cumulative };
}

/** The largest daily dose outside pulses: the daily axis is scaled to it, so a 10 mg day is not lost under 625. */
export function dailyAxisMax(v: TimelineView): number {
  const pulseDays = new Set(v.pulses.map((p) => p.date));
  let max = 0;
  for (const t of v.timeline) if (!pulseDays.has(t.date)) max = Math.max(max, t.mg);
  if (max === 0) max = Math.max(0, ...v.timeline.map((t) => t.mg));
  const step = max > 100 ? 50 : 10;
  return Math.max(step, Math.ceil((max * 1.25) / step) * step);
}

/** The cumulative axis: the threshold and the total, whichever is larger, with room above. */
export function cumulativeAxisMax(v: TimelineView): number {
  const top = Math.max(v.thresholdMg, v.cumulative.mg ?? 0);
  const step = top > 10_000 ? 2000 : 500;
  return Math.ceil((top * 1.1) / step) * step;
}

/** The recorded schedule projected to the threshold: a straight line from today's total to the day it is reached. */
export function projectionLine(v: TimelineView): Point[] {
  if (!v.projection.onSchedule || v.cumulative.mg === null) return [];
  return [
    { x: dayOf(v.asOf) + 1, y: v.cumulative.mg },
    { x: dayOf(v.projection.onSchedule) + 1, y: v.thresholdMg },
  ];
}

export interface RecordBar {
  row: RecordView;
  /** [from, to + 1) in day numbers; null when the record has no date to draw it at. */
  span: [number, number] | null;
  /** The bar shows days whose dose is unknown (drawn hatched). */
  unknown: boolean;
}

/** One bar per record: its counted days, or, when its dose is unknown, the days it may have covered. */
export function recordBars(v: TimelineView): RecordBar[] {
  const spans = new Map(v.unknownSpans.map((s) => [s.source, s]));
  return v.records.map((row) => {
    const s = spans.get(row.source);
    const from = s?.from ?? row.counted?.from ?? row.recorded.start;
    const to = s?.to ?? row.counted?.to ?? row.recorded.end ?? from;
    const span: [number, number] | null =
      from && to && from <= v.asOf ? [dayOf(from), dayOf(to < from ? from : to) + 1] : null;
    return { row, span, unknown: row.status === 'unknown' || !!s };
  });
}

/** A record's dates as a person reads them: "2021-08-12 – 2023-03-12", "2024-01-13 – (no end)". */
export function recordDatesText(r: RecordView): string {
  const { start, end } = r.recorded;
  if (!start && !end) return 'not recorded';
  if (start && end && start === end) return start;
  return `${start ?? '(no start)'} – ${end ?? '(no end)'}`;
}

export function countedText(r: RecordView): string {
  if (!r.counted) return r.status === 'unknown' ? 'dose unknown' : 'none';
  const { from, to, days } = r.counted;
  return `${from === to ? from : `${from} – ${to}`} (${plural(days, 'day')})`;
}

export const STATUS_TEXT: Record<RecordView['status'], string> = {
  counted: 'Counted',
  excluded: 'Not counted',
  unknown: 'Dose unknown',
};

/** Why a record is not counted, in a few words. */
export function statusText(r: RecordView): string {
  if (r.engineStatus === 'duplicate') return 'Not counted: a duplicate';
  if (r.engineStatus === 'unidentified') return 'Dose unknown: medication not identified';
  if (r.status === 'counted' && r.issues.some((i) => i.severity === 'error')) return 'Counted in part';
  return STATUS_TEXT[r.status];
}

/** The lines a record shows in its tooltip and when its bar has keyboard focus. */
export function recordLines(r: RecordView): string[] {
  return [
    `${statusText(r)}${r.mg !== null && r.status === 'counted' ? `: ${mgText(r.mg)} prednisolone-eq.` : ''}`,
    `Recorded: ${recordDatesText(r)}`,
    `Counted days: ${countedText(r)}`,
    `How: ${r.derivation}`,
    ...r.issues.map((i) => `${i.severity === 'error' ? 'Not counted' : 'Note'}: ${i.message}`),
    r.source,
  ];
}

export interface DayReading {
  date: string;
  /** Counted prednisolone-eq. mg that day; null when no dose was counted and a record's dose that day is unknown. */
  mg: number | null;
  /** Counted prednisolone-eq. mg through the day. */
  cumulativeMg: number;
  /** Records whose dose that day is unknown. */
  unknown: string[];
  pulse: boolean;
}

/** What one day shows (the cursor's readout): looked up, never computed, from the engine's timeline. */
export function dayReader(v: TimelineView): (day: number) => DayReading {
  const days = v.timeline.map((t) => dayOf(t.date));
  const pulseDays = new Set(v.pulses.map((p) => p.date));
  const spans = v.unknownSpans.map((s) => ({ s, from: dayOf(s.from), to: dayOf(s.to) }));
  return (day: number) => {
    const d = Math.floor(day);
    // The last timeline day on or before d (binary search).
    let lo = 0;
    let hi = days.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (days[mid]! <= d) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const hit = at >= 0 && days[at] === d ? v.timeline[at]! : undefined;
    const unknown = spans.filter((x) => x.from <= d && d <= x.to).map((x) => x.s.source);
    const date = isoOf(d);
    return {
      date,
      mg: hit ? hit.mg : unknown.length ? null : 0,
      cumulativeMg: at >= 0 ? v.timeline[at]!.cumulativeMg : 0,
      unknown,
      pulse: pulseDays.has(date),
    };
  };
}

/** The readout sentence for a day. */
export function readingText(r: DayReading): string {
  const dose =
    r.mg === null
      ? 'dose unknown (not counted)'
      : r.mg === 0
        ? 'no counted dose'
        : `${mgText(r.mg)}${r.pulse ? ' (IV pulse)' : ''}`;
  const partly = r.mg !== null && r.unknown.length ? '; another record’s dose unknown' : '';
  return `${r.date}: ${dose}${partly}; cumulative ${mgText(r.cumulativeMg)}`;
}
