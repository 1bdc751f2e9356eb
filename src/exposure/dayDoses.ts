/**
 * The ingredient mg a record lays on calendar days, kept as runs of consecutive days with the same amount
 * (flat [from, to, mg] triples). A two-year daily regimen is a handful of numbers rather than hundreds of
 * map entries; the engine sums runs straight into its dense per-day array. Concurrent dosages of one
 * record (10 mg morning + 5 mg evening) give overlapping runs: amounts add up, days count once.
 */
import type { Day } from './dates.ts';

export class DayDoses {
  private readonly runs: number[] = [];
  /** Set when a day at or before the latest one so far is added; only then must `size` merge runs. */
  private overlapping = false;
  private maxTo = Number.NEGATIVE_INFINITY;

  /** Adds `mg` on `day` (to whatever the day already has). */
  add(day: Day, mg: number): void {
    const r = this.runs;
    const n = r.length;
    if (n > 0 && r[n - 2] === day - 1 && r[n - 1] === mg && day - 1 === this.maxTo) {
      r[n - 2] = day;
      this.maxTo = day;
      return;
    }
    if (day <= this.maxTo) this.overlapping = true;
    else this.maxTo = day;
    r.push(day, day, mg);
  }

  /** Adds `mg` on every day from `from` to `to` inclusive (one run, however long). */
  addRun(from: Day, to: Day, mg: number): void {
    if (to < from) return;
    const r = this.runs;
    const n = r.length;
    if (n > 0 && r[n - 2] === from - 1 && r[n - 1] === mg && from - 1 === this.maxTo) {
      r[n - 2] = to;
      this.maxTo = to;
      return;
    }
    if (from <= this.maxTo) this.overlapping = true;
    this.maxTo = Math.max(this.maxTo, to);
    r.push(from, to, mg);
  }

  get isEmpty(): boolean {
    return this.runs.length === 0;
  }

  /** Distinct days with a dose. */
  get size(): number {
    const r = this.runs;
    if (!this.overlapping) {
      let n = 0;
      for (let i = 0; i < r.length; i += 3) n += r[i + 1]! - r[i]! + 1;
      return n;
    }
    const spans: Array<[number, number]> = [];
    for (let i = 0; i < r.length; i += 3) spans.push([r[i]!, r[i + 1]!]);
    spans.sort((a, b) => a[0] - b[0]);
    let n = 0;
    let end = Number.NEGATIVE_INFINITY;
    for (const [from, to] of spans) {
      if (to <= end) continue;
      n += to - Math.max(from, end + 1) + 1;
      end = to;
    }
    return n;
  }

  get first(): Day {
    let d = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.runs.length; i += 3) d = Math.min(d, this.runs[i]!);
    return d;
  }

  get last(): Day {
    let d = Number.NEGATIVE_INFINITY;
    for (let i = 1; i < this.runs.length; i += 3) d = Math.max(d, this.runs[i]!);
    return d;
  }

  /** Total mg, added day by day (the same sum, to the last bit, as adding each day's dose in turn). */
  get total(): number {
    const r = this.runs;
    let sum = 0;
    for (let i = 0; i < r.length; i += 3) for (let d = r[i]!; d <= r[i + 1]!; d++) sum += r[i + 2]!;
    return sum;
  }

  /** Adds every day's mg × factor into `perDay`, whose index 0 is `offset`. */
  addInto(perDay: Float64Array, offset: Day, factor: number): void {
    const r = this.runs;
    for (let i = 0; i < r.length; i += 3) {
      const v = r[i + 2]! * factor;
      for (let d = r[i]!; d <= r[i + 1]!; d++) perDay[d - offset]! += v;
    }
  }
}
