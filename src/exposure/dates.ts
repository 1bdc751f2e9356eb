/**
 * Calendar-day arithmetic for exposure counting.
 *
 * Doses are counted per calendar day (PRODUCT.md, counting conventions), so every FHIR date or dateTime is
 * reduced to the calendar date written in it. The time of day and the offset are deliberately not used:
 * "2024-01-31T23:00:00-05:00" is 31 January, the day the clinician recorded, not 1 February in UTC.
 */

const MS_PER_DAY = 86_400_000;

/** A day number: days since 1970-01-01. */
export type Day = number;

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/;

export interface ParsedDate {
  day: Day;
  /** 'year' | 'month' | 'day' precision of the written value; dateTime counts as 'day'. */
  precision: 'year' | 'month' | 'day';
  /** The instant in ms when the value carries a time with an offset (for infusion durations). */
  instantMs?: number;
}

/** Parses a FHIR date or dateTime. Returns undefined when the text is not one. */
export function parseFhirDate(text: string | undefined): ParsedDate | undefined {
  if (!text) return undefined;
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) : 1;
  const dayOfMonth = m[3] ? Number(m[3]) : 1;
  if (month < 1 || month > 12 || dayOfMonth < 1 || dayOfMonth > 31) return undefined;
  const precision = m[3] ? 'day' : m[2] ? 'month' : 'year';
  const parsed: ParsedDate = { day: Date.UTC(year, month - 1, dayOfMonth) / MS_PER_DAY, precision };
  if (text.length > 10 && text[10] === 'T') {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) parsed.instantMs = ms;
  }
  return parsed;
}

/** The last calendar day a partial date covers: "2024-02" ends on 29 February 2024. */
export function endDayOf(parsed: ParsedDate): Day {
  if (parsed.precision === 'day') return parsed.day;
  const d = new Date(parsed.day * MS_PER_DAY);
  if (parsed.precision === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0) / MS_PER_DAY;
  return Date.UTC(d.getUTCFullYear(), 11, 31) / MS_PER_DAY;
}

export function dayFromIso(date: string): Day {
  const parsed = parseFhirDate(date);
  if (!parsed || parsed.precision !== 'day') throw new Error(`Not a calendar date (YYYY-MM-DD): ${date}`);
  return parsed.day;
}

export function isoFromDay(day: Day): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** Adds calendar months, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb). */
export function addMonths(day: Day, months: number): Day {
  const d = new Date(day * MS_PER_DAY);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const lastOfTarget = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), lastOfTarget)) / MS_PER_DAY;
}

/** ISO weekday of a day number: 0 = Monday … 6 = Sunday. */
export function weekdayOf(day: Day): number {
  // 1970-01-01 was a Thursday (ISO index 3).
  return (((day + 3) % 7) + 7) % 7;
}
