/**
 * The exposure timeline (/app/, the SMART redirect URI): completes the authorization (fhirclient's ready(),
 * the token response's patient and appContext), reads the patient's records with that token, has the server's
 * engine compute the timeline (POST ./api/assess — the server reads nothing itself), and draws it.
 *
 * appContext (from the card's link) decides only what is shown; every figure is the engine's.
 */
import FHIR from 'fhirclient/lib/entry/browser.js';
import { plural } from '../../exposure/format.ts';
import { outcomeText } from '../../fhir/outcome.ts';
import type { AssessRequest, TimelineView } from './api.ts';
import { dayOf, dayReader, isoOf, readingText, recordLines } from './chartData.ts';
import { type DoseChart, doseChart, layoutFor, type RecordsChart, recordsChart, relayout, zoom } from './charts.ts';
import { readPatientRecords } from './fhir.ts';
import { parseAppContext } from './queries.ts';
import {
  byId,
  h,
  renderFigures,
  renderIssues,
  renderJoints,
  renderRecords,
  renderStatus,
  renderWbMri,
} from './render.ts';

const progress = (text: string) => {
  byId('progress').textContent = text;
};

function fail(message: string): void {
  byId('progress').hidden = true;
  const box = byId('error');
  box.hidden = false;
  box.replaceChildren(
    h('p', {}, message),
    h(
      'p',
      {},
      h('a', { href: './launch.html' }, 'Launch again'),
      ' (from the EHR, or standalone with the demo server).',
    ),
  );
}

async function assess(patientId: string, resources: unknown[], serverUrl: string): Promise<TimelineView> {
  const body: AssessRequest = {
    patientId,
    resources: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: resources.map((resource) => {
        const r = resource as { resourceType: string; id?: string };
        return { ...(r.id ? { fullUrl: `${serverUrl}/${r.resourceType}/${r.id}` } : {}), resource };
      }),
    },
  };
  const res = await fetch(new URL('./api/assess', window.location.href), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    const text = outcomeText(await res.json().catch(() => undefined)) ?? res.statusText;
    throw new Error(`The assessment was refused (${res.status}): ${text}`);
  }
  return (await res.json()) as TimelineView;
}

function patientName(p: unknown): string {
  const r = p as { name?: Array<{ text?: string; given?: string[]; family?: string }>; birthDate?: string };
  const n = r.name?.[0];
  const name = n?.text ?? [...(n?.given ?? []), n?.family].filter(Boolean).join(' ');
  return [name || 'Patient', r.birthDate ? `born ${r.birthDate}` : ''].filter(Boolean).join(', ');
}

function drawCharts(v: TimelineView): void {
  const doseCanvas = byId<HTMLCanvasElement>('dose-chart');
  const recordsCanvas = byId<HTMLCanvasElement>('records-chart');
  const tip = byId('record-tip');
  const live = byId('records-live');
  const readout = byId('readout');
  const layout = layoutFor(byId('content').clientWidth);
  // The legend names only what this patient's chart draws.
  const drawn: Record<string, boolean> = {
    projection: !!v.projection.onSchedule,
    pulse: v.pulses.length > 0,
    unknown: v.unknownSpans.length > 0,
    wbmri: v.wbMri.studies.length > 0,
    followup: !!v.wbMri.followUp,
  };
  for (const [key, shown] of Object.entries(drawn)) byId(`legend-${key}`).hidden = !shown;
  // The records chart grows with its rows, so that each bar keeps its height.
  byId('records-box').style.height = `${Math.max(120, 26 * v.records.length + 48)}px`;

  const showTip = (i: number | null, at: { x: number; y: number } | null) => {
    if (i === null || !at) {
      tip.hidden = true;
      return;
    }
    const row = v.records[i]!;
    tip.replaceChildren(h('strong', {}, row.asWritten), ...recordLines(row).map((line) => h('span', {}, line)));
    tip.hidden = false;
    const box = recordsCanvas.getBoundingClientRect();
    const left = Math.min(at.x + 12, box.width - tip.offsetWidth - 4);
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${Math.max(0, at.y - tip.offsetHeight / 2)}px`;
  };
  const records: RecordsChart = recordsChart(recordsCanvas, v, layout, showTip);
  const dose: DoseChart = doseChart(doseCanvas, v, layout);
  const read = dayReader(v);
  const asOf = dayOf(v.asOf);

  // The day under the pointer (or the keyboard's cursor), read out above the chart.
  let cursor: number | null = null;
  const setCursor = (day: number | null) => {
    cursor = day;
    dose.setCursor(day);
    readout.textContent =
      day === null ? 'Point at the chart, or focus it and use the arrow keys, to read a day.' : readingText(read(day));
  };
  setCursor(null);
  doseCanvas.addEventListener('mousemove', (e) => {
    const x = dose.chart.scales.x;
    const area = dose.chart.chartArea;
    if (!x || e.offsetX < area.left || e.offsetX > area.right) return;
    const day = Math.floor(x.getValueForPixel(e.offsetX) ?? asOf);
    setCursor(Math.min(day, asOf));
  });
  doseCanvas.addEventListener('mouseleave', () => setCursor(null));
  doseCanvas.addEventListener('focus', () => setCursor(cursor ?? asOf));
  doseCanvas.addEventListener('blur', () => setCursor(null));
  doseCanvas.addEventListener('keydown', (e) => {
    const step = e.shiftKey ? 30 : 1;
    const now = cursor ?? asOf;
    const next: Record<string, number> = {
      ArrowLeft: now - step,
      ArrowRight: now + step,
      Home: Math.floor(dose.chart.scales.x?.min ?? now),
      End: asOf,
    };
    if (!(e.key in next)) return;
    e.preventDefault();
    setCursor(Math.min(asOf, next[e.key]!));
  });

  // Keyboard focus on the records chart walks the bars with the arrow keys, each with its tooltip.
  let focused: number | null = null;
  const focusBar = (i: number | null) => {
    focused = i;
    const at = records.focus(i);
    showTip(i, at);
    live.textContent =
      i === null
        ? ''
        : `${i + 1} of ${v.records.length}: ${v.records[i]!.asWritten}. ${recordLines(v.records[i]!).join('. ')}`;
  };
  recordsCanvas.addEventListener('focus', () => focusBar(focused ?? (v.records.length ? 0 : null)));
  recordsCanvas.addEventListener('blur', () => focusBar(null));
  recordsCanvas.addEventListener('mouseleave', () => {
    if (document.activeElement !== recordsCanvas) showTip(null, null);
  });
  recordsCanvas.addEventListener('keydown', (e) => {
    if (!v.records.length) return;
    const now = focused ?? 0;
    const moves: Record<string, number> = {
      ArrowDown: Math.min(v.records.length - 1, now + 1),
      ArrowUp: Math.max(0, now - 1),
      Home: 0,
      End: v.records.length - 1,
    };
    if (e.key === 'Escape') return focusBar(null);
    if (!(e.key in moves)) return;
    e.preventDefault();
    focusBar(moves[e.key]!);
  });

  // Zoom: two dates, or the last year, or everything.
  const from = byId<HTMLInputElement>('zoom-from');
  const to = byId<HTMLInputElement>('zoom-to');
  const charts = [dose.chart, records.chart];
  byId('zoom').addEventListener('submit', (e) => {
    e.preventDefault();
    const a = from.value ? dayOf(from.value) : null;
    const b = to.value ? dayOf(to.value) : null;
    if (a !== null && b !== null && a > b) {
      byId('zoom-message').textContent = 'The start date is after the end date.';
      return;
    }
    byId('zoom-message').textContent = '';
    zoom(dose, records, v, a, b);
  });
  byId('zoom-year').addEventListener('click', () => {
    from.value = isoOf(asOf - 365);
    to.value = v.asOf;
    zoom(dose, records, v, asOf - 365, asOf);
  });
  let resizing: number | undefined;
  window.addEventListener('resize', () => {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(() => relayout(layout, byId('content').clientWidth, dose, records), 100);
  });
  // Printing lays the page out again at the paper's width: the charts follow.
  for (const event of ['beforeprint', 'afterprint'])
    window.addEventListener(event, () => {
      for (const c of charts) c.resize();
    });
  byId('zoom-reset').addEventListener('click', () => {
    from.value = '';
    to.value = '';
    zoom(dose, records, v, null, null);
  });
}

async function main(): Promise<void> {
  progress('Completing the authorization…');
  const client = await FHIR.oauth2.ready();
  const patientId = client.patient.id;
  if (!patientId) throw new Error('The authorization gave no patient: launch the app from a patient’s chart.');
  const context = parseAppContext(client.state.tokenResponse?.appContext);
  if (context.patient && context.patient !== patientId)
    byId('context-note').textContent =
      `The card that opened this page was for another patient (${context.patient}); this is the patient the EHR authorized.`;
  progress('Reading the patient…');
  const patient = await client.patient.read().catch(() => undefined);
  byId('patient').textContent = patient ? patientName(patient) : `Patient ${patientId}`;
  const resources = await readPatientRecords(client, patientId, progress);
  progress(`Computing the exposure from ${plural(resources.length, 'record')}…`);
  const view = await assess(patientId, resources, client.state.serverUrl);
  renderStatus(view);
  renderFigures(view);
  renderJoints(view);
  renderWbMri(view);
  renderRecords(view);
  // The table scrolls sideways on narrow screens: keyboard users can focus it to scroll it.
  byId('records-scroll').tabIndex = 0;
  renderIssues(view);
  byId('progress').hidden = true;
  byId('content').hidden = false;
  drawCharts(view);
  document.body.dataset.ready = 'true';
}

main().catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err));
  document.body.dataset.ready = 'error';
});
