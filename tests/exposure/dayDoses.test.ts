import { describe, expect, it } from 'vitest';
import { DayDoses } from '../../src/exposure/dayDoses.ts';

describe('doses laid on days', () => {
  it('keeps consecutive equal days as one run and totals day by day', () => {
    const d = new DayDoses();
    for (let day = 100; day < 131; day++) d.add(day, 20);
    for (let day = 131; day < 141; day++) d.add(day, 10);
    expect(d.size).toBe(41);
    expect(d.total).toBe(31 * 20 + 10 * 10);
    expect([d.first, d.last]).toEqual([100, 140]);
    const perDay = new Float64Array(50);
    d.addInto(perDay, 95, 1.25);
    expect(perDay[5]).toBe(25);
    expect(perDay[45]).toBe(12.5);
    expect(perDay[4]).toBe(0);
  });

  it('concurrent dosages on the same days add their amounts and count each day once', () => {
    const d = new DayDoses();
    for (let day = 10; day <= 19; day++) d.add(day, 10); // morning
    for (let day = 15; day <= 24; day++) d.add(day, 5); // evening, overlapping
    expect(d.size).toBe(15);
    expect(d.total).toBe(10 * 10 + 10 * 5);
    const perDay = new Float64Array(30);
    d.addInto(perDay, 0, 1);
    expect([perDay[14], perDay[15], perDay[19], perDay[20]]).toEqual([10, 15, 15, 5]);
  });

  it('every other day: separate runs; empty until a dose is added', () => {
    const d = new DayDoses();
    expect(d.isEmpty).toBe(true);
    for (let day = 0; day < 10; day += 2) d.add(day, 40);
    expect(d.isEmpty).toBe(false);
    expect(d.size).toBe(5);
    expect(d.total).toBe(200);
    d.add(4, 0); // a zero dose on a day already counted does not make a new day
    expect(d.size).toBe(5);
  });
});
