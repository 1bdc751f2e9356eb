/**
 * Calendar-day arithmetic for exposure counting.
 *
 * Doses are counted per calendar day (README, counting conventions), so every FHIR date or dateTime is
 * reduced to the calendar date written in it. The offset is deliberately not used: "2024-01-31T23:00:00-05:00"
 * is 31 January, the day the clinician recorded, not 1 February in UTC. Where a value carries a time, that
 * written time is kept as a wall-clock instant (the same date and time, offset ignored), so that a taper step
 * ending at 18:16:59 and the next one starting at 18:17:00 can share a calendar day without sharing its doses.
 */

const MS_PER_DAY = 86_400_000;
/** Milliseconds per day, for wall-clock instants (day number × DAY_MS is that day's midnight). */
export const DAY_MS = MS_PER_DAY;

/** A day number: days since 1970-01-01. */
export type Day = number;

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysInMonth = (y: number, m: number): number => (m === 2 && isLeap(y) ? 29 : MONTH_DAYS[m - 1]!);

/**
 * Date.UTC, except that a year 0–99 is that year: Date.UTC maps it to 1900–1999 (ECMA-262 MakeFullYear), which
 * would read "0024-01-01" as 1924. Month and day overflow as in Date.UTC.
 */
function utc(year: number, month0: number, day: number): number {
  if (year >= 100) return Date.UTC(year, month0, day);
  const t = new Date(0);
  t.setUTCFullYear(year, month0, day);
  return t.getTime();
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/;
const TIME_RE = /^T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?/;

export interface ParsedDate {
  day: Day;
  /** 'year' | 'month' | 'day' precision of the written value; dateTime counts as 'day'. */
  precision: 'year' | 'month' | 'day';
  /** The instant in ms when the value carries a time with an offset (for infusion durations). */
  instantMs?: number;
  /** True when the value carries a time of day. */
  hasTime: boolean;
  /** Wall-clock ms of the written date and time (offset ignored; midnight for a date). */
  wallMs: number;
  /**
   * Wall-clock ms just after the last moment the value covers: FHIR period ends are inclusive, so
   * "2024-01-10" ends at midnight after 10 January and "…T18:16:59" at 18:17:00.
   */
  wallEndMs: number;
}

// The same dates recur (a record's period is read several times, a patient's records on every hook call).
const parsedCache = new Map<string, ParsedDate | null>();

/** Parses a FHIR date or dateTime. Returns undefined when the text is not one. */
export function parseFhirDate(text: string | undefined): ParsedDate | undefined {
  if (!text) return undefined;
  const hit = parsedCache.get(text);
  if (hit !== undefined) return hit ?? undefined;
  const parsed = parseUncached(text);
  if (parsedCache.size >= 50_000) parsedCache.clear();
  parsedCache.set(text, parsed ?? null);
  return parsed;
}

function parseUncached(text: string): ParsedDate | undefined {
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) : 1;
  const dayOfMonth = m[3] ? Number(m[3]) : 1;
  if (month < 1 || month > 12 || dayOfMonth < 1 || dayOfMonth > 31) return undefined;
  const precision = m[3] ? 'day' : m[2] ? 'month' : 'year';
  // Reject dates that do not exist (2025-02-30) instead of letting Date roll them over.
  if (dayOfMonth > daysInMonth(year, month)) return undefined;
  const midnight = utc(year, month - 1, dayOfMonth);
  const day = midnight / MS_PER_DAY;
  const parsed: ParsedDate = { day, precision, hasTime: false, wallMs: midnight, wallEndMs: 0 };
  parsed.wallEndMs = (endDayOf(parsed) + 1) * MS_PER_DAY;
  const t = precision === 'day' ? TIME_RE.exec(text.slice(10)) : null;
  if (t) {
    const h = Number(t[1]);
    const min = Number(t[2]);
    const sec = t[3] ? Number(t[3]) : 0;
    if (h < 24 && min < 60 && sec < 60) {
      const frac = t[4] ? t[4].slice(0, 3) : '';
      const ms = frac ? Number(frac.padEnd(3, '0')) : 0;
      parsed.hasTime = true;
      parsed.wallMs = midnight + ((h * 60 + min) * 60 + sec) * 1000 + ms;
      // The written precision is covered whole: seconds end a second later, minutes a minute later.
      parsed.wallEndMs = parsed.wallMs + (frac ? 10 ** (3 - frac.length) : t[3] ? 1000 : 60_000);
    }
    const instant = Date.parse(text);
    if (!Number.isNaN(instant)) parsed.instantMs = instant;
  }
  return parsed;
}

/** The last calendar day a partial date covers: "2024-02" ends on 29 February 2024. */
export function endDayOf(parsed: ParsedDate): Day {
  if (parsed.precision === 'day') return parsed.day;
  const d = new Date(parsed.day * MS_PER_DAY);
  if (parsed.precision === 'month') return utc(d.getUTCFullYear(), d.getUTCMonth() + 1, 0) / MS_PER_DAY;
  return utc(d.getUTCFullYear(), 11, 31) / MS_PER_DAY;
}

// One formatter per time zone: building an Intl.DateTimeFormat costs more than formatting with it.
const dayFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * The calendar day (YYYY-MM-DD) it is at `at` in an IANA time zone: the clinic's "today", one rule for the cards,
 * the timeline, audit queries and surveillance runs, so that they agree on what day it is near midnight.
 * formatToParts, not a locale's date string, whose order depends on the ICU data Node was built with.
 */
export function dayIn(at: Date, timeZone = 'UTC'): string {
  let f = dayFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, f);
  }
  const parts = f.formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export function dayFromIso(date: string): Day {
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(date) ? parseFhirDate(date) : undefined;
  if (parsed?.precision !== 'day') throw new Error(`Not a calendar date (YYYY-MM-DD): ${date}`);
  return parsed.day;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

// Timelines name the same few thousand days over and over: remember them (bounded, day numbers only).
const isoCache = new Map<Day, string>();
const ISO_CACHE_MAX = 50_000;

/** Day number → "YYYY-MM-DD" (Hinnant's civil-from-days; Date#toISOString was the engine's hot spot). */
export function isoFromDay(day: Day): string {
  let iso = isoCache.get(day);
  if (iso === undefined) {
    iso = civilFromDay(day);
    if (isoCache.size >= ISO_CACHE_MAX) isoCache.clear();
    isoCache.set(day, iso);
  }
  return iso;
}

function civilFromDay(day: Day): string {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y < 1000 && y >= 0 ? String(y).padStart(4, '0') : y}-${pad2(m)}-${pad2(d)}`;
}

/** Adds calendar months, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb). */
export function addMonths(day: Day, months: number): Day {
  const d = new Date(day * MS_PER_DAY);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const lastOfTarget = new Date(utc(y, m + 1, 0)).getUTCDate();
  return utc(y, m, Math.min(d.getUTCDate(), lastOfTarget)) / MS_PER_DAY;
}

/** ISO weekday of a day number: 0 = Monday … 6 = Sunday. */
export function weekdayOf(day: Day): number {
  // 1970-01-01 was a Thursday (ISO index 3).
  return (((day + 3) % 7) + 7) % 7;
}
