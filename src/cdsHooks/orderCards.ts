/** Cards for order-select / order-sign: an order that crosses the threshold, or keeps an unscreened patient above it. */

import type { FindingsDecision } from '../screening/findings.ts';
import type { WbMriOrder, WbMriStudy } from '../screening/imaging.ts';
import { baseCard, type Card, type CardContext, orderSuggestion } from './cards.ts';
import { dataQualitySentences } from './dataQuality.ts';
import { formatMg, mg, totalMg } from './format.ts';
import type { Projection } from './orderProjection.ts';

export function orderCards(c: CardContext, p: Projection, studies: WbMriStudy[], openOrders: WbMriOrder[]): Card[] {
  const now = c.exposure;
  const after = p.projected;
  const threshold = now.threshold.mg;
  const horizonText = p.openEnded ? `if continued to ${p.horizon} (30 days)` : `by ${p.horizon}`;
  const screenedSince = (day: string) => studies.some((s) => s.date >= day) || openOrders.some((o) => o.date >= day);
  let summary: string | undefined;
  let window = c.asOf;
  if (!now.threshold.crossedOn && after.threshold.crossedOn) {
    window = after.threshold.crossedOn;
    // Before the drafts: a lower bound or an unknown total says so, never 0 mg.
    const from =
      now.cumulativeMg === null
        ? 'unknown'
        : `${now.cumulativeIsLowerBound ? 'at least ' : ''}${formatMg(now.cumulativeMg)}`;
    summary = `With this order${p.openEnded ? ' (30 d if continued)' : ''}: ${from} → ${totalMg(after)} prednisolone-eq. by ${p.horizon}, crossing ${mg(threshold)} on ${after.threshold.crossedOn}; WB-MRI screening due`;
  } else if (now.threshold.crossedOn && !screenedSince(now.threshold.crossedOn)) {
    summary = `Unscreened: ${totalMg(now)} prednisolone-eq. (≥ ${mg(threshold)} since ${now.threshold.crossedOn}, no WB-MRI); this order adds ${mg(p.draftMg)}`;
  } else if (now.cumulativeMg === null) {
    summary = `Cumulative glucocorticoid dose unknown (records not quantifiable); this order adds ${mg(p.draftMg)} ${horizonText}`;
  }
  if (!summary) return [];
  const quality = dataQualitySentences(now);
  const detail = [
    `**Now:** ${totalMg(now)} prednisolone-equivalent as of ${c.asOf}${now.threshold.crossedOn ? ` (≥ ${mg(threshold)} since ${now.threshold.crossedOn})` : ''}.`,
    ...(p.replaced.length
      ? [
          `**The draft replaces the current order${p.replaced.length > 1 ? 's' : ''}** of the same glucocorticoid, projected to stop the day before it starts (not added on top).`,
        ]
      : []),
    `**With the draft order${p.draftSources.length > 1 ? 's' : ''}:** ${totalMg(after)} ${horizonText}; the order${p.draftSources.length > 1 ? 's add' : ' adds'} ${mg(p.draftMg)}${p.openEnded ? ' (open-ended order projected for 30 days; current therapy assumed to continue)' : ''}.`,
    ...(quality.length ? ['', `**Data quality:** ${quality.join(' ')}`] : []),
    '',
    'Osteonecrosis was found on STIR whole-body MRI only after ≥ 3,100 mg prednisolone-equivalent in a myositis cohort; most lesions were silent (Huang et al., Br J Radiol 2017, [doi:10.1259/bjr.20160780](https://doi.org/10.1259/bjr.20160780)).',
  ].join('\n');
  const unknown = now.cumulativeMg === null;
  const reason = `Cumulative glucocorticoid exposure ${totalMg(after)} prednisolone-equivalent with the new order (threshold ${mg(threshold)}); osteonecrosis screening`;
  return [
    {
      ...baseCard(c, unknown ? 'info' : 'warning', summary, detail),
      // Screening can only be suggested on a number: with an unknown dose the card says so and orders nothing.
      ...(unknown ? {} : orderSuggestion(c, { start: window }, reason, 'Also order STIR whole-body MRI, no contrast')),
    },
  ];
}

/**
 * Above this daily prednisolone-equivalent dose an order is "high dose" (Buttgereit 2002: high > 30 mg/day,
 * very high > 100 mg/day, pulse ≥ 250 mg/day).
 */
const HIGH_DOSE_MG_PER_DAY = 30;

/** With osteonecrosis already known, a high-dose draft gets a card of its own saying so. */
export function highDoseWithOsteonecrosisCard(c: CardContext, p: Projection, known: FindingsDecision): Card[] {
  if (p.draftDailyMg === null || p.draftDailyMg <= HIGH_DOSE_MG_PER_DAY) return [];
  const sites = known.affected.map((f) => `${f.side === 'left' ? 'L ' : f.side === 'right' ? 'R ' : ''}${f.joint}`);
  const summary = `Known osteonecrosis (${sites.join(', ')}): this order is high dose, ${mg(p.draftDailyMg)}/day prednisolone-eq.`;
  const detail = [
    `**Osteonecrosis is known** at ${sites.join(', ')} (latest read ${known.latestRead}).`,
    `The draft order gives ${mg(p.draftDailyMg)} prednisolone-equivalent on a dosing day — high dose (over ${HIGH_DOSE_MG_PER_DAY} mg/day).`,
    '',
    'Keep the glucocorticoid dose as low as disease control allows: osteonecrosis follows cumulative exposure (Huang et al., Br J Radiol 2017, discussion).',
  ].join('\n');
  return [
    { ...baseCard(c, known.collapsed.length || known.highRisk.length ? 'critical' : 'warning', summary, detail) },
  ];
}
