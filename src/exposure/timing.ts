/**
 * When the doses of one Dosage fall: FHIR Timing reduced to a dose pattern (schedule.ts lays it onto days).
 *
 * A pattern is "f doses every P" (Timing.repeat frequency/period/periodUnit, or a Timing.code such as BID or
 * QOD). Dose k falls at k·P/f after the start, so every-other-day from day 1 gives days 1, 3, 5, … and three
 * doses a week give days 1, 3, 5 of each week (README, counting conventions). Integer minute arithmetic
 * keeps that exact for every period expressible in minutes. Timing.repeat.timeOfDay gives the clock times.
 */
import type { Timing } from '@medplum/fhirtypes';
import { SNOMED } from '../terminology/systems.ts';

export type RangePolicy = 'upper' | 'mid';

export interface DosePattern {
  /** Doses per cycle (after the range policy). */
  dosesPerCycle: number;
  /** Cycle length in minutes, or in calendar months for periodUnit mo / a. */
  cycle: { minutes: number } | { months: number };
  /** ISO weekdays (0 = Monday) when Timing.repeat.dayOfWeek restricts dosing; doses on each such day. */
  daysOfWeek?: { days: number[]; dosesPerDay: number };
  /** Multiplier on the dose when a frequency range is counted at its midpoint. */
  doseScale: number;
  /** Total number of doses (Timing.repeat.count / countMax), if bounded that way. */
  count?: number;
  /** Clock times of the doses (Timing.repeat.timeOfDay) in ms after midnight, ascending. */
  clocks?: number[];
  /** Data-quality notes: 'frequency-range', 'timing-assumed-once-daily', … */
  notes: TimingNote[];
  /** Human-readable frequency, e.g. "2×/d", "1× every 2 d". */
  label: string;
}

export type TimingNote =
  | { code: 'frequency-range'; message: string }
  | { code: 'timing-assumed-once-daily'; message: string }
  | { code: 'count-range'; message: string }
  /** Part of the schedule is lost (the doses of a weekday that is not one): an error, not an assumption. */
  | { code: 'unknown-day-of-week'; message: string; lost: true };

export type TimingProblem = {
  code:
    | 'period-without-unit'
    | 'unknown-period-unit'
    | 'unknown-timing-code'
    | 'unknown-day-of-week'
    | 'frequency-implausible';
  message: string;
};

/**
 * More doses a day than this is not a regimen but a data error (a period in seconds or minutes, a frequency typed
 * into the period, a period of 0): hourly dosing is 24, and no glucocorticoid is given in more than a dozen
 * doses a day. Such a timing is reported and its doses not counted, rather than laying thousands of doses a day.
 */
export const MAX_DOSES_PER_DAY = 100;

const UNIT_MINUTES: Record<string, number> = { s: 1 / 60, min: 1, h: 60, d: 1440, wk: 10080 };
const MINUTES_PER_DAY = 1440;

const GTS_CODES: Record<string, { f: number; minutes?: number; months?: number }> = {
  QD: { f: 1, minutes: 1440 },
  QAM: { f: 1, minutes: 1440 },
  AM: { f: 1, minutes: 1440 },
  PM: { f: 1, minutes: 1440 },
  QHS: { f: 1, minutes: 1440 },
  HS: { f: 1, minutes: 1440 },
  BED: { f: 1, minutes: 1440 },
  DAILY: { f: 1, minutes: 1440 },
  QOD: { f: 1, minutes: 2880 },
  BID: { f: 2, minutes: 1440 },
  TID: { f: 3, minutes: 1440 },
  QID: { f: 4, minutes: 1440 },
  Q1H: { f: 24, minutes: 1440 },
  Q2H: { f: 12, minutes: 1440 },
  Q3H: { f: 8, minutes: 1440 },
  Q4H: { f: 6, minutes: 1440 },
  Q6H: { f: 4, minutes: 1440 },
  Q8H: { f: 3, minutes: 1440 },
  Q12H: { f: 2, minutes: 1440 },
  Q24H: { f: 1, minutes: 1440 },
  Q36H: { f: 1, minutes: 2160 },
  Q48H: { f: 1, minutes: 2880 },
  Q72H: { f: 1, minutes: 4320 },
  WK: { f: 1, minutes: 10080 },
  QW: { f: 1, minutes: 10080 },
  MO: { f: 1, months: 1 },
};

/** SNOMED CT frequency concepts as mapped by the CDC's CumulativeMedicationDuration library (§4.1). */
const SNOMED_FREQUENCY: Record<string, { f: number; minutes: number }> = {
  '229797004': { f: 1, minutes: 1440 },
  '229799001': { f: 2, minutes: 1440 },
  '229798009': { f: 3, minutes: 1440 },
  '307439001': { f: 4, minutes: 1440 },
  '396125000': { f: 1, minutes: 1440 },
  '307470009': { f: 2, minutes: 1440 },
  '307469008': { f: 3, minutes: 1440 },
  '307468000': { f: 4, minutes: 1440 },
  '225756002': { f: 6, minutes: 1440 },
  '396126004': { f: 1, minutes: 2160 },
  '396131002': { f: 1, minutes: 2880 },
  '396143001': { f: 1, minutes: 4320 },
};

const TEXT_CODES: Array<[RegExp, string]> = [
  [/every other day|alternate days?|\bqod\b|\beod\b/i, 'QOD'],
  [/four times|\bqid\b|4 ?x ?\/? ?(a )?day/i, 'QID'],
  [/three times|\btid\b|3 ?x ?\/? ?(a )?day/i, 'TID'],
  [/twice|\bbid\b|2 ?x ?\/? ?(a )?day|every 12 hours|\bq12h\b/i, 'BID'],
  [/every 8 hours|\bq8h\b/i, 'Q8H'],
  [/every 6 hours|\bq6h\b/i, 'Q6H'],
  [/once (a )?week|weekly|every week/i, 'WK'],
  [/once (a )?month|monthly/i, 'MO'],
  [/once (a )?day|once daily|\bdaily\b|every day|\bqd\b|every 24 hours|\bq24h\b|every morning|at bedtime/i, 'QD'],
];

function fromCode(key: string): DosePattern | undefined {
  const gts = GTS_CODES[key];
  if (!gts) return undefined;
  return {
    dosesPerCycle: gts.f,
    cycle: gts.months ? { months: gts.months } : { minutes: gts.minutes! },
    doseScale: 1,
    notes: [],
    label: labelFor(gts.f, gts.months ? { months: gts.months } : { minutes: gts.minutes! }),
  };
}

function labelFor(f: number, cycle: DosePattern['cycle']): string {
  if ('months' in cycle) return cycle.months === 1 ? `${f}×/mo` : `${f}× every ${cycle.months} mo`;
  const days = cycle.minutes / MINUTES_PER_DAY;
  if (cycle.minutes === MINUTES_PER_DAY) return `${f}×/d`;
  if (cycle.minutes === 10080) return `${f}×/wk`;
  if (Number.isInteger(days)) return `${f}× every ${days} d`;
  return `${f}× every ${+(cycle.minutes / 60).toFixed(2)} h`;
}

const WEEKDAYS: Record<string, number> = { mon: 0, tue: 1, wed: 2, thu: 3, fri: 4, sat: 5, sun: 6 };

/**
 * Reduces a Timing to a dose pattern. Returns a problem when the timing cannot be read (a period without a
 * unit is never defaulted: pitfall P12) and a pattern with a note when no timing is given at all (P6).
 */
export function dosePattern(timing: Timing | undefined, rangePolicy: RangePolicy): DosePattern | TimingProblem {
  const repeat = timing?.repeat;
  const hasRepeatSchedule =
    repeat &&
    (repeat.frequency !== undefined ||
      repeat.period !== undefined ||
      repeat.dayOfWeek?.length ||
      repeat.timeOfDay?.length ||
      repeat.when?.length);
  let pattern: DosePattern | undefined;
  if (repeat && hasRepeatSchedule) {
    const notes: TimingNote[] = [];
    const dayCount = repeat.timeOfDay?.length || repeat.when?.length || 0;
    let f = repeat.frequency ?? (repeat.period === undefined && dayCount ? dayCount : 1);
    let scale = 1;
    if (repeat.frequencyMax !== undefined && repeat.frequencyMax > f) {
      notes.push({
        code: 'frequency-range',
        message: `frequency ${f}–${repeat.frequencyMax} counted at its ${rangePolicy === 'upper' ? 'upper bound' : 'midpoint'}`,
      });
      if (rangePolicy === 'upper') f = repeat.frequencyMax;
      else scale = (f + repeat.frequencyMax) / 2 / f;
    }
    let period = repeat.period ?? 1;
    const unit = repeat.periodUnit ?? (repeat.period === undefined ? 'd' : undefined);
    if (unit === undefined)
      return { code: 'period-without-unit', message: `timing.repeat.period ${repeat.period} has no periodUnit` };
    if (repeat.periodMax !== undefined && repeat.periodMax > period) {
      notes.push({
        code: 'frequency-range',
        message: `period ${period}–${repeat.periodMax} ${unit} counted at its ${rangePolicy === 'upper' ? 'shorter interval' : 'midpoint'}`,
      });
      if (rangePolicy === 'mid') period = (period + repeat.periodMax) / 2;
    }
    let cycle: DosePattern['cycle'];
    if (unit === 'mo' || unit === 'a') cycle = { months: period * (unit === 'a' ? 12 : 1) };
    else if (UNIT_MINUTES[unit] !== undefined) cycle = { minutes: Math.round(period * UNIT_MINUTES[unit]!) };
    else
      return {
        code: 'unknown-period-unit',
        message: `timing.repeat.periodUnit "${unit}" is not one of s, min, h, d, wk, mo, a`,
      };
    pattern = { dosesPerCycle: f, cycle, doseScale: scale, notes, label: labelFor(f, cycle) };
    if (repeat.dayOfWeek?.length) {
      // FHIR days-of-week (https://hl7.org/fhir/R4/valueset-days-of-week.html): mon … sun, nothing else. A day
      // that is not one is named, never dropped: its doses cannot be placed.
      const known = repeat.dayOfWeek.filter((d) => WEEKDAYS[d] !== undefined);
      const unknown = repeat.dayOfWeek.filter((d) => WEEKDAYS[d] === undefined);
      const shown = unknown.map((d) => JSON.stringify(String(d).slice(0, 20))).join(', ');
      if (unknown.length && !known.length)
        return {
          code: 'unknown-day-of-week',
          message: `timing.repeat.dayOfWeek ${shown} ${unknown.length === 1 ? 'is' : 'are'} not a day of the week (mon … sun); no dose can be placed`,
        };
      if (unknown.length)
        notes.push({
          code: 'unknown-day-of-week',
          message: `timing.repeat.dayOfWeek ${shown} ${unknown.length === 1 ? 'is' : 'are'} not a day of the week (mon … sun); the doses of ${unknown.length === 1 ? 'that day are' : 'those days are'} not counted`,
          lost: true,
        });
      const days = [...new Set(known.map((d) => WEEKDAYS[d]!))];
      const perDay = dayCount || ('minutes' in cycle && cycle.minutes === MINUTES_PER_DAY ? f : 1);
      pattern.daysOfWeek = { days, dosesPerDay: perDay };
      pattern.label = `${perDay}×/d on ${known.join(', ')}`;
    }
    // Doses on a dosing day, a frequency range's midpoint scale included (it multiplies the dose laid).
    const perDay = (pattern.daysOfWeek ? pattern.daysOfWeek.dosesPerDay : dosesPerDay(pattern)) * scale;
    if (!(perDay <= MAX_DOSES_PER_DAY))
      return {
        code: 'frequency-implausible',
        message: `timing ${describeRepeat(repeat, f)} gives ${Number.isFinite(perDay) ? `${Math.round(perDay)} doses` : 'unbounded doses'} a day (more than ${MAX_DOSES_PER_DAY}): not a plausible regimen, not counted`,
      };
  } else if (timing?.code) {
    for (const c of timing.code.coding ?? []) {
      if (!c.code) continue;
      const snomed = c.system === SNOMED ? SNOMED_FREQUENCY[c.code] : undefined;
      if (snomed) {
        pattern = {
          dosesPerCycle: snomed.f,
          cycle: { minutes: snomed.minutes },
          doseScale: 1,
          notes: [],
          label: labelFor(snomed.f, { minutes: snomed.minutes }),
        };
        break;
      }
      pattern = fromCode(c.code.toUpperCase());
      if (pattern) break;
    }
    if (!pattern) {
      const text = timing.code.text ?? timing.code.coding?.find((c) => c.display)?.display;
      const key = TEXT_CODES.find(([re]) => text && re.test(text))?.[1];
      if (key) pattern = fromCode(key);
    }
    if (!pattern) {
      const shown = timing.code.coding?.[0]?.code ?? timing.code.text ?? '(empty)';
      return { code: 'unknown-timing-code', message: `timing.code ${shown} is not a known frequency` };
    }
  } else {
    pattern = {
      dosesPerCycle: 1,
      cycle: { minutes: MINUTES_PER_DAY },
      doseScale: 1,
      notes: [{ code: 'timing-assumed-once-daily', message: 'no timing given; assumed once daily' }],
      label: '1×/d (assumed)',
    };
  }
  const clocks = repeat?.timeOfDay?.map(clockMs).filter((c): c is number => c !== undefined);
  if (clocks?.length) pattern.clocks = [...new Set(clocks)].sort((a, b) => a - b);
  if (repeat?.count !== undefined) {
    pattern.count = repeat.count;
    if (repeat.countMax !== undefined && repeat.countMax > repeat.count) {
      pattern.notes.push({
        code: 'count-range',
        message: `count ${repeat.count}–${repeat.countMax} counted at its ${rangePolicy === 'upper' ? 'upper bound' : 'lower bound'}`,
      });
      if (rangePolicy === 'upper') pattern.count = repeat.countMax;
    }
  }
  return pattern;
}

/** "1 every 1 min" (what the record says, for a message); `f` is the frequency as read (timeOfDay counted). */
function describeRepeat(r: NonNullable<Timing['repeat']>, f: number): string {
  const freq =
    r.frequencyMax !== undefined && r.frequencyMax > (r.frequency ?? 1)
      ? `${r.frequency ?? 1}–${r.frequencyMax}`
      : String(f);
  const p =
    r.periodMax !== undefined && r.periodMax > (r.period ?? 1)
      ? `${r.period ?? 1}–${r.periodMax}`
      : String(r.period ?? 1);
  return `${freq} every ${p} ${r.periodUnit ?? 'd'}${r.dayOfWeek?.length ? ` on ${r.dayOfWeek.length} weekday(s)` : ''}`;
}

export function isTimingProblem(p: DosePattern | TimingProblem): p is TimingProblem {
  return !('dosesPerCycle' in p);
}

/** Average doses per day of a pattern (for the current daily dose and for supply durations). */
export function dosesPerDay(p: DosePattern): number {
  if (p.daysOfWeek) return (p.daysOfWeek.days.length * p.daysOfWeek.dosesPerDay) / 7;
  if ('months' in p.cycle) return p.dosesPerCycle / (p.cycle.months * (365.25 / 12));
  return (p.dosesPerCycle * MINUTES_PER_DAY) / p.cycle.minutes;
}

/** "07:00:00" → ms after midnight; undefined when the text is not a time. */
function clockMs(text: string): number | undefined {
  const m = /^(\d{2}):(\d{2})(?::(\d{2}))?/.exec(text);
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const sec = Number(m[3] ?? 0);
  if (h > 23 || min > 59 || sec > 59) return undefined;
  return ((h * 60 + min) * 60 + sec) * 1000;
}
