// The main chart (uPlot, vendored): the chosen metric over time, with the running bucket
// (this hour, today, this minute) dashed and later buckets left out, and the comparison
// period drawn beside it as a grey dashed line. Counts get whole-number ticks only.
import { fmt } from './dom.js';

const COUNTS = new Set(['visitors', 'visits', 'pageviews', 'events']);
// Tick steps for counts: no 0.5 visitors however small the numbers are.
const WHOLE = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4,
  1e5, 2e5, 2.5e5, 5e5, 1e6, 2e6, 2.5e6, 5e6, 1e7, 2e7, 5e7, 1e8, 2e8, 5e8, 1e9];

let plot = null;

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function yRange(metric) {
  return (u, min, max) => {
    const top = Math.max(max || 0, COUNTS.has(metric) ? 1 : 0);
    const [, hi] = window.uPlot.rangeNum(0, top || 1, 0.1, true);
    return [0, COUNTS.has(metric) ? Math.max(1, Math.ceil(hi)) : hi];
  };
}

/**
 * Draw `series` into `target`: {labels, done, running, previous}. `done` is the solid line
 * (finished buckets), `running` the dashed part (null when the period has no running
 * bucket), `previous` the comparison period (or null); null values are not drawn.
 */
export function drawChart(target, metric, series) {
  if (plot) { plot.destroy(); plot = null; }
  const { labels, done, running, previous } = series;
  if (!window.uPlot || !labels.length) return;
  const axis = cssVar('--muted', '#6b7280');
  const grid = cssVar('--grid', '#e5e7eb');
  const accent = cssVar('--accent', '#4f46e5');
  const value = (u, v) => fmt(metric, v);
  const lines = [{}, { label: 'Current', stroke: accent, width: 2, fill: accent + '22', value }];
  const data = [labels.map((_, i) => i), done];
  if (running) {
    lines.push({ label: 'So far', stroke: accent, width: 2, dash: [5, 5], value });
    data.push(running);
  }
  if (previous) {
    lines.push({ label: 'Previous', stroke: axis, width: 1.5, dash: [6, 4], value });
    data.push(previous);
  }
  const yAxis = { stroke: axis, grid: { stroke: grid }, size: 60, values: (u, splits) => splits.map((v) => fmt(metric, v)) };
  if (COUNTS.has(metric)) yAxis.incrs = WHOLE;
  const opts = {
    width: Math.max(280, target.clientWidth), height: 260,
    scales: { x: { time: false }, y: { range: yRange(metric) } },
    legend: { show: false },
    series: lines,
    axes: [
      { stroke: axis, grid: { stroke: grid }, incrs: WHOLE, values: (u, splits) => splits.map((i) => short(labels[i])) },
      yAxis,
    ],
  };
  plot = new window.uPlot(opts, data, target);
}

function short(label) {
  if (typeof label !== 'string') return '';
  if (/T\d\d:/.test(label)) return label.slice(11, 16);
  if (label.length === 19 && label[10] === ' ') return label.slice(11, 16);
  return label.length > 7 ? label.slice(5) : label;
}

export function resizeChart(target) {
  if (plot) plot.setSize({ width: Math.max(280, target.clientWidth), height: 260 });
}
