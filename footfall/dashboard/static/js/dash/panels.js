// The breakdown panels: each has tabs, shows its top rows (from /api/v2/query), and every
// row adds a filter when clicked. "Details" opens the full, paginated list in a dialog.
import { el, clear, fmt, referrerHref } from './dom.js';
import { apiFilters, dateRange, dimLabel } from './state.js';
import { displayValue } from './labels.js';

const NONE = ['is_not', '', ['(none)']];
const notNone = (dim) => [[NONE[0], dim, NONE[2]]];
// Top pages are the pages people viewed: a path that only custom events carried (a form
// post, an API hook) is no page. Engagement events (time on page, scroll depth) follow a
// pageview of their page, so keeping them keeps those figures; when that pageview fell
// before the range (realtime's 30 minutes), the row has no pageviews and is not shown.
// With an event filter on, that filter picks the events (pages where the goal happened).
const viewedPages = (state) => (state.filters.some((f) => f.dim === 'event:name') ? []
  : [['is', 'event:name', ['pageview', 'engagement']]]);
const hadPageviews = (row, state) => !viewedPages(state).length || row.metrics[1] > 0;

export const PANELS = [
  { id: 'sources', title: 'Top sources', tabs: [
    { id: 'source', label: 'Sources', dim: 'visit:source' },
    { id: 'referrer', label: 'Referrers', dim: 'visit:referrer', link: true, extra: [['is_not', 'visit:referrer', ['Direct / None']]] },
    { id: 'channel', label: 'Channels', dim: 'visit:channel' },
    { id: 'utm_source', label: 'UTM source', dim: 'visit:utm_source', extra: notNone('visit:utm_source') },
    { id: 'utm_medium', label: 'UTM medium', dim: 'visit:utm_medium', extra: notNone('visit:utm_medium') },
    { id: 'utm_campaign', label: 'UTM campaign', dim: 'visit:utm_campaign', extra: notNone('visit:utm_campaign') },
  ] },
  { id: 'pages', title: 'Top pages', tabs: [
    { id: 'page', label: 'Pages', dim: 'event:page', metrics: ['visitors', 'pageviews'], extra: viewedPages,
      shown: hadPageviews,
      details: ['visitors', 'pageviews', 'time_on_page', 'scroll_depth'] },
    // A visit of custom events only has no entry or exit page ('(none)'): not listed.
    { id: 'entry', label: 'Entry pages', dim: 'visit:entry_page', metrics: ['visitors', 'visits'], extra: notNone('visit:entry_page') },
    { id: 'exit', label: 'Exit pages', dim: 'visit:exit_page', metrics: ['visitors', 'visits'], extra: notNone('visit:exit_page') },
    // Pages by how many pageviews carried a load time (the tracker's performance option);
    // pages without one are left out, as /api/v1/performance does.
    { id: 'speed', label: 'Load time', dim: 'event:page', shown: (row) => row.metrics[0] > 0,
      metrics: ['load_time_pageviews', 'load_time_p50', 'load_time_p90'] },
  ] },
  { id: 'locations', title: 'Locations', tabs: [
    { id: 'country', label: 'Countries', dim: 'visit:country' },
    { id: 'region', label: 'Regions', dim: 'visit:region', extra: notNone('visit:region') },
    { id: 'city', label: 'Cities', dim: 'visit:city', extra: notNone('visit:city') },
  ] },
  { id: 'devices', title: 'Devices', tabs: [
    { id: 'device', label: 'Devices', dim: 'visit:device' },
    { id: 'browser', label: 'Browsers', dim: 'visit:browser' },
    { id: 'os', label: 'OS', dim: 'visit:os' },
  ] },
  { id: 'events', title: 'Custom events', tabs: [
    { id: 'events', label: 'Events', dim: 'event:name', metrics: ['visitors', 'events'],
      extra: [['is_not', 'event:name', ['pageview', 'engagement']]] },
  ] },
];

const METRIC_LABEL = {
  visitors: 'Visitors', pageviews: 'Pageviews', visits: 'Visits', events: 'Events',
  time_on_page: 'Time on page', scroll_depth: 'Scroll depth', load_time_pageviews: 'Timed views',
  load_time_p50: 'Median load', load_time_p90: 'p90 load',
};

/** The tab as its Details dialog shows it: with its `details` metrics when it has them. */
export function detailTab(tab) {
  return tab.details ? { ...tab, metrics: tab.details } : tab;
}

export function panelQuery(state, tab, limit = 9, offset = 0) {
  const extra = typeof tab.extra === 'function' ? tab.extra(state) : tab.extra || [];
  return {
    metrics: tab.metrics || ['visitors'],
    dimensions: [tab.dim],
    filters: apiFilters(state, extra),
    date_range: dateRange(state),
    limit, offset,
    include: { total_rows: true },
  };
}

/** One row: a button that adds the filter, an optional referrer link, the metric values. */
export function rowNode(tab, row, maxValue, onPick) {
  const value = row.dimensions[0];
  const shown = displayValue(tab.dim, value);
  const metrics = tab.metrics || ['visitors'];
  const width = maxValue ? Math.max(1, Math.round((row.metrics[0] / maxValue) * 100)) : 0;
  const pick = el('button', {
    type: 'button', class: 'rowpick', title: 'Filter by ' + dimLabel(tab.dim) + ': ' + shown,
    onclick: () => onPick({ dim: tab.dim, value }),
  }, el('span', { class: 'bar', style: `width:${width}%`, 'aria-hidden': 'true' }),
  el('span', { class: 'rowlabel', text: shown }));
  const href = tab.link ? referrerHref(value) : null;
  const link = href ? el('a', {
    class: 'extlink', href, target: '_blank', rel: 'noopener noreferrer',
    'aria-label': 'Open ' + value, text: '↗',
  }) : null;
  const cells = metrics.map((m, i) => el('span', { class: 'num', text: fmt(m, row.metrics[i]) }));
  return el('li', { class: 'row' }, pick, link, ...cells);
}

function headerRow(tab) {
  const metrics = tab.metrics || ['visitors'];
  return el('li', { class: 'row head', 'aria-hidden': 'true' },
    el('span', { class: 'rowlabel', text: dimLabel(tab.dim) }),
    ...metrics.map((m) => el('span', { class: 'num', text: METRIC_LABEL[m] || m })));
}

export function renderRows(list, tab, results, onPick, state) {
  clear(list);
  if (tab.shown) results = results.filter((row) => tab.shown(row, state));
  if (!results.length) {
    list.append(el('li', { class: 'empty muted', text: 'No data yet' }));
    return;
  }
  list.append(headerRow(tab));
  const max = Math.max(...results.map((r) => r.metrics[0] || 0));
  for (const row of results) list.append(rowNode(tab, row, max, onPick));
}

/** Build a panel's DOM; returns {node, list, setTab(tabId), tab()}. */
export function panelNode(panel, handlers) {
  let current = panel.tabs[0];
  const list = el('ol', { class: 'rows', id: 'list-' + panel.id, 'aria-live': 'polite' });
  const tablist = el('div', { class: 'tabs', role: 'tablist', 'aria-label': panel.title });
  const buttons = panel.tabs.map((tab) => el('button', {
    type: 'button', role: 'tab', class: 'tab', 'data-tab': tab.id, 'aria-selected': String(tab === current),
    text: tab.label, onclick: () => { setTab(tab.id); handlers.onTab(panel); },
  }));
  tablist.append(...buttons);
  const extra = el('div', { class: 'panel-extra' });
  const details = el('button', { type: 'button', class: 'btn ghost details', text: 'Details',
    onclick: () => handlers.onDetails(panel, current) });
  const node = el('section', { class: 'card panel', id: 'panel-' + panel.id, 'aria-label': panel.title },
    el('div', { class: 'panelhead' }, el('h2', { text: panel.title }), tablist), list, extra, details);
  function setTab(id) {
    current = panel.tabs.find((t) => t.id === id) || panel.tabs[0];
    for (const b of buttons) b.setAttribute('aria-selected', String(b.dataset.tab === current.id));
  }
  return { node, list, extra, setTab, tab: () => current };
}
