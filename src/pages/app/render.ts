/**
 * The page's text parts, built with the DOM (textContent only: nothing the FHIR server sent is ever parsed as
 * HTML): the card's sentences, the key figures, the joint panel, the WB-MRI list, the records table and the
 * data-quality list.
 */
import { plural } from '../../exposure/format.ts';
import type { FindingView, RecordView, TimelineView } from './api.ts';
import { countedText, mgText, recordDatesText, statusText } from './chartData.ts';

type Child = Node | string | null | undefined | false;

/** An element with attributes and children (strings become text nodes). */
export function h(
  tag: string,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

export function renderStatus(v: TimelineView): void {
  const status = byId('status');
  status.replaceChildren();
  if (v.status) {
    status.className = `card-line ${v.status.indicator}`;
    status.append(
      h('span', { class: 'indicator' }, v.status.indicator),
      ' ',
      h('span', { id: 'status-text' }, v.status.summary),
    );
  } else {
    status.className = 'card-line info';
    status.append(
      v.inCohort
        ? 'Screened; no glucocorticoid given since the last WB-MRI: no screening card.'
        : 'Not in a screening cohort (no myositis diagnosis on record): OsteoWatch shows no card for this patient.',
    );
  }
  const findings = byId('findings-status');
  findings.hidden = !v.findingsStatus;
  findings.replaceChildren();
  if (v.findingsStatus) {
    findings.className = `card-line ${v.findingsStatus.indicator}`;
    findings.append(
      h('span', { class: 'indicator' }, v.findingsStatus.indicator),
      ' ',
      h('span', { id: 'findings-text' }, v.findingsStatus.summary),
    );
  }
  byId('as-of').textContent = v.asOf;
}

export function renderFigures(v: TimelineView): void {
  const rows: Array<[string, string, string]> = [
    ['cumulative', `Cumulative dose as of ${v.asOf}`, `${v.cumulative.text} prednisolone-eq.`],
    [
      'crossed',
      `${mgText(v.thresholdMg)} threshold`,
      v.crossedOn ? `crossed on ${v.crossedOn}` : v.cumulative.mg === null ? 'unknown' : 'not reached',
    ],
    ['current', 'Current daily dose', v.currentDailyMg === null ? 'unknown' : `${mgText(v.currentDailyMg)}/day`],
    ['projection', 'Projection', v.projection.text],
    ['first', 'First glucocorticoid', v.firstExposure ?? 'none counted'],
    ['peak', 'Peak daily dose', v.peakDaily ? `${mgText(v.peakDaily.mg)} on ${v.peakDaily.on}` : 'none'],
    ['pulses', 'IV pulse days', String(v.pulses.length)],
  ];
  byId('figures').replaceChildren(
    ...rows.map(([key, term, value]) =>
      h('div', { class: 'figure' }, h('dt', {}, term), h('dd', { id: `figure-${key}` }, value)),
    ),
  );
}

const JOINTS = ['hip', 'knee', 'ankle', 'shoulder', 'calcaneus'];
const SIDES: Array<'right' | 'left'> = ['right', 'left'];

function findingText(f: FindingView): string {
  return [
    'Osteonecrosis',
    ...f.extent,
    ...(f.steinberg ? [f.steinberg] : []),
    f.collapse ? 'articular collapse' : f.highCollapseRisk ? 'high collapse risk' : '',
    `read ${f.date}`,
  ]
    .filter(Boolean)
    .join('; ');
}

export function renderJoints(v: TimelineView): void {
  const box = byId('joints');
  const noStudy = v.wbMri.studies.length === 0;
  const note = noStudy
    ? 'No whole-body MRI on record: no joint has been screened.'
    : v.findings.length
      ? `Each joint and side at its latest read (latest study reporting any site: ${v.findingsLatestRead}).`
      : 'No osteonecrosis reported on the WB-MRIs on record.';
  const joints = [...JOINTS, ...v.findings.map((f) => f.joint).filter((j) => !JOINTS.includes(j))];
  const table = h(
    'table',
    { class: 'joints-table' },
    h('caption', {}, note),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Joint'),
        ...SIDES.map((s) => h('th', { scope: 'col' }, s === 'right' ? 'Right' : 'Left')),
      ),
    ),
    h(
      'tbody',
      {},
      ...[...new Set(joints)].map((joint) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, joint[0]!.toUpperCase() + joint.slice(1)),
          ...SIDES.map((side) => {
            const f = v.findings.find((x) => x.joint === joint && (x.side === side || x.side === null));
            const cls = f
              ? f.collapse
                ? 'joint collapsed'
                : f.highCollapseRisk
                  ? 'joint high-risk'
                  : 'joint affected'
              : 'joint';
            return h('td', { class: cls }, f ? findingText(f) : noStudy ? 'not screened' : 'not reported');
          }),
        ),
      ),
    ),
  );
  box.replaceChildren(table);
}

export function renderWbMri(v: TimelineView): void {
  const items: HTMLElement[] = v.wbMri.studies.map((s) => h('li', {}, `WB-MRI ${s.date} (${s.reference})`));
  const f = v.wbMri.followUp;
  if (f)
    items.push(h('li', {}, `Follow-up after the baseline of ${f.after}: due from ${f.from}, overdue from ${f.to}`));
  for (const o of v.wbMri.openOrders) items.push(h('li', {}, `Ordered ${o.date} (${o.status}, ${o.reference})`));
  if (!items.length) items.push(h('li', {}, 'No whole-body MRI and no open order on record.'));
  byId('wbmri').replaceChildren(...items);
}

/** The engine's derivation, one step a line ("prednisone oral: 1 × 70 mg/day × 42 d = 2940 mg (…); 1 × 60 …"). */
function derivationLines(text: string): HTMLElement[] {
  return text.split('; ').map((line) => h('span', { class: 'step' }, line));
}

export function recordRow(r: RecordView, i: number): HTMLElement {
  return h(
    'tr',
    { id: `record-${i}`, class: `status-${r.status}`, 'data-source': r.source },
    h('th', { scope: 'row' }, h('span', { class: 'drug' }, r.asWritten), h('span', { class: 'source' }, r.source)),
    h('td', {}, recordDatesText(r)),
    h('td', {}, countedText(r)),
    h('td', { class: 'num' }, r.status === 'counted' ? mgText(r.mg) : r.status === 'unknown' ? 'unknown' : '0 mg'),
    h('td', {}, h('span', { class: `badge ${r.status}` }, statusText(r))),
    h('td', { class: 'derivation' }, ...derivationLines(r.derivation)),
    h(
      'td',
      {},
      r.issues.length
        ? h('ul', { class: 'issues' }, ...r.issues.map((x) => h('li', { class: x.severity }, x.message)))
        : '—',
    ),
  );
}

export function renderRecords(v: TimelineView): void {
  byId('records-body').replaceChildren(...v.records.map(recordRow));
  byId('records-count').textContent = plural(v.records.length, 'record');
}

export function renderIssues(v: TimelineView): void {
  const items = v.issues.map((i) =>
    h('li', { class: i.severity }, h('span', { class: 'badge' }, i.severity), ' ', `${i.message} (${i.source})`),
  );
  byId('issues').replaceChildren(...(items.length ? items : [h('li', {}, 'None: every record could be counted.')]));
}
