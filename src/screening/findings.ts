/**
 * What the WB-MRIs found, across studies: every joint and side known to be affected, each with its latest
 * read. A follow-up report that lists only new sites must not hide a known lesion, and a later read of a
 * site that says "absent" is the latest word on that site. Pure.
 *
 * Collapsed joints are named as collapsed (irreversible: orthopaedic management). Pre-collapse lesions at high
 * risk of collapse — hip over 2/3 of the weight-bearing area or Steinberg severe, knee over 50 % of the
 * articular surface — are named as such: joint-preserving treatment is still possible (Huang 2017).
 */
import type { Finding } from './imaging.ts';

export interface FindingsDecision {
  /** The latest read of each affected joint and side, most severe first, then by joint. */
  affected: Finding[];
  collapsed: Finding[];
  /** Pre-collapse lesions at high risk of collapse. */
  highRisk: Finding[];
  /** The date of the latest study that reported any site. */
  latestRead: string;
}

const siteKey = (f: Finding) => `${f.joint}|${f.side ?? ''}`;
const severity = (f: Finding) => (f.collapse ? 2 : f.highCollapseRisk ? 1 : 0);

export function findingsAcrossStudies(findings: Finding[], asOf: string): FindingsDecision | null {
  const latest = new Map<string, Finding>();
  for (const f of findings) {
    if (f.date > asOf) continue;
    const prior = latest.get(siteKey(f));
    if (!prior || f.date > prior.date) latest.set(siteKey(f), f);
  }
  const affected = [...latest.values()]
    .filter((f) => f.present)
    .sort((a, b) => severity(b) - severity(a) || (a.joint < b.joint ? -1 : a.joint > b.joint ? 1 : 0));
  if (!affected.length) return null;
  return {
    affected,
    collapsed: affected.filter((f) => f.collapse),
    highRisk: affected.filter((f) => !f.collapse && f.highCollapseRisk),
    latestRead: [...latest.values()].reduce((m, f) => (f.date > m ? f.date : m), ''),
  };
}
