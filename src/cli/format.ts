/** Human-readable rendering of an exposure summary for the terminal. */
import { mg } from '../exposure/format.ts';
import type { ExposureSummary } from '../exposure/index.ts';

export function formatExposure(s: ExposureSummary): string {
  const lines: string[] = [];
  lines.push(
    `Patient ${s.patient ?? '(all records)'} — glucocorticoid exposure as of ${s.asOf} (prednisolone-equivalent)`,
  );
  lines.push('');
  const total =
    s.cumulativeMg === null
      ? 'unknown (no record could be quantified; see issues)'
      : `${mg(s.cumulativeMg)}${s.cumulativeIsLowerBound ? ' (at least: some records could not be quantified)' : ''}`;
  lines.push(`  Cumulative dose      ${total}`);
  lines.push(`  Current daily dose   ${mg(s.currentDailyMg)}`);
  lines.push(`  First exposure       ${s.firstExposure ?? '—'}`);
  const t = s.threshold;
  const crossing = t.crossedOn
    ? `crossed on ${t.crossedOn}`
    : t.projectedOn
      ? `not reached; on ${t.projectedOn} if taken as recorded`
      : 'not reached';
  lines.push(`  Threshold ${mg(t.mg).padEnd(10)} ${crossing}`);
  lines.push('');
  if (s.contributions.length === 0) lines.push('No glucocorticoid records.');
  else {
    const rows = s.contributions.map((c) => [
      c.source,
      c.ingredient,
      c.route,
      String(c.days),
      c.status === 'counted' ? mg(c.mg) : c.status === 'unquantified' ? 'unknown' : `0 mg (${c.status})`,
    ]);
    const header = ['Record', 'Ingredient', 'Route', 'Days', 'Pred-eq'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
    lines.push(line(header));
    lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const [i, r] of rows.entries()) {
      lines.push(line(r));
      lines.push(`    ${s.contributions[i]!.derivation}`);
    }
  }
  if (s.issues.length) {
    lines.push('');
    lines.push(`Issues (${s.issues.length}):`);
    for (const i of s.issues) lines.push(`  [${i.severity}] ${i.source} ${i.code}: ${i.message}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The JSON of the README (CLI), plus the threshold and per-contribution detail; the timeline on request. */
export function exposureJson(s: ExposureSummary, withTimeline: boolean): unknown {
  const { timeline, ...rest } = s;
  return withTimeline ? { ...rest, timeline } : rest;
}
