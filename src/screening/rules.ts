/**
 * The screening rules (README, "CDS Hooks behaviour"), pure: exposure, WB-MRI history and findings in; decisions out.
 *
 * - Baseline: cumulative ≥ threshold and no WB-MRI on or after the crossing day, and none ordered → due.
 * - Follow-up: after a WB-MRI, while glucocorticoid exposure continues, the next is due 3 months after it
 *   and overdue 6 months after it (Huang 2017: follow-up at 3–6 months found new lesions).
 * - Findings: any osteonecrosis on the last WB-MRI, with the lesions at high risk of collapse called out.
 */
import { addMonths, dayFromIso, isoFromDay } from '../exposure/dates.ts';
import type { ExposureSummary } from '../exposure/index.ts';
import type { Finding, WbMriOrder, WbMriStudy } from './imaging.ts';

export interface ScreeningConfig {
  followUpDueMonths: number;
  followUpOverdueMonths: number;
}

export const DEFAULT_SCREENING_CONFIG: ScreeningConfig = { followUpDueMonths: 3, followUpOverdueMonths: 6 };

export type Decision =
  | { kind: 'exposure-unknown' }
  | { kind: 'below-threshold'; projectedOn: string | null }
  | { kind: 'baseline-due'; crossedOn: string }
  | { kind: 'baseline-ordered'; crossedOn: string; order: WbMriOrder }
  | { kind: 'follow-up-scheduled'; lastStudy: WbMriStudy; dueFrom: string; overdueFrom: string }
  | { kind: 'follow-up-due'; lastStudy: WbMriStudy; dueFrom: string; overdueFrom: string }
  | { kind: 'follow-up-overdue'; lastStudy: WbMriStudy; dueFrom: string; overdueFrom: string }
  | { kind: 'follow-up-ordered'; lastStudy: WbMriStudy; order: WbMriOrder }
  | { kind: 'screened-exposure-stopped'; lastStudy: WbMriStudy };

export interface FindingsDecision {
  studyDate: string;
  findings: Finding[];
  highCollapseRisk: boolean;
}

export interface ScreeningInput {
  asOf: string;
  exposure: ExposureSummary;
  studies: WbMriStudy[];
  openOrders: WbMriOrder[];
  findings: Finding[];
  config?: ScreeningConfig;
}

export interface ScreeningResult {
  decision: Decision;
  lastFindings: FindingsDecision | null;
}

export function screen(input: ScreeningInput): ScreeningResult {
  const config = input.config ?? DEFAULT_SCREENING_CONFIG;
  const studies = input.studies.filter((s) => s.date <= input.asOf);
  const lastStudy = studies[studies.length - 1];
  const x = input.exposure;
  const crossedOn = x.threshold.crossedOn;
  return { decision: decide(), lastFindings: findingsOf(input.findings, input.asOf) };

  function decide(): Decision {
    if (x.cumulativeMg === null) return { kind: 'exposure-unknown' };
    if (crossedOn && (!lastStudy || lastStudy.date < crossedOn)) {
      const order = input.openOrders.find((o) => o.date >= crossedOn);
      return order ? { kind: 'baseline-ordered', crossedOn, order } : { kind: 'baseline-due', crossedOn };
    }
    if (!lastStudy) return { kind: 'below-threshold', projectedOn: x.threshold.projectedOn };
    const continuing = (x.currentDailyMg ?? 0) > 0;
    if (!continuing)
      return crossedOn
        ? { kind: 'screened-exposure-stopped', lastStudy }
        : { kind: 'below-threshold', projectedOn: null };
    const last = dayFromIso(lastStudy.date);
    const dueFrom = isoFromDay(addMonths(last, config.followUpDueMonths));
    const overdueFrom = isoFromDay(addMonths(last, config.followUpOverdueMonths));
    const order = input.openOrders.find((o) => o.date > lastStudy.date);
    if (order) return { kind: 'follow-up-ordered', lastStudy, order };
    if (input.asOf >= overdueFrom) return { kind: 'follow-up-overdue', lastStudy, dueFrom, overdueFrom };
    if (input.asOf >= dueFrom) return { kind: 'follow-up-due', lastStudy, dueFrom, overdueFrom };
    return { kind: 'follow-up-scheduled', lastStudy, dueFrom, overdueFrom };
  }
}

function findingsOf(findings: Finding[], asOf: string): FindingsDecision | null {
  const dated = findings.filter((f) => f.date <= asOf);
  if (!dated.length) return null;
  const latest = dated.reduce((m, f) => (f.date > m ? f.date : m), dated[0]!.date);
  const atLatest = dated.filter((f) => f.date === latest);
  const present = atLatest.filter((f) => f.present);
  if (!present.length) return null;
  return { studyDate: latest, findings: present, highCollapseRisk: present.some((f) => f.highCollapseRisk) };
}
