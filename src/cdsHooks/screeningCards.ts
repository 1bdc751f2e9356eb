/**
 * patient-view: the screening decision and the findings → cards. One case per decision kind
 * (src/screening/rules.ts), so that a new rule cannot go without a card; the wording is in
 * docs/screening-rules.md.
 */
import type { Finding } from '../screening/imaging.ts';
import type { Decision, FindingsDecision, ScreeningResult, StaleOrder } from '../screening/rules.ts';
import { FINDINGS_OVERRIDE_REASONS } from '../terminology/cardCodes.ts';
import { baseCard, type Card, type CardContext, EVIDENCE, exposureDetail, md, orderSuggestion } from './cards.ts';
import { mg, plural, totalMg } from './format.ts';

const staleNote = (s: StaleOrder | undefined): string =>
  s
    ? `\n\n**A WB-MRI was ordered on ${s.order.date} (${plural(s.ageDays, 'day')} ago) and has not been performed**: check the order (${md(s.order.reference)}).`
    : '';

export function screeningCards(c: CardContext, result: ScreeningResult): Card[] {
  const card = decisionCard(c, result.decision);
  return [...(card ? [card] : []), ...(result.findings ? [findingsCard(c, result.findings)] : [])];
}

function decisionCard(c: CardContext, d: Decision): Card | undefined {
  const x = c.exposure;
  const total = totalMg(x);
  const reason = `Cumulative glucocorticoid exposure ${total} prednisolone-equivalent (screening threshold ${mg(x.threshold.mg)}); osteonecrosis screening`;
  const detail = (extra = '') => exposureDetail(c) + extra;
  switch (d.kind) {
    case 'exposure-unknown':
      return baseCard(
        c,
        'info',
        'Cumulative glucocorticoid dose could not be computed: see data quality; WB-MRI screening status unknown',
        detail(),
      );
    case 'below-threshold': {
      const daily = x.currentDailyMg;
      // An unknown current dose is "unknown", never "none": a record on the as-of day could not be quantified.
      const now = daily === null ? 'current dose unknown' : daily > 0 ? `now ${mg(daily)}/day` : 'no current dose';
      const tail = d.projectedOn ? `; ${mg(x.threshold.mg)} on ${d.projectedOn} if taken as recorded` : '';
      return baseCard(c, 'info', `Glucocorticoid exposure ${total} prednisolone-eq., ${now}${tail}`, detail());
    }
    case 'baseline-due':
      return {
        ...baseCard(
          c,
          'warning',
          `STIR whole-body MRI due: ${total} prednisolone-eq., ≥ ${mg(x.threshold.mg)} since ${d.crossedOn}, no WB-MRI since`,
          detail(staleNote(d.staleOrder)),
        ),
        ...orderSuggestion(c, { start: c.asOf }, reason),
      };
    case 'baseline-ordered':
      return baseCard(
        c,
        'info',
        `STIR WB-MRI ordered ${d.order.date} (${total} prednisolone-eq., ≥ ${mg(x.threshold.mg)} since ${d.crossedOn})`,
        detail(),
      );
    case 'follow-up-scheduled':
      return baseCard(
        c,
        'info',
        `Last STIR WB-MRI ${d.lastStudy.date}, steroids given since: follow-up due ${d.dueFrom}–${d.overdueFrom} (${total})`,
        detail(),
      );
    case 'follow-up-due':
      return {
        ...baseCard(
          c,
          'warning',
          `Follow-up STIR WB-MRI due: last ${d.lastStudy.date}, due since ${d.dueFrom}, overdue from ${d.overdueFrom}; ${total}`,
          detail(staleNote(d.staleOrder)),
        ),
        ...orderSuggestion(
          c,
          { start: c.asOf, end: d.overdueFrom },
          `${reason}; follow-up 3–6 months after the WB-MRI of ${d.lastStudy.date}`,
        ),
      };
    case 'follow-up-overdue':
      return {
        ...baseCard(
          c,
          'warning',
          `OVERDUE follow-up STIR WB-MRI: last ${d.lastStudy.date}, overdue since ${d.overdueFrom}; steroids given since (${total})`,
          detail(staleNote(d.staleOrder)),
        ),
        ...orderSuggestion(
          c,
          { start: c.asOf },
          `${reason}; follow-up overdue since ${d.overdueFrom} (last WB-MRI ${d.lastStudy.date})`,
        ),
      };
    case 'follow-up-ordered':
      return baseCard(
        c,
        'info',
        `Follow-up STIR WB-MRI ordered ${d.order.date} (last ${d.lastStudy.date}; ${total} prednisolone-eq.)`,
        detail(),
      );
    case 'rescreen-due':
      return {
        ...baseCard(
          c,
          'warning',
          `Re-screening STIR WB-MRI due: ${mg(d.sinceMg)} since the last WB-MRI (${d.lastStudy.date}), ≥ ${mg(d.incrementMg)} on ${d.reachedOn}`,
          detail(staleNote(d.staleOrder)),
        ),
        ...orderSuggestion(
          c,
          { start: c.asOf },
          `${reason}; ${mg(d.sinceMg)} since the WB-MRI of ${d.lastStudy.date} (re-screening at ${mg(d.incrementMg)})`,
        ),
      };
    case 'rescreen-ordered':
      return baseCard(
        c,
        'info',
        `Re-screening STIR WB-MRI ordered ${d.order.date} (last ${d.lastStudy.date}; ${total} prednisolone-eq.)`,
        detail(),
      );
    case 'rescreen-not-due':
      return baseCard(
        c,
        'info',
        `Last STIR WB-MRI ${d.lastStudy.date}; ${mg(d.sinceMg)} since, next at ${mg(d.incrementMg)} since (${total} in all)`,
        detail(),
      );
    case 'screened-exposure-stopped':
      return undefined;
  }
}

function siteLabel(f: Finding): string {
  const side = f.side === 'left' ? 'L ' : f.side === 'right' ? 'R ' : '';
  return `${side}${f.joint}`;
}

export function findingsCard(c: CardContext, f: FindingsDecision): Card {
  const collapsed = f.collapsed.map(siteLabel);
  const risk = f.highRisk.map(siteLabel);
  const summary =
    `Osteonecrosis on WB-MRI: ${f.affected.map(siteLabel).join(', ')}` +
    (collapsed.length ? ` — collapsed: ${collapsed.join(', ')}` : '') +
    (risk.length ? ` — high collapse risk: ${risk.join(', ')}` : '');
  const rows = f.affected.map(
    (x) =>
      `| ${md(siteLabel(x))} | ${x.date} | ${x.extent.length ? md(x.extent.join('; ')) : 'not graded'} | ${x.collapse ? '**collapsed**' : x.highCollapseRisk ? '**high collapse risk**' : ''} |`,
  );
  const advice = [
    ...(collapsed.length
      ? [
          `**Articular collapse** (${collapsed.join(', ')}): irreversible; orthopaedic management of the collapsed joint.`,
        ]
      : []),
    ...(risk.length
      ? [
          `**High risk of collapse before it has happened** (${risk.join(', ')}: hip over 2/3 of the weight-bearing area or Steinberg severe, knee over 50 % of the articular surface): joint-preserving treatment is still possible — consider orthopaedic referral and a regional MRI now.`,
        ]
      : []),
  ];
  const x = c.exposure;
  const detail = [
    `**Osteonecrosis known on STIR whole-body MRI** (each joint and side at its latest read; latest study ${f.latestRead}).`,
    '',
    '| Site | Read | Extent | |',
    '|---|---|---|---|',
    ...rows,
    ...(advice.length ? ['', ...advice] : []),
    '',
    `Keep the glucocorticoid dose as low as disease control allows (Huang et al., Br J Radiol 2017, discussion). Current dose ${x.currentDailyMg === null ? 'unknown' : `${mg(x.currentDailyMg)}/day`}; cumulative ${totalMg(x)}.`,
    '',
    `**Evidence:** ${EVIDENCE}`,
  ].join('\n');
  return {
    ...baseCard(c, collapsed.length || risk.length ? 'critical' : 'warning', summary, detail),
    overrideReasons: FINDINGS_OVERRIDE_REASONS,
  };
}
