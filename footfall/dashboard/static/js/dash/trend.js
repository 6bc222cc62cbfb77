// The chart's figures: the chosen metric by time from /api/v2/query (and the comparison
// period's, when comparing), split at the clock into finished buckets and the running
// one. The realtime view charts the last 30 minutes minute by minute.
import { METRICS, apiFilters, askable, dateRange, timeDimension } from './state.js';
import { currentLabel, lastMinutes, splitAtNow, unitOf } from './buckets.js';

const REALTIME_MINUTES = 30;
const RUNNING = { minute: 'this minute', hour: 'this hour', day: 'today', week: 'this week', month: 'this month' };

function byLabel(results) {
  return new Map(results.map((r) => [r.dimensions[0], r.metrics[0]]));
}

/**
 * The view's chart: {metric, labels, values, done, running, previous, legend}. `values`
 * has null for buckets after now; `done`/`running` are the solid and dashed lines.
 */
export async function chartData(state, timezone, query, signal, now = new Date()) {
  const realtime = state.period === 'realtime';
  const dim = realtime ? 'time:minute' : timeDimension(state);
  // A metric the view cannot ask (views per visit under a page filter) charts visitors.
  const metric = askable(state).some((m) => m.key === state.metric) ? state.metric : 'visitors';
  const base = { metrics: [metric], dimensions: [dim], filters: apiFilters(state) };
  if (!realtime) base.include = { time_labels: true };
  const data = await query({ ...base, date_range: dateRange(state), compare: state.compare || undefined }, signal);
  const labels = realtime ? lastMinutes(REALTIME_MINUTES, timezone, now) : data.meta.time_labels || [];
  const found = byLabel(data.results);
  const unit = realtime ? 'minute' : unitOf(dim, labels);
  const split = splitAtNow(labels, labels.map((l) => found.get(l) ?? 0), currentLabel(unit, timezone, now));
  let previous = null;
  const cp = data.meta.comparison_period;
  if (cp) {
    const prev = await query({ ...base, date_range: [cp.from, cp.to] }, signal);
    const prevBy = byLabel(prev.results);
    previous = (prev.meta.time_labels || []).slice(0, labels.length).map((l) => prevBy.get(l) ?? 0);
    while (previous.length < labels.length) previous.push(null);
  }
  const name = METRICS.find((m) => m.key === metric).label;
  const span = realtime ? `per minute, last ${REALTIME_MINUTES} minutes`
    : data.meta.period.from + ' – ' + data.meta.period.to;
  const legend = name + ' ' + span + (cp ? ' (dashed: ' + cp.from + ' – ' + cp.to + ')' : '')
    + (split.running ? ' · dashed end: ' + RUNNING[unit] + ', so far' : '')
    + (data.meta.imports_included ? ' · includes imported data' : '');
  return { metric, labels, values: split.shown, done: split.done, running: split.running, previous, legend };
}
