/**
 * The parts every CDS Hooks card is made of (https://cds-hooks.hl7.org/2.0/#card-attributes): a uuid, a
 * summary under 140 characters with the numbers, a GitHub-flavoured Markdown detail (the exposure in brief,
 * data-quality problems, the evidence), a source with its topic, override reasons with displays, the link to
 * the exposure timeline when it is served, and — on due cards — a one-click draft order for STIR whole-body
 * MRI. screeningCards.ts and orderCards.ts build their cards from these.
 */
import { randomUUID } from 'node:crypto';
import type { MedicationRequest, Resource, ServiceRequest } from '@medplum/fhirtypes';
import { dayFromIso, isoFromDay } from '../exposure/dates.ts';
import type { ExposureSummary } from '../exposure/index.ts';
import { wbMriServiceRequest } from '../profiles/wbMriServiceRequest.ts';
import { type CardCoding, OVERRIDE_REASONS, SCREENING_TOPIC } from '../terminology/cardCodes.ts';
import { HISTORY_OF_STEROIDS, LONG_TERM_STEROIDS } from '../terminology/orderReasons.ts';
import { dataQualitySentences } from './dataQuality.ts';
import { recordAsWritten } from './doseAsWritten.ts';
import { mg, plural, totalMg } from './format.ts';

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

export const EVIDENCE =
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
  /** Whether glucocorticoids continue (a dose today or in the last 30 days): the order's reason code. */
  steroidsContinue: boolean;
  /** The medication records (and Medications) the exposure was computed from, to show them as prescribed. */
  records: readonly Resource[];
}

export const md = (s: string): string => s.replace(/([\\`*_[\]<>|#])/g, '\\$1');

/** CDS Hooks: summary "<140-character" — counted in code points; cut with an ellipsis if ever longer. */
export function fitSummary(s: string): string {
  const cps = [...s];
  return cps.length <= 139 ? s : `${cps.slice(0, 138).join('')}…`;
}

/** An IV dose of at least this many mg prednisolone-equivalent in one day is counted as a pulse. */
const PULSE_MG = 250;

function duration(from: string, to: string): string {
  const days = dayFromIso(to) - dayFromIso(from) + 1;
  if (days < 60) return plural(days, 'day');
  const months = Math.floor(days / 30.4375);
  // From 60 days, at least 1 month; from 24 months, at least "2.0 years".
  return months < 24 ? plural(months, 'month') : `${(days / 365.25).toFixed(1)} years`;
}

/**
 * An "active" order authored more than a year ago and counted through today changes the number a lot and is
 * often a record nobody closed: named, so that someone checks whether it is still taken.
 */
function staleActiveOrders(c: CardContext): string[] {
  const yearAgo = isoFromDay(dayFromIso(c.asOf) - 365);
  return c.exposure.contributions
    .filter((k) => k.resourceType === 'MedicationRequest' && k.status === 'counted' && k.lastDay === c.asOf)
    .flatMap((k) => {
      const r = c.records.find((x) => `${x.resourceType}/${x.id}` === k.source) as MedicationRequest | undefined;
      return r?.status === 'active' && r.authoredOn && r.authoredOn.slice(0, 10) < yearAgo
        ? [
            `An active ${k.ingredient} order authored ${r.authoredOn.slice(0, 10)} is counted through today: check whether it is still taken.`,
          ]
        : [];
    });
}

export function exposureDetail(c: CardContext): string {
  const x = c.exposure;
  const lines: string[] = [];
  const crossing = x.threshold.crossedOn
    ? `, crossed on ${x.threshold.crossedOn}`
    : x.threshold.projectedOn
      ? `, reached on ${x.threshold.projectedOn} if taken as recorded`
      : '';
  lines.push(
    `**Cumulative prednisolone-equivalent dose: ${totalMg(x)}** as of ${x.asOf} ` +
      `(screening threshold ${mg(x.threshold.mg)}${crossing}). Current dose ${x.currentDailyMg === null ? 'unknown' : `${mg(x.currentDailyMg)}/day`}.`,
  );
  const counted = x.contributions
    .filter((k) => k.status === 'counted' && (k.mg ?? 0) > 0)
    .sort((p, q) => ((q.lastDay ?? '') < (p.lastDay ?? '') ? -1 : (q.lastDay ?? '') > (p.lastDay ?? '') ? 1 : 0));
  if (counted.length) {
    const byRef = new Map(c.records.map((r) => [`${r.resourceType}/${r.id}`, r]));
    const pulses = counted.reduce(
      (n, k) => n + (k.route === 'intravenous' && (k.mg ?? 0) / Math.max(k.days, 1) >= PULSE_MG ? k.days : 0),
      0,
    );
    if (x.firstExposure)
      lines.push(
        '',
        `Glucocorticoid therapy since ${x.firstExposure} (${duration(x.firstExposure, x.asOf)})` +
          `${x.peakDaily ? `; peak ${mg(x.peakDaily.mg)}/day on ${x.peakDaily.on}` : ''}` +
          `${pulses ? `; ${plural(pulses, 'IV pulse')} (≥ ${PULSE_MG} mg prednisolone-eq. in a day)` : ''}.`,
      );
    lines.push('', '| Drug and dose as prescribed | Dates | Days | Prednisolone-eq. |', '|---|---|---:|---:|');
    for (const k of counted.slice(0, 8)) {
      const r = byRef.get(k.source);
      const written = r ? recordAsWritten(r, k.ingredient, byRef) : k.ingredient;
      lines.push(`| ${md(written)} | ${k.firstDay ?? '?'} – ${k.lastDay ?? '?'} | ${k.days} | ${mg(k.mg)} |`);
    }
    if (counted.length > 8)
      lines.push(
        `| … ${plural(counted.length - 8, 'earlier record')} | | | ${mg(counted.slice(8).reduce((s, k) => s + (k.mg ?? 0), 0))} |`,
      );
  }
  const quality = [...dataQualitySentences(x), ...staleActiveOrders(c)];
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
            resource: wbMriServiceRequest(
              c.patientId,
              window,
              reason,
              // ICD-10-CM: long-term current use while steroids continue, personal history once they stopped.
              c.steroidsContinue ? LONG_TERM_STEROIDS : HISTORY_OF_STEROIDS,
            ),
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
