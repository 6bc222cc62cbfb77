// The dashboard's state lives in the URL query string, so views can be bookmarked and
// shared and back/forward work: period, from, to, compare (1 = previous period, yoy = year
// over year), metric, interval, funnel (the funnel panel's pick), fb (its breakdown) and filters
// (f=dim|value).
import { displayValue } from './labels.js';

export const PERIODS = ['day', '7d', '30d', 'month', 'year', 'custom'];
export const INTERVALS = ['hour', 'day', 'week', 'month'];

export const METRICS = [
  { key: 'visitors', label: 'Unique visitors' },
  { key: 'visits', label: 'Total visits' },
  { key: 'pageviews', label: 'Total pageviews' },
  { key: 'views_per_visit', label: 'Views per visit' },
  { key: 'bounce_rate', label: 'Bounce rate', lowerIsBetter: true },
  { key: 'visit_duration', label: 'Visit duration' },
];

/** The top-stats metrics a view can ask: views per visit has no meaning under a page
 * filter (the query API refuses it there, as Plausible's does), so it is not asked. */
export function askable(state) {
  const paged = state.filters.some((f) => f.dim === 'event:page');
  return METRICS.filter((m) => !(paged && m.key === 'views_per_visit'));
}

export const DIM_LABELS = {
  'visit:source': 'Source', 'visit:referrer': 'Referrer', 'visit:channel': 'Channel',
  'visit:utm_source': 'UTM source', 'visit:utm_medium': 'UTM medium',
  'visit:utm_campaign': 'UTM campaign', 'event:page': 'Page', 'visit:entry_page': 'Entry page',
  'visit:exit_page': 'Exit page', 'visit:country': 'Country', 'visit:region': 'Region',
  'visit:city': 'City', 'visit:device': 'Device', 'visit:browser': 'Browser', 'visit:os': 'OS',
  'event:name': 'Event',
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const COMPARE = { 1: 'previous_period', yoy: 'year_over_year' };
const FUNNEL_BY = ['visit:source', 'visit:device', 'visit:country'];

export function dimLabel(dim) {
  if (dim.startsWith('event:props:')) return 'Property ' + dim.slice(12);
  return DIM_LABELS[dim] || dim;
}

function parseFilter(raw) {
  const i = raw.indexOf('|');
  if (i <= 0) return null;
  const dim = raw.slice(0, i);
  if (!(dim in DIM_LABELS) && !dim.startsWith('event:props:')) return null;
  return { dim, value: raw.slice(i + 1) };
}

export function readState(mode) {
  const q = new URLSearchParams(location.search);
  let period = q.get('period');
  if (!PERIODS.includes(period)) period = '30d';
  const from = q.get('from') || '', to = q.get('to') || '';
  if (period === 'custom' && !(DATE.test(from) && DATE.test(to))) period = '30d';
  const metric = METRICS.some((m) => m.key === q.get('metric')) ? q.get('metric') : 'visitors';
  return {
    period: mode === 'realtime' ? 'realtime' : period,
    from, to, metric,
    compare: (mode !== 'realtime' && COMPARE[q.get('compare')]) || '',
    interval: INTERVALS.includes(q.get('interval')) ? q.get('interval') : '',
    funnel: /^\d{1,9}$/.test(q.get('funnel') || '') ? q.get('funnel') : '',
    funnelBy: FUNNEL_BY.includes(q.get('fb')) ? q.get('fb') : '',
    filters: q.getAll('f').map(parseFilter).filter(Boolean),
  };
}

export function writeState(state, replace = false) {
  const q = new URLSearchParams();
  if (state.period !== 'realtime') {
    q.set('period', state.period);
    if (state.period === 'custom') { q.set('from', state.from); q.set('to', state.to); }
    if (state.compare) q.set('compare', state.compare === 'year_over_year' ? 'yoy' : '1');
  }
  if (state.metric !== 'visitors') q.set('metric', state.metric);
  if (state.interval) q.set('interval', state.interval);
  if (state.funnel) q.set('funnel', state.funnel);
  if (state.funnelBy) q.set('fb', state.funnelBy);
  for (const f of state.filters) q.append('f', f.dim + '|' + f.value);
  const url = location.pathname + (q.toString() ? '?' + q.toString() : '');
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
}

export function dateRange(state) {
  return state.period === 'custom' ? [state.from, state.to] : state.period;
}

export function timeDimension(state) {
  if (state.interval) return 'time:' + state.interval;
  if (state.period === 'day') return 'time:hour';
  if (state.period === 'year') return 'time:month';
  if (state.period === 'custom') return 'time';
  return 'time:day';
}

export function apiFilters(state, extra = []) {
  return [...state.filters.map((f) => ['is', f.dim, [f.value]]), ...extra];
}

export function describe(filter) {
  return dimLabel(filter.dim) + ' is ' + displayValue(filter.dim, filter.value);
}
