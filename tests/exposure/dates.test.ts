import { describe, expect, it } from 'vitest';
import {
  addMonths,
  dayFromIso,
  dayIn,
  endDayOf,
  isoFromDay,
  parseFhirDate,
  weekdayOf,
} from '../../src/exposure/dates.ts';

describe('calendar days', () => {
  it('isoFromDay agrees with Date for every day from 1900 to 2100', () => {
    for (let d = dayFromIso('1900-01-01'); d <= dayFromIso('2100-12-31'); d += 1) {
      const expected = new Date(d * 86_400_000).toISOString().slice(0, 10);
      if (isoFromDay(d) !== expected) throw new Error(`day ${d}: ${isoFromDay(d)} != ${expected}`);
    }
  });

  it('takes the written calendar date of a dateTime, whatever its offset', () => {
    expect(isoFromDay(parseFhirDate('2024-01-31T23:00:00-05:00')!.day)).toBe('2024-01-31');
    expect(parseFhirDate('2024-01-31T23:00:00-05:00')!.instantMs).toBe(Date.parse('2024-02-01T04:00:00Z'));
  });

  it('rejects dates that do not exist and non-dates', () => {
    expect(parseFhirDate('2025-02-30')).toBeUndefined();
    expect(parseFhirDate('2025-13-01')).toBeUndefined();
    expect(() => dayFromIso('2025-1-1')).toThrow();
    expect(() => dayFromIso('2024-02-29')).not.toThrow();
  });

  it('a year 0–99 is that year, not 1900–1999 (Date.UTC would make 0024 into 1924)', () => {
    expect(isoFromDay(parseFhirDate('0024-02-29')!.day)).toBe('0024-02-29');
    expect(isoFromDay(parseFhirDate('0000-01-01')!.day)).toBe('0000-01-01');
    expect(parseFhirDate('0099-12-31')!.day).toBeLessThan(parseFhirDate('1900-01-01')!.day);
    expect(isoFromDay(endDayOf(parseFhirDate('0050-02')!))).toBe('0050-02-28');
    expect(isoFromDay(addMonths(dayFromIso('0099-12-31'), 2))).toBe('0100-02-28');
  });

  it('partial dates cover their whole month or year', () => {
    expect(isoFromDay(endDayOf(parseFhirDate('2024-02')!))).toBe('2024-02-29');
    expect(isoFromDay(endDayOf(parseFhirDate('2023')!))).toBe('2023-12-31');
  });

  it('adds calendar months, clamping to the month end', () => {
    expect(isoFromDay(addMonths(dayFromIso('2024-01-31'), 1))).toBe('2024-02-29');
    expect(isoFromDay(addMonths(dayFromIso('2023-12-15'), 2))).toBe('2024-02-15');
  });

  it('knows weekdays (2024-01-01 was a Monday)', () => {
    expect(weekdayOf(dayFromIso('2024-01-01'))).toBe(0);
    expect(weekdayOf(dayFromIso('2024-01-07'))).toBe(6);
  });
});

describe("dayIn: the clinic's day", () => {
  it('is the calendar day in the time zone, written YYYY-MM-DD whatever the locale data', () => {
    const at = new Date('2026-06-30T22:00:00Z');
    expect(dayIn(at)).toBe('2026-06-30');
    expect(dayIn(at, 'UTC')).toBe('2026-06-30');
    expect(dayIn(at, 'Asia/Tokyo')).toBe('2026-07-01');
    expect(dayIn(new Date('2026-07-01T03:00:00Z'), 'America/Los_Angeles')).toBe('2026-06-30');
    // Across a year and a daylight-saving change.
    expect(dayIn(new Date('2026-12-31T23:30:00Z'), 'Europe/Zurich')).toBe('2027-01-01');
    expect(dayIn(new Date('2026-03-29T00:30:00Z'), 'Europe/Zurich')).toBe('2026-03-29');
    expect(() => dayIn(at, 'Mars/Olympus')).toThrow(RangeError);
  });
});
