/**
 * A dose pattern laid onto wall-clock time: how many doses fall on each calendar day between a step's start
 * and end (wall-clock ms, dates.ts). Untimed doses fall at k·P/f after the start instant, so at the start's time
 * of day (midnight for a date); with Timing.repeat.timeOfDay they fall at those clock times. A dose belongs to
 * the step whose interval contains its time, and counts on the calendar day of that time.
 *
 * Every loop runs over the days (or the doses, when they are at least a day apart) inside the interval it was
 * given, which callers bound by the as-of day or the projection horizon; none runs over a count from the data.
 */
import { addMonths, DAY_MS, type Day, weekdayOf } from './dates.ts';
import type { DosePattern } from './timing.ts';

const MIN_MS = 60_000;
const MINUTES_PER_DAY = 1440;
const AVERAGE_MONTH_MINUTES = (365.25 / 12) * MINUTES_PER_DAY;

/** Receives runs of days with the same number of doses: every day from `from` to `to` gets `n` doses. */
export type DoseRunSink = (from: Day, to: Day, n: number) => void;

export interface Laid {
  /** Doses laid. */
  doses: number;
  /** Wall-clock ms of the last dose laid. */
  lastMs?: number;
  /** When `limit` stopped the laying: where the next dose would have fallen (a count-ended step hands over there). */
  nextMs?: number;
}

const dayOfMs = (ms: number): Day => Math.floor(ms / DAY_MS);

/** Lays `p` on [startMs, endMs), at most `limit` doses, reporting runs of days to `sink`. */
export function layPattern(p: DosePattern, startMs: number, endMs: number, limit: number, sink: DoseRunSink): Laid {
  if (!(endMs > startMs) || !(limit > 0)) return { doses: 0 };
  if (p.daysOfWeek) return layWeekdays(p, startMs, endMs, limit, sink);
  if ('months' in p.cycle) {
    const months = p.cycle.months;
    if (months >= 1 && Number.isInteger(months)) return layMonths(p, months, startMs, endMs, limit, sink);
    // A fractional month has no calendar anchor: lay it as an average month, like dosesPerDay does.
    return layEvenly(months * AVERAGE_MONTH_MINUTES, p.dosesPerCycle, startMs, endMs, limit, sink);
  }
  const P = p.cycle.minutes;
  const f = p.dosesPerCycle;
  if (!(P > 0) || !(f > 0)) return { doses: 0 };
  if (p.clocks && p.clocks.length === f && P % MINUTES_PER_DAY === 0)
    return layClocks(p.clocks, P / MINUTES_PER_DAY, startMs, endMs, limit, sink);
  return layEvenly(P, f, startMs, endMs, limit, sink);
}

/** f doses every P minutes, dose k at floor(k·P/f) minutes after the start. */
function layEvenly(P: number, f: number, S: number, E: number, limit: number, sink: DoseRunSink): Laid {
  const perDay = (f * MINUTES_PER_DAY) / P;
  if (Number.isInteger(perDay) && limit === Number.POSITIVE_INFINITY && S % DAY_MS === 0 && E % DAY_MS === 0) {
    // The common case, whole days from midnight to midnight: one run, no per-day work.
    const days = (E - S) / DAY_MS;
    sink(S / DAY_MS, S / DAY_MS + days - 1, perDay);
    const n = days * perDay;
    return { doses: n, lastMs: S + Math.floor(((n - 1) * P) / f + 1e-9) * MIN_MS };
  }
  // Doses falling before wall-clock ms `ms`: k with floor(k·P/f) < ceil((ms − S)/1 min).
  const before = (ms: number): number => {
    if (ms <= S) return 0;
    const x = Math.ceil((ms - S) / MIN_MS);
    return Math.max(0, Math.ceil((x * f) / P - 1e-9));
  };
  const timeOf = (k: number): number => S + Math.floor((k * P) / f + 1e-9) * MIN_MS;
  const inInterval = before(E);
  const n = Math.min(inInterval, limit);
  if (n <= 0) return { doses: 0 };
  if (!Number.isInteger(perDay) && P / f >= MINUTES_PER_DAY) {
    // At least a day apart: one dose per dosing day, at most one iteration per day of the interval.
    for (let k = 0; k < n; k++) {
      const d = dayOfMs(timeOf(k));
      sink(d, d, 1);
    }
  } else {
    const whole = Number.isInteger(perDay);
    const lastDay = dayOfMs(timeOf(n - 1));
    let laid = 0;
    for (let d = dayOfMs(S); d <= lastDay && laid < n; d++) {
      const upTo = Math.min(before(Math.min(E, (d + 1) * DAY_MS)), n);
      if (upTo > laid) sink(d, d, upTo - laid);
      laid = upTo;
      // Whole doses a day: every full day after the first has exactly perDay doses, so they go as one run.
      if (whole && d + 1 < lastDay) {
        const days = Math.min(lastDay - d - 1, Math.floor((n - laid) / perDay));
        if (days > 0) {
          sink(d + 1, d + days, perDay);
          laid += days * perDay;
          d += days;
        }
      }
    }
  }
  return { doses: n, lastMs: timeOf(n - 1), ...(n < inInterval ? { nextMs: timeOf(n) } : {}) };
}

/** The doses of `clocks` on every `everyDays`-th day from the start day, inside [S, E). */
function layClocks(clocks: number[], everyDays: number, S: number, E: number, limit: number, sink: DoseRunSink): Laid {
  const perDay = clocks.length;
  const startDay = dayOfMs(S);
  const lastDay = dayOfMs(E - 1);
  let laid = 0;
  let lastMs: number | undefined;
  let nextMs: number | undefined;
  for (let d = startDay; d <= lastDay; d += everyDays) {
    const base = d * DAY_MS;
    const full = base >= S && base + DAY_MS <= E;
    if (full && laid + perDay <= limit) {
      // A run of full days (daily clocks) or one full dosing day.
      const fit = Math.floor((limit - laid) / perDay);
      const days = everyDays === 1 ? Math.max(1, Math.min(fit, Math.floor((E - base) / DAY_MS))) : 1;
      sink(d, d + days - 1, perDay);
      laid += days * perDay;
      d += days - 1;
      lastMs = d * DAY_MS + clocks[perDay - 1]!;
      continue;
    }
    let onDay = 0;
    for (const c of clocks) {
      const t = base + c;
      if (t < S || t >= E) continue;
      if (laid + onDay >= limit) {
        nextMs = t;
        break;
      }
      onDay++;
      lastMs = t;
    }
    if (onDay > 0) sink(d, d, onDay);
    laid += onDay;
    if (nextMs !== undefined || laid >= limit) break;
  }
  if (laid >= limit && nextMs === undefined && lastMs !== undefined)
    nextMs = nextClock(clocks, everyDays, startDay, lastMs, S, E);
  return { doses: laid, ...(lastMs !== undefined ? { lastMs } : {}), ...(nextMs !== undefined ? { nextMs } : {}) };
}

/** The first clock dose after `afterMs` inside [S, E), looking at most one dosing cycle ahead. */
function nextClock(
  clocks: number[],
  everyDays: number,
  startDay: Day,
  afterMs: number,
  S: number,
  E: number,
): number | undefined {
  const day = dayOfMs(afterMs);
  for (const c of clocks) {
    const t = day * DAY_MS + c;
    if (t > afterMs && t >= S && t < E) return t;
  }
  const next = day + everyDays - ((day - startDay) % everyDays);
  const t = next * DAY_MS + clocks[0]!;
  return t >= S && t < E ? t : undefined;
}

/** dayOfWeek: the listed weekdays, each with its doses at the clock times or at the start's time of day. */
function layWeekdays(p: DosePattern, S: number, E: number, limit: number, sink: DoseRunSink): Laid {
  const { days, dosesPerDay } = p.daysOfWeek!;
  const weekdays = new Set(days);
  const startDay = dayOfMs(S);
  const times = p.clocks && p.clocks.length === dosesPerDay ? p.clocks : undefined;
  const untimedAt = S - startDay * DAY_MS;
  let laid = 0;
  let lastMs: number | undefined;
  for (let d = startDay; d * DAY_MS < E; d++) {
    if (!weekdays.has(weekdayOf(d))) continue;
    let onDay = 0;
    const slots = times ? times.length : 1;
    for (let i = 0; i < slots; i++) {
      const t = d * DAY_MS + (times ? times[i]! : untimedAt);
      if (t < S || t >= E) continue;
      if (laid >= limit) {
        if (onDay > 0) sink(d, d, onDay);
        return { doses: laid, ...(lastMs !== undefined ? { lastMs } : {}), nextMs: t };
      }
      const take = Math.min(times ? 1 : dosesPerDay, limit - laid);
      onDay += take;
      laid += take;
      lastMs = t;
    }
    if (onDay > 0) sink(d, d, onDay);
  }
  return { doses: laid, ...(lastMs !== undefined ? { lastMs } : {}) };
}

/** f doses per calendar month(s) from the start day, at the start's time of day. */
function layMonths(p: DosePattern, months: number, S: number, E: number, limit: number, sink: DoseRunSink): Laid {
  const startDay = dayOfMs(S);
  const at = S - startDay * DAY_MS;
  const f = p.dosesPerCycle;
  let laid = 0;
  let lastMs: number | undefined;
  for (let c = 0; ; c++) {
    const cycleStart = addMonths(startDay, c * months);
    if (cycleStart * DAY_MS + at >= E) break;
    const len = addMonths(startDay, (c + 1) * months) - cycleStart;
    // Dose i of the cycle falls on day floor(i·len/f); when f exceeds the days, count per day instead.
    const daysWithDoses = Math.min(len, f);
    for (let j = 0; j < daysWithDoses; j++) {
      const offset = f <= len ? Math.floor((j * len) / f) : j;
      const count = f <= len ? 1 : Math.ceil(((j + 1) * f) / len) - Math.ceil((j * f) / len);
      const t = (cycleStart + offset) * DAY_MS + at;
      if (t >= E) return { doses: laid, ...(lastMs !== undefined ? { lastMs } : {}) };
      if (laid >= limit) return { doses: laid, ...(lastMs !== undefined ? { lastMs } : {}), nextMs: t };
      const n = Math.min(count, limit - laid);
      sink(cycleStart + offset, cycleStart + offset, n);
      laid += n;
      lastMs = t;
      // The limit fell inside this day's doses: the next one is due at the same time.
      if (n < count) return { doses: laid, lastMs, nextMs: t };
    }
  }
  return { doses: laid, ...(lastMs !== undefined ? { lastMs } : {}) };
}
