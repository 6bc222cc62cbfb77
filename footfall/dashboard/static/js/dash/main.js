// The site dashboard: the shell is already on the page; this fetches every figure from
// the query API in parallel (top stats, chart, panels), renders it as text, keeps the
// view's state in the URL, and follows the live visitor count over server-sent events.
import { el, clear, fmt } from './dom.js';
import { METRICS, askable, readState, writeState, dateRange, apiFilters, describe, dimLabel } from './state.js';
import { PANELS, detailTab, panelNode, panelQuery, renderRows } from './panels.js';
import { renderGoals } from './goals.js';
import { funnelPanel, funnelParams, renderFunnel } from './funnels.js';
import { productPanels } from './product.js';
import { errorsPanel } from './errors.js';
import { drawChart, resizeChart } from './chart.js';
import { chartData } from './trend.js';
import { download } from './csv.js';
import { displayValue } from './labels.js';

const root = document.getElementById('dashboard');
const cfg = { ...root.dataset };
const goals = JSON.parse(cfg.goals || '[]');
const funnels = JSON.parse(cfg.funnels || '[]');
const realtime = cfg.mode === 'realtime';
let state = readState(cfg.mode);
let generation = 0;
let controller = null;
const shown = { stats: null, chart: null, panels: {}, funnel: null };

// A store short of memory beside a rollups build answers 503 with Retry-After: the panel
// waits as told (at most 10 s) and asks again, up to BUSY_TRIES times in all.
const BUSY_TRIES = 3;

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    }, { once: true });
  });
}

async function query(body, signal) {
  for (let attempt = 1; ; attempt += 1) {
    const res = await fetch(cfg.queryUrl, {
      method: 'POST', credentials: 'same-origin', signal,
      headers: { 'content-type': 'application/json' },
      // Imported aggregates (footfall import plausible-csv) count wherever they can.
      body: JSON.stringify({ site_id: cfg.siteId, ...body, include: { imports: true, ...body.include } }),
    });
    if (res.status === 503 && attempt < BUSY_TRIES) {
      await pause(Math.min(10, Number(res.headers.get('retry-after')) || 2) * 1000, signal);
      continue;
    }
    if (!res.ok) throw new Error('query failed: ' + res.status);
    // The server marks answers given while a rollups build runs: say why panels are slow.
    const notice = document.getElementById('rollups-notice');
    if (notice) notice.hidden = res.headers.get('x-footfall-rollups') !== 'building';
    return res.json();
  }
}

// -- filters -------------------------------------------------------------------------------

function addFilter(filter) {
  state.filters = [...state.filters.filter((f) => f.dim !== filter.dim), filter];
  navigate();
}

function renderFilters() {
  const box = clear(document.getElementById('filters'));
  for (const f of state.filters) {
    box.append(el('button', {
      type: 'button', class: 'chip', 'aria-label': 'Remove filter ' + describe(f),
      onclick: () => { state.filters = state.filters.filter((x) => x !== f); navigate(); },
    }, el('span', { text: dimLabel(f.dim) + ' is ' }), el('strong', { text: displayValue(f.dim, f.value) }), el('span', { 'aria-hidden': 'true', text: ' ✕' })));
  }
}

// -- top stats and chart -------------------------------------------------------------------

function changeNode(metric, change) {
  if (change === null || change === undefined) return el('span', { class: 'change muted', text: '' });
  const good = metric.lowerIsBetter ? change <= 0 : change >= 0;
  const arrow = change > 0 ? '↑' : change < 0 ? '↓' : '';
  return el('span', { class: 'change ' + (good ? 'up' : 'down'), text: arrow + ' ' + Math.abs(change) + '%' });
}

async function loadStats(signal) {
  const asked = askable(state);
  const body = { metrics: asked.map((m) => m.key), filters: apiFilters(state), date_range: dateRange(state) };
  if (state.compare) body.compare = state.compare;
  const data = await query(body, signal);
  // One value per METRICS entry; a metric not asked (views per visit under a page filter) is null.
  const at = METRICS.map((m) => asked.findIndex((a) => a.key === m.key));
  const got = data.results[0] || { metrics: asked.map(() => 0) };
  const row = { metrics: at.map((j) => (j < 0 ? null : got.metrics[j])) };
  if (got.comparison) {
    const pick = (values) => at.map((j) => (j < 0 ? null : values[j]));
    row.comparison = { metrics: pick(got.comparison.metrics), change: pick(got.comparison.change) };
  }
  shown.stats = { row, period: data.meta.period };
  const box = clear(document.getElementById('stats'));
  METRICS.forEach((m, i) => {
    const selected = m.key === state.metric;
    box.append(el('button', {
      type: 'button', role: 'tab', class: 'stat', id: 'stat-' + m.key, 'aria-selected': String(selected),
      onclick: () => { state.metric = m.key; navigate(); },
    }, el('span', { class: 'statlabel', text: m.label }),
    el('span', { class: 'statvalue', text: fmt(m.key, row.metrics[i]) }),
    row.comparison ? changeNode(m, row.comparison.change[i]) : null));
  });
}

async function loadChart(signal) {
  const chart = await chartData(state, cfg.timezone, query, signal);
  shown.chart = chart;
  drawChart(clear(document.getElementById('chart')), chart.metric, chart);
  document.getElementById('chart-legend').textContent = chart.legend;
}

// -- panels --------------------------------------------------------------------------------

const panels = PANELS.map((p) => ({ def: p, ui: panelNode(p, { onTab: (panel) => loadPanel(panel, controller.signal, generation), onDetails: openDetails }) }));
document.getElementById('panels').append(...panels.map((p) => p.ui.node));

async function loadPanel(def, signal, gen) {
  const { ui } = panels.find((p) => p.def === def);
  const tab = ui.tab();
  ui.list.setAttribute('aria-busy', 'true');
  try {
    const data = await query(panelQuery(state, tab), signal);
    if (gen !== generation) return;
    shown.panels[def.id] = { tab, results: data.results };
    renderRows(ui.list, tab, data.results, addFilter, state);
    if (def.id === 'events') {
      await loadProps(ui, signal, gen);
      await renderGoals(ui.extra, goals, state, query, signal, () => gen === generation);
    }
  } catch (err) {
    if (err.name !== 'AbortError') { clear(ui.list).append(el('li', { class: 'empty alert', text: 'Could not load' })); }
  } finally {
    ui.list.removeAttribute('aria-busy');
  }
}

// With an event filter on, the events panel breaks that event down by each property.
async function loadProps(ui, signal, gen) {
  clear(ui.extra);
  const event = state.filters.find((f) => f.dim === 'event:name');
  if (!event || !cfg.propsUrl) return;
  const res = await fetch(cfg.propsUrl + '?event=' + encodeURIComponent(event.value), { credentials: 'same-origin', signal });
  const { keys } = await res.json();
  for (const key of keys.slice(0, 5)) {
    const tab = { id: 'prop', label: key, dim: 'event:props:' + key, metrics: ['visitors', 'events'] };
    const data = await query(panelQuery(state, tab), signal);
    if (gen !== generation) return;
    const list = el('ol', { class: 'rows' });
    renderRows(list, tab, data.results, addFilter, state);
    ui.extra.append(el('h3', { class: 'proptitle', text: 'Property: ' + key }), list);
  }
}

// -- funnels ------------------------------------------------------------------------------

const pickedFunnel = () => funnels.find((f) => String(f.id) === state.funnel) || funnels[0];
const funnelUi = funnels.length && !realtime
  ? funnelPanel(funnels, pickedFunnel().id, (id) => { state.funnel = id; navigate(); },
    state.funnelBy, (by) => { state.funnelBy = by; navigate(); }) : null;
if (funnelUi) document.getElementById('panels').append(funnelUi.node);
// Retention and paths read /api/v1 reports, which a shared link does not open.
const product = !realtime && cfg.shared !== 'true' ? productPanels(cfg, () => state, query) : null;
if (product) document.getElementById('panels').append(...product.nodes);
const errors = realtime ? null : errorsPanel(() => state, query);
if (errors) document.getElementById('panels').append(errors.node);

async function loadFunnel(signal, gen) {
  if (!funnelUi) return;
  const funnel = pickedFunnel();
  const pick = document.getElementById('funnel-pick');
  if (pick) pick.value = String(funnel.id);
  funnelUi.breakdown.value = state.funnelBy;
  funnelUi.body.setAttribute('aria-busy', 'true');
  try {
    const res = await fetch(cfg.funnelUrl + '?' + funnelParams(state, cfg.siteId, funnel.id), { credentials: 'same-origin', signal });
    if (!res.ok) throw new Error('funnel failed: ' + res.status);
    const { data } = await res.json();
    if (gen !== generation) return;
    shown.funnel = { name: funnel.name, steps: data.steps };
    renderFunnel(funnelUi.body, data);
  } catch (err) {
    if (err.name !== 'AbortError') clear(funnelUi.body).append(el('p', { class: 'empty alert', text: 'Could not load' }));
  } finally {
    funnelUi.body.removeAttribute('aria-busy');
  }
}

// -- details dialog ------------------------------------------------------------------------

const dialog = document.getElementById('details');
const PAGE = 100;
let detail = null;

async function showDetailPage() {
  const { tab, offset } = detail;
  const body = clear(document.getElementById('details-body'));
  const data = await query(panelQuery(state, tab, PAGE, offset));
  const list = el('ol', { class: 'rows' });
  renderRows(list, tab, data.results, (f) => { dialog.close(); addFilter(f); }, state);
  body.append(list);
  const total = data.meta.total_rows ?? data.results.length;
  document.getElementById('details-page').textContent = `${offset + 1}–${offset + data.results.length} of ${total}`;
  document.getElementById('details-prev').disabled = offset === 0;
  document.getElementById('details-next').disabled = offset + PAGE >= total;
}

function openDetails(panel, tab) {
  detail = { tab: detailTab(tab), offset: 0 };
  document.getElementById('details-title').textContent = panel.title + ' · ' + tab.label;
  dialog.showModal();
  showDetailPage();
}
document.getElementById('details-close').addEventListener('click', () => dialog.close());
document.getElementById('details-prev').addEventListener('click', () => { detail.offset = Math.max(0, detail.offset - PAGE); showDetailPage(); });
document.getElementById('details-next').addEventListener('click', () => { detail.offset += PAGE; showDetailPage(); });

// -- controls, URL state, export, live -----------------------------------------------------

function navigate() {
  writeState(state);
  load();
}

function syncControls() {
  const range = document.getElementById('range');
  if (!range) return;
  range.value = state.period;
  document.getElementById('custom-range').hidden = state.period !== 'custom';
  document.getElementById('from').value = state.from;
  document.getElementById('to').value = state.to;
  document.getElementById('compare').checked = Boolean(state.compare);
  document.getElementById('compare-mode').value = state.compare || 'previous_period';
  document.getElementById('interval').value = state.interval;
}

function load() {
  generation += 1;
  const gen = generation;
  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;
  syncControls();
  renderFilters();
  const quiet = (p) => p.catch((err) => { if (err.name !== 'AbortError') console.warn(err); });
  root.setAttribute('aria-busy', 'true');
  Promise.all([quiet(loadStats(signal)), quiet(loadChart(signal)), ...panels.map((p) => loadPanel(p.def, signal, gen)),
    loadFunnel(signal, gen), product ? product.load(signal) : null, errors ? errors.load(signal) : null])
    .then(() => { if (gen === generation) root.setAttribute('aria-busy', 'false'); });
}

function exportCsv() {
  const rows = [['section', 'dimension', 'value', 'metric', 'current', 'previous', 'change_percent']];
  if (shown.stats) {
    METRICS.forEach((m, i) => rows.push(['top stats', '', '', m.key, shown.stats.row.metrics[i],
      shown.stats.row.comparison?.metrics[i] ?? '', shown.stats.row.comparison?.change[i] ?? '']));
  }
  if (shown.chart) {
    shown.chart.labels.forEach((l, i) => rows.push(['chart', 'time', l, shown.chart.metric, shown.chart.values[i], shown.chart.previous?.[i] ?? '', '']));
  }
  for (const { tab, results } of Object.values(shown.panels)) {
    const metrics = tab.metrics || ['visitors'];
    for (const r of results) metrics.forEach((m, i) => rows.push([tab.label, tab.dim, r.dimensions[0], m, r.metrics[i], '', '']));
  }
  if (shown.funnel) {
    shown.funnel.steps.forEach((st, i) => rows.push(['funnel ' + shown.funnel.name, 'step ' + (i + 1), st.label, 'visitors', st.visitors, '', '']));
  }
  const period = shown.stats ? shown.stats.period.from + '_' + shown.stats.period.to : 'export';
  download(`footfall-${cfg.siteId}-${period}.csv`, rows);
}

function startLive() {
  if (!cfg.liveUrl || !window.EventSource) return;
  const source = new EventSource(cfg.liveUrl);
  source.addEventListener('visitors', (e) => {
    const count = JSON.parse(e.data).visitors;
    document.getElementById('live-count').textContent = String(count);
    document.getElementById('live-noun').textContent = count === 1 ? 'current visitor' : 'current visitors';
  });
}

const range = document.getElementById('range');
if (range) {
  range.addEventListener('change', () => {
    if (range.value === 'custom') { document.getElementById('custom-range').hidden = false; return; }
    state.period = range.value;
    navigate();
  });
  document.getElementById('apply-range').addEventListener('click', () => {
    const from = document.getElementById('from').value, to = document.getElementById('to').value;
    if (!from || !to) return;
    Object.assign(state, { period: 'custom', from, to });
    navigate();
  });
  const mode = document.getElementById('compare-mode');
  document.getElementById('compare').addEventListener('change', (e) => { state.compare = e.target.checked ? mode.value : ''; navigate(); });
  mode.addEventListener('change', () => { state.compare = mode.value; navigate(); });
  document.getElementById('interval').addEventListener('change', (e) => { state.interval = e.target.value; navigate(); });
}
document.getElementById('export-csv').addEventListener('click', exportCsv);
window.addEventListener('popstate', () => { state = readState(cfg.mode); load(); });
window.addEventListener('resize', () => resizeChart(document.getElementById('chart')));
document.addEventListener('footfall:theme', () => { if (shown.chart) drawChart(clear(document.getElementById('chart')), shown.chart.metric, shown.chart); });
if (realtime) setInterval(load, 15000);
writeState(state, true);
load();
startLive();
