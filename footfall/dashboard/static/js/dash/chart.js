// The main chart (uPlot, vendored): the chosen metric over time, with the comparison
// period drawn beside it as a dashed line.
import { fmt } from './dom.js';

let plot = null;

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function drawChart(target, metric, labels, current, previous) {
  if (plot) { plot.destroy(); plot = null; }
  if (!window.uPlot || !labels.length) return;
  const axis = cssVar('--muted', '#6b7280');
  const grid = cssVar('--grid', '#e5e7eb');
  const accent = cssVar('--accent', '#4f46e5');
  const x = labels.map((_, i) => i);
  const series = [{}, { label: 'Current', stroke: accent, width: 2, fill: accent + '22',
    value: (u, v) => fmt(metric, v) }];
  const data = [x, current];
  if (previous) {
    series.push({ label: 'Previous', stroke: axis, width: 1.5, dash: [6, 4], value: (u, v) => fmt(metric, v) });
    data.push(previous);
  }
  const opts = {
    width: Math.max(280, target.clientWidth), height: 260,
    scales: { x: { time: false } },
    legend: { show: false },
    series,
    axes: [
      { stroke: axis, grid: { stroke: grid }, values: (u, splits) => splits.map((i) => short(labels[i])) },
      { stroke: axis, grid: { stroke: grid }, values: (u, splits) => splits.map((v) => fmt(metric, v)), size: 60 },
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
