/**
 * The two charts, with only the parts of Chart.js they use registered (the rest is tree-shaken away):
 *
 * - the dose chart: the daily prednisolone-equivalent dose as a stepped line (left axis) with IV pulses marked,
 *   the cumulative dose (right axis) with the 3,000 mg threshold and the crossing day, the projection of the
 *   recorded schedule, WB-MRIs as vertical lines with the follow-up window shaded, and the days whose dose is
 *   unknown hatched (a canvas pattern) — the daily line stops there, it never drops to 0;
 * - the records chart: one bar per medication record (a Gantt row), hatched where its dose is unknown, with the
 *   drug, dose as prescribed, dates, derivation and issues in a tooltip that keyboard focus opens too.
 *
 * The x axis is linear in day numbers (no date adapter), labelled with dates; both charts share its range and
 * its left and right margins, so that a bar sits under the doses it gave.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  type ChartEvent,
  type ChartOptions,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  type Scale,
  ScatterController,
  Tooltip,
} from 'chart.js';
import annotationPlugin, { type AnnotationOptions } from 'chartjs-plugin-annotation';
import type { TimelineView } from './api.ts';
import {
  cumulativeAxisMax,
  dailyAxisMax,
  dayOf,
  doseSeries,
  isoOf,
  mgText,
  projectionLine,
  type RecordBar,
  recordBars,
  tickLabel,
} from './chartData.ts';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  BarController,
  BarElement,
  ScatterController,
  LinearScale,
  CategoryScale,
  Tooltip,
  annotationPlugin,
);

export const COLORS = {
  daily: '#1d5fa6',
  cumulative: '#a34a00',
  threshold: '#b3261e',
  wbMri: '#5b2c83',
  followUp: 'rgba(91, 44, 131, 0.10)',
  unknown: '#8a6100',
  counted: '#1d5fa6',
  excluded: '#8a94a0',
  pulse: '#b3261e',
  grid: '#e3e6ea',
  text: '#1f2933',
  projection: '#a34a00',
};

/** Diagonal hatching: what unknown looks like, on screen and in print, in colour and in grey. */
export function hatch(color: string, background = 'rgba(255,255,255,0)'): CanvasPattern | string {
  const c = document.createElement('canvas');
  c.width = 8;
  c.height = 8;
  const g = c.getContext('2d');
  if (!g) return color;
  g.fillStyle = background;
  g.fillRect(0, 0, 8, 8);
  g.strokeStyle = color;
  g.lineWidth = 1.5;
  g.beginPath();
  g.moveTo(-2, 10);
  g.lineTo(10, -2);
  g.moveTo(-2, 2);
  g.lineTo(2, -2);
  g.moveTo(6, 10);
  g.lineTo(10, 6);
  g.stroke();
  return g.createPattern(c, 'repeat') ?? color;
}

export interface Layout {
  /** Width of the left axis area (the records' labels), px: the same on both charts. */
  left: number;
  /** Width of the right axis area (the cumulative axis), px. */
  right: number;
}

export function layoutFor(width: number): Layout {
  return width < 700 ? { left: 110, right: 56 } : width < 1100 ? { left: 170, right: 64 } : { left: 230, right: 64 };
}

/** The whole range drawn: first record to today, or to the projection or follow-up window when later. */
export function fullRange(v: TimelineView): { min: number; max: number } {
  const s = doseSeries(v);
  let max = s.to + 1;
  if (v.projection.onSchedule) max = Math.max(max, dayOf(v.projection.onSchedule) + 1);
  if (v.wbMri.followUp) max = Math.max(max, dayOf(v.wbMri.followUp.to) + 1);
  const pad = Math.max(3, Math.round((max - s.from) * 0.02));
  return { min: s.from - pad, max: max + pad };
}

/** Day numbers as dates, for the span shown (`this` is the scale: Chart.js calls it so). */
function dateTick(this: Scale, value: number | string): string {
  return tickLabel(Number(value), this.max - this.min);
}

/** An axis as wide as the layout says at each update (the layout changes with the window: relayout). */
/** The shared time axis of both charts: days on a linear scale, labelled as dates (no date adapter needed). */
function dateAxis(range: { min: number; max: number }) {
  return {
    type: 'linear' as const,
    min: range.min,
    max: range.max,
    grid: { color: COLORS.grid },
    ticks: { maxRotation: 0, autoSkipPadding: 16, includeBounds: false, color: COLORS.text, callback: dateTick },
  };
}

function fixedWidth(layout: Layout, side: keyof Layout) {
  return (scale: Scale) => {
    scale.width = layout[side];
  };
}

export interface DoseChart {
  chart: Chart;
  setCursor(day: number | null): void;
}

export function doseChart(canvas: HTMLCanvasElement, v: TimelineView, layout: Layout): DoseChart {
  const s = doseSeries(v);
  const dailyMax = dailyAxisMax(v);
  const range = fullRange(v);
  const unknownPattern = hatch(COLORS.unknown);
  const partialPattern = hatch('rgba(138, 97, 0, 0.45)');
  const annotations: Record<string, AnnotationOptions> = {};
  for (const [i, span] of v.unknownSpans.entries())
    annotations[`unknown${i}`] = {
      type: 'box',
      xScaleID: 'x',
      yScaleID: 'daily',
      xMin: dayOf(span.from),
      xMax: dayOf(span.to) + 1,
      backgroundColor: span.partial ? partialPattern : unknownPattern,
      borderColor: COLORS.unknown,
      borderWidth: 1,
      drawTime: 'beforeDatasetsDraw',
    };
  if (v.wbMri.followUp) {
    const f = v.wbMri.followUp;
    annotations.followUp = {
      type: 'box',
      xScaleID: 'x',
      xMin: dayOf(f.from),
      xMax: dayOf(f.to) + 1,
      backgroundColor: COLORS.followUp,
      borderWidth: 0,
      drawTime: 'beforeDatasetsDraw',
      label: {
        display: true,
        content: 'Follow-up',
        position: { x: 'center', y: 'start' },
        color: COLORS.wbMri,
        font: { size: 11 },
      },
    };
  }
  for (const [i, study] of v.wbMri.studies.entries())
    annotations[`wbmri${i}`] = {
      type: 'line',
      xScaleID: 'x',
      xMin: dayOf(study.date),
      xMax: dayOf(study.date),
      borderColor: COLORS.wbMri,
      borderWidth: 2,
      label: {
        display: true,
        content: `WB-MRI ${study.date}`,
        position: 'start',
        backgroundColor: COLORS.wbMri,
        font: { size: 11 },
      },
    };
  annotations.threshold = {
    type: 'line',
    yScaleID: 'cumulative',
    yMin: v.thresholdMg,
    yMax: v.thresholdMg,
    borderColor: COLORS.threshold,
    borderWidth: 1.5,
    borderDash: [6, 4],
    label: {
      display: true,
      content: `${mgText(v.thresholdMg)} screening threshold`,
      // Away from the crossing: at the right once crossed, at the left while the projection runs to the right.
      position: v.crossedOn ? 'end' : 'start',
      backgroundColor: 'rgba(255,255,255,0.9)',
      color: COLORS.threshold,
      font: { size: 11 },
      // Above the line, not on it: centred on the line, the label hid the daily dose where it runs close by.
      yAdjust: -12,
    },
  };
  if (v.crossedOn) {
    const x = dayOf(v.crossedOn) + 1;
    annotations.crossing = {
      type: 'line',
      xScaleID: 'x',
      xMin: x,
      xMax: x,
      borderColor: COLORS.threshold,
      borderWidth: 1.5,
      label: {
        display: true,
        content: `Threshold crossed ${v.crossedOn}`,
        position: 'end',
        // Beside the line, not on it: the pulses and the high doses that crossed it are just before.
        xAdjust: 78,
        backgroundColor: COLORS.threshold,
        font: { size: 11 },
      },
    };
    annotations.crossingPoint = {
      type: 'point',
      xScaleID: 'x',
      yScaleID: 'cumulative',
      xValue: x,
      yValue: v.thresholdMg,
      radius: 5,
      backgroundColor: COLORS.threshold,
      borderColor: '#fff',
      borderWidth: 1.5,
    };
  }
  annotations.cursor = {
    type: 'line',
    xScaleID: 'x',
    xMin: 0,
    xMax: 0,
    borderColor: COLORS.text,
    borderWidth: 1,
    borderDash: [2, 2],
    display: false,
  };

  const options: ChartOptions<'line'> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    parsing: false,
    normalized: true,
    layout: { padding: { top: 8 } },
    interaction: { mode: 'nearest', intersect: true },
    scales: {
      x: dateAxis(range),
      daily: {
        type: 'linear',
        position: 'left',
        min: 0,
        max: dailyMax,
        afterFit: fixedWidth(layout, 'left'),
        title: { display: true, text: 'mg/day prednisolone-eq.', color: COLORS.daily },
        ticks: { color: COLORS.daily },
        grid: { color: COLORS.grid },
      },
      cumulative: {
        type: 'linear',
        position: 'right',
        min: 0,
        max: cumulativeAxisMax(v),
        afterFit: fixedWidth(layout, 'right'),
        title: { display: true, text: 'cumulative mg', color: COLORS.cumulative },
        ticks: { color: COLORS.cumulative, callback: (value) => Number(value).toLocaleString('en-US') },
        grid: { drawOnChartArea: false },
      },
    },
    plugins: {
      legend: { display: false },
      tooltip: {
        // Only the pulse markers have a tooltip; the day under the cursor is read out above the chart.
        filter: (item) => item.dataset.label === 'IV pulse',
        callbacks: {
          title: (items) => (items[0] ? isoOf((items[0].raw as { x: number }).x) : ''),
          label: (item) => {
            const p = v.pulses[item.dataIndex];
            return p ? `IV pulse: ${mgText(p.mg)} prednisolone-eq. (${p.source})` : '';
          },
        },
      },
      annotation: { annotations },
    },
  };
  // A mixed chart (line and scatter datasets): Chart.js's types cannot say so, the configuration is cast.
  const config = {
    type: 'line',
    data: {
      datasets: [
        {
          label: 'Daily dose',
          data: s.daily,
          yAxisID: 'daily',
          borderColor: COLORS.daily,
          backgroundColor: COLORS.daily,
          borderWidth: 2,
          stepped: 'after',
          pointRadius: 0,
          spanGaps: false,
          clip: 4,
        },
        {
          label: 'Cumulative dose',
          data: s.cumulative,
          yAxisID: 'cumulative',
          borderColor: COLORS.cumulative,
          backgroundColor: COLORS.cumulative,
          borderWidth: 2.5,
          pointRadius: 0,
        },
        {
          label: 'Projection (recorded schedule)',
          data: projectionLine(v),
          yAxisID: 'cumulative',
          borderColor: COLORS.projection,
          borderDash: [4, 4],
          borderWidth: 2,
          pointRadius: 0,
        },
        {
          type: 'scatter',
          label: 'IV pulse',
          // Drawn at the top of the daily axis (a pulse is far above it): its dose is in its tooltip.
          data: v.pulses.map((p) => ({ x: dayOf(p.date) + 0.5, y: dailyMax * 0.94 })),
          yAxisID: 'daily',
          pointStyle: 'triangle',
          pointRadius: 7,
          pointHoverRadius: 9,
          backgroundColor: COLORS.pulse,
          borderColor: '#fff',
          borderWidth: 1,
        },
      ],
    },
    options,
  };
  const chart = new Chart(canvas, config as unknown as ChartConfiguration) as Chart;
  return {
    chart,
    setCursor(day: number | null) {
      // The same object the chart was given (Chart.js keeps the options it is configured with).
      const a = annotations.cursor!;
      a.display = day !== null;
      if (day !== null) {
        a.xMin = day + 0.5;
        a.xMax = day + 0.5;
      }
      chart.update('none');
    },
  };
}

export interface RecordsChart {
  chart: Chart;
  bars: RecordBar[];
  /** Highlights bar i (null: none) and returns where its tooltip goes, in canvas px. */
  focus(i: number | null): { x: number; y: number } | null;
}

/** Short row label: the dose as prescribed, cut to fit the label column. */
export function rowLabel(bar: RecordBar, max: number): string {
  const t = bar.row.asWritten;
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

export function recordsChart(
  canvas: HTMLCanvasElement,
  v: TimelineView,
  layout: Layout,
  onHover: (index: number | null, at: { x: number; y: number } | null) => void,
): RecordsChart {
  const bars = recordBars(v);
  const range = fullRange(v);
  const unknown = hatch(COLORS.unknown, 'rgba(138, 97, 0, 0.08)');
  const partial = hatch(COLORS.unknown, 'rgba(29, 95, 166, 0.55)');
  const maxChars = () => Math.round(layout.left / 6.2);
  const fill = (b: RecordBar) =>
    b.row.status === 'unknown'
      ? unknown
      : b.unknown
        ? partial
        : b.row.status === 'excluded'
          ? COLORS.excluded
          : COLORS.counted;
  const chart = new Chart(canvas, {
    type: 'bar',
    data: {
      labels: bars.map((b) => rowLabel(b, maxChars())),
      datasets: [
        {
          label: 'Medication records',
          data: bars.map((b) => (b.span ? b.span : null)) as unknown as number[],
          backgroundColor: bars.map(fill),
          borderColor: bars.map((b) => (b.unknown ? COLORS.unknown : 'rgba(0,0,0,0)')),
          borderWidth: bars.map((b) => (b.unknown ? 1 : 0)),
          borderSkipped: false,
          minBarLength: 4,
          barPercentage: 0.8,
          categoryPercentage: 0.9,
        },
      ],
    },
    options: {
      indexAxis: 'y',
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      layout: { padding: { right: layout.right } },
      scales: {
        x: dateAxis(range),
        y: {
          type: 'category',
          afterFit: fixedWidth(layout, 'left'),
          ticks: { autoSkip: false, color: COLORS.text, font: { size: 11 } },
          grid: { display: false },
        },
      },
      plugins: {
        legend: { display: false },
        // The tooltip is the page's own (an HTML box that wraps long derivations and opens on keyboard focus).
        tooltip: { enabled: false },
      },
      onHover: (_e: ChartEvent, elements) => {
        const i = elements[0]?.index;
        onHover(i ?? null, i === undefined ? null : barAnchor(chart, i));
      },
    },
  });
  return {
    chart,
    bars,
    focus(i) {
      chart.setActiveElements(i === null ? [] : [{ datasetIndex: 0, index: i }]);
      chart.update('none');
      return i === null ? null : barAnchor(chart, i);
    },
  };
}

function barAnchor(chart: Chart, i: number): { x: number; y: number } | null {
  const el = chart.getDatasetMeta(0).data[i] as unknown as { x: number; y: number; base?: number } | undefined;
  if (!el) return null;
  const area = chart.chartArea;
  const right = Math.max(el.x, el.base ?? el.x);
  return { x: Math.min(Math.max(right, area.left), area.right), y: el.y };
}

/** The window changed width: both charts take the layout for the new width (axes, labels, margins). */
export function relayout(layout: Layout, width: number, dose: DoseChart, records: RecordsChart): void {
  const next = layoutFor(width);
  if (next.left === layout.left && next.right === layout.right) return;
  Object.assign(layout, next);
  const chars = Math.round(layout.left / 6.2);
  records.chart.data.labels = records.bars.map((b) => rowLabel(b, chars));
  const padding = records.chart.options.layout?.padding;
  if (records.chart.options.layout && typeof padding === 'object')
    records.chart.options.layout.padding = { ...padding, right: layout.right };
  dose.chart.update('none');
  records.chart.update('none');
}

/** Shows [from, to] (day numbers) on both charts; null: the whole history. */
export function zoom(
  dose: DoseChart,
  records: RecordsChart,
  v: TimelineView,
  from: number | null,
  to: number | null,
): void {
  const full = fullRange(v);
  const min = from ?? full.min;
  const max = to === null ? full.max : to + 1;
  // A record wholly outside the range has no bar (its minimum length would draw it at the edge).
  records.chart.data.datasets[0]!.data = records.bars.map((b) =>
    b.span && b.span[1] > min && b.span[0] < max ? b.span : null,
  ) as unknown as number[];
  for (const c of [dose.chart, records.chart]) {
    const x = c.options.scales?.x;
    if (!x) continue;
    x.min = min;
    x.max = max;
    c.update('none');
  }
}
