/**
 * Decisions → CDS Hooks cards. Every card has a uuid, a summary under 140 characters with the numbers, a
 * GitHub-flavoured Markdown detail (the exposure in brief, data-quality problems, the evidence), a source,
 * override reasons with displays and a SMART link to the exposure timeline; due cards carry a one-click
 * draft ServiceRequest for STIR whole-body MRI.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceRequest } from '@medplum/fhirtypes';
import type { ExposureSummary } from '../exposure/index.ts';
import { wbMriServiceRequest } from '../profiles/wbMriServiceRequest.ts';
import type { FindingsDecision, ScreeningResult } from '../screening/rules.ts';
import {
  type CardCoding,
  FINDINGS_OVERRIDE_REASONS,
  OVERRIDE_REASONS,
  SCREENING_TOPIC,
} from '../terminology/cardCodes.ts';
import { dataQualitySentences } from './dataQuality.ts';
import { formatMg } from './format.ts';

export type Coding = CardCoding;

export interface Card {
  uuid: string;
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; topic?: Coding };
  suggestions?: Array<{
    label: string;
    uuid: string;
    isRecommended?: boolean;
    actions: Array<{ type: 'create'; description: string; resource: ServiceRequest }>;
  }>;
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: Coding[];
  links?: Array<{ label: string; url: string; type: 'absolute' | 'smart'; appContext?: string }>;
}

const EVIDENCE =
  'In 129 patients with polymyositis/dermatomyositis, coronal STIR whole-body MRI found osteonecrosis in 15; 33 of the 38 affected joints had no symptoms, ' +
  'and every affected patient had received 3,100–18,950 mg prednisolone-equivalent. A follow-up WB-MRI 3–6 months later found new lesions in patients whose first scan was clean ' +
  '(Huang et al., Br J Radiol 2017;90:20160780, [doi:10.1259/bjr.20160780](https://doi.org/10.1259/bjr.20160780)). ' +
  'No guideline yet recommends screening at a cumulative-dose threshold: this prompt rests on that study.';

export interface CardContext {
  patientId: string;
  asOf: string;
  exposure: ExposureSummary;
  publicUrl: string;
  /**
   * The SMART launch URL of the exposure timeline app, when the service serves one. Until then cards carry no
   * link: a link to a page that does not exist is worse than none.
   */
  timelineLaunchUrl?: string;
}

const mg = (n: number | null): string => (n === null ? 'unknown' : `${formatMg(n)} mg`);
const md = (s: string): string => s.replace(/([\\`*_[\]<>|#])/g, '\\$1');

/** CDS Hooks: summary "<140-character" — counted in code points; cut with an ellipsis if ever longer. */
export function fitSummary(s: string): string {
  const cps = [...s];
  return cps.length <= 139 ? s : `${cps.slice(0, 138).join('')}…`;
}

function exposureDetail(c: CardContext): string {
  const x = c.exposure;
  const lines: string[] = [];
  const crossing = x.threshold.crossedOn
    ? `, crossed on ${x.threshold.crossedOn}`
    : x.threshold.projectedOn
      ? `, reached on ${x.threshold.projectedOn} at the current dose`
      : '';
  lines.push(
    `**Cumulative prednisolone-equivalent dose: ${mg(x.cumulativeMg)}${x.cumulativeIsLowerBound ? ' (at least)' : ''}** as of ${x.asOf} ` +
      `(screening threshold ${mg(x.threshold.mg)}${crossing}). Current dose ${x.currentDailyMg === null ? 'unknown' : `${mg(x.currentDailyMg)}/day`}.`,
  );
  const counted = x.contributions
    .filter((k) => k.status === 'counted' && (k.mg ?? 0) > 0)
    .sort((a, b) => (b.mg ?? 0) - (a.mg ?? 0));
  if (counted.length) {
    lines.push('', '| Record | Glucocorticoid | Route | Days | Pred-eq |', '|---|---|---|---:|---:|');
    for (const k of counted.slice(0, 8))
      lines.push(`| ${md(k.source)} | ${md(k.ingredient)} | ${md(k.route)} | ${k.days} | ${mg(k.mg)} |`);
    if (counted.length > 8)
      lines.push(
        `| … ${counted.length - 8} more records | | | | ${mg(counted.slice(8).reduce((s, k) => s + (k.mg ?? 0), 0))} |`,
      );
  }
  const quality = dataQualitySentences(x);
  if (quality.length) lines.push('', `**Data quality:** ${quality.map(md).join(' ')}`);
  lines.push('', `**Evidence:** ${EVIDENCE}`);
  return lines.join('\n');
}

/** The link to the exposure timeline app, on every card, when the app is served. */
export function timelineLink(c: CardContext): Pick<Card, 'links'> {
  if (!c.timelineLaunchUrl) return {};
  return {
    links: [
      {
        label: 'Glucocorticoid exposure timeline',
        url: c.timelineLaunchUrl,
        type: 'smart',
        appContext: JSON.stringify({ patient: c.patientId, view: 'exposure-timeline' }),
      },
    ],
  };
}

/** The one-click draft order for STIR whole-body MRI that due cards carry. */
export function orderSuggestion(
  c: CardContext,
  window: { start: string; end?: string },
  reason: string,
  label = 'Order STIR whole-body MRI, no contrast',
): Pick<Card, 'suggestions' | 'selectionBehavior'> {
  return {
    selectionBehavior: 'at-most-one',
    suggestions: [
      {
        label,
        uuid: randomUUID(),
        isRecommended: true,
        actions: [
          {
            type: 'create',
            description:
              'Draft order: STIR whole-body MRI without contrast (LOINC 46358-8) for osteonecrosis screening',
            resource: wbMriServiceRequest(c.patientId, window, reason),
          },
        ],
      },
    ],
  };
}

/** What every card has: uuid, summary fitted to 140 characters, detail, source and topic, override reasons, link. */
export const baseCard = (c: CardContext, indicator: Card['indicator'], summary: string, detail: string): Card => ({
  uuid: randomUUID(),
  summary: fitSummary(summary),
  detail,
  indicator,
  source: { label: 'OsteoWatch', url: c.publicUrl, topic: SCREENING_TOPIC },
  overrideReasons: OVERRIDE_REASONS,
  ...timelineLink(c),
});

export function screeningCards(c: CardContext, result: ScreeningResult): Card[] {
  const cards: Card[] = [];
  const x = c.exposure;
  const d = result.decision;
  const reason = `Cumulative glucocorticoid exposure ${mg(x.cumulativeMg)} prednisolone-equivalent (screening threshold ${mg(x.threshold.mg)}); osteonecrosis screening`;
  switch (d.kind) {
    case 'exposure-unknown':
      cards.push(
        baseCard(
          c,
          'info',
          'Cumulative glucocorticoid dose could not be computed: see data quality; WB-MRI screening status unknown',
          exposureDetail(c),
        ),
      );
      break;
    case 'below-threshold': {
      const daily = x.currentDailyMg ?? 0;
      const tail =
        d.projectedOn && daily > 0
          ? `; at ${mg(daily)}/day reaches ${mg(x.threshold.mg)} on ${d.projectedOn}`
          : '; no current glucocorticoid dose';
      cards.push(
        baseCard(c, 'info', `Glucocorticoid exposure ${mg(x.cumulativeMg)} prednisolone-eq.${tail}`, exposureDetail(c)),
      );
      break;
    }
    case 'baseline-due':
      cards.push({
        ...baseCard(
          c,
          'warning',
          `STIR whole-body MRI due: ${mg(x.cumulativeMg)} prednisolone-eq., ≥ ${mg(x.threshold.mg)} since ${d.crossedOn}, no WB-MRI since`,
          exposureDetail(c),
        ),
        ...orderSuggestion(c, { start: c.asOf }, reason),
      });
      break;
    case 'baseline-ordered':
      cards.push(
        baseCard(
          c,
          'info',
          `STIR WB-MRI ordered ${d.order.date} (${mg(x.cumulativeMg)} prednisolone-eq., ≥ ${mg(x.threshold.mg)} since ${d.crossedOn})`,
          exposureDetail(c),
        ),
      );
      break;
    case 'follow-up-scheduled':
      cards.push(
        baseCard(
          c,
          'info',
          `Last STIR WB-MRI ${d.lastStudy.date}; follow-up due ${d.dueFrom}–${d.overdueFrom} while steroids continue (${mg(x.cumulativeMg)})`,
          exposureDetail(c),
        ),
      );
      break;
    case 'follow-up-due':
      cards.push({
        ...baseCard(
          c,
          'warning',
          `Follow-up STIR WB-MRI due: last ${d.lastStudy.date}, due since ${d.dueFrom}, overdue from ${d.overdueFrom}; ${mg(x.cumulativeMg)}`,
          exposureDetail(c),
        ),
        ...orderSuggestion(
          c,
          { start: c.asOf, end: d.overdueFrom },
          `${reason}; follow-up 3–6 months after the WB-MRI of ${d.lastStudy.date}`,
        ),
      });
      break;
    case 'follow-up-overdue':
      cards.push({
        ...baseCard(
          c,
          'warning',
          `OVERDUE follow-up STIR WB-MRI: last ${d.lastStudy.date}, overdue since ${d.overdueFrom}; steroids continue (${mg(x.cumulativeMg)})`,
          exposureDetail(c),
        ),
        ...orderSuggestion(
          c,
          { start: c.asOf },
          `${reason}; follow-up overdue since ${d.overdueFrom} (last WB-MRI ${d.lastStudy.date})`,
        ),
      });
      break;
    case 'follow-up-ordered':
      cards.push(
        baseCard(
          c,
          'info',
          `Follow-up STIR WB-MRI ordered ${d.order.date} (last ${d.lastStudy.date}; ${mg(x.cumulativeMg)} prednisolone-eq.)`,
          exposureDetail(c),
        ),
      );
      break;
    case 'screened-exposure-stopped':
      break;
  }
  if (result.lastFindings) cards.push(findingsCard(c, result.lastFindings));
  return cards;
}

function siteLabel(f: FindingsDecision['findings'][number]): string {
  const side = f.side === 'left' ? 'L ' : f.side === 'right' ? 'R ' : '';
  return `${side}${f.joint}`;
}

export function findingsCard(c: CardContext, f: FindingsDecision): Card {
  const sites = f.findings.map(siteLabel);
  const risk = f.findings.filter((x) => x.highCollapseRisk).map(siteLabel);
  const summary = `Osteonecrosis on WB-MRI ${f.studyDate}: ${sites.join(', ')}${risk.length ? ` — high collapse risk: ${risk.join(', ')}` : ''}`;
  const rows = f.findings.map(
    (x) =>
      `| ${md(siteLabel(x))} | ${x.extent.length ? md(x.extent.join('; ')) : 'not graded'} | ${x.collapse ? 'yes' : 'no'} | ${x.highCollapseRisk ? '**high**' : ''} |`,
  );
  const detail = [
    `**Osteonecrosis found on the STIR whole-body MRI of ${f.studyDate}.**`,
    '',
    '| Site | Extent | Articular collapse | Collapse risk |',
    '|---|---|---|---|',
    ...rows,
    '',
    'High collapse risk: hip lesion over 2/3 of the weight-bearing area or Steinberg severe, knee lesion over 50 % of the articular surface, or any collapse. Joints caught before collapse can be preserved.',
    '',
    `Keep the glucocorticoid dose as low as disease control allows (Huang et al., Br J Radiol 2017, discussion). Current dose ${c.exposure.currentDailyMg === null ? 'unknown' : `${mg(c.exposure.currentDailyMg)}/day`}; cumulative ${mg(c.exposure.cumulativeMg)}.`,
    '',
    `**Evidence:** ${EVIDENCE}`,
  ].join('\n');
  return {
    ...baseCard(c, f.highCollapseRisk ? 'critical' : 'warning', summary, detail),
    overrideReasons: FINDINGS_OVERRIDE_REASONS,
  };
}
