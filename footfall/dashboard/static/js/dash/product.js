// Product panels of a logged-in dashboard: retention cohorts (GET /api/v1/retention) as a
// triangle table shaded by percentage, with new and returning visitors (/api/v1/returning), and a path explorer (GET /api/v1/paths and
// /api/v1/paths/tree): pick a page, see where its visitors came from and went next, and
// the most common paths of visits that entered there, as an indented tree. Clicking a
// page anywhere explores it. Every figure comes from those endpoints; nothing is derived.
import { el, clear, fmt } from './dom.js';
import { apiFilters, dateRange } from './state.js';

const INTERVALS = [['week', 'Weekly'], ['month', 'Monthly'], ['day', 'Daily']];
const UNIT = { day: 'Day', week: 'Week', month: 'Month' };

function params(state, siteId, extra) {
  const q = new URLSearchParams({ site_id: siteId, period: state.period, ...extra });
  if (state.period === 'custom') { q.set('from', state.from); q.set('to', state.to); }
  const filters = apiFilters(state);
  if (filters.length) q.set('filters', JSON.stringify(filters));
  return q;
}

async function get(url, signal) {
  const res = await fetch(url, { credentials: 'same-origin', signal });
  if (!res.ok) throw new Error(url + ': ' + res.status);
  return (await res.json()).data;
}

function panel(id, title, ...controls) {
  const body = el('div', { id: id + '-body', 'aria-live': 'polite' });
  const head = el('div', { class: 'panelhead' }, el('h2', { text: title }), ...controls);
  return { node: el('section', { class: 'card panel wide', id: 'panel-' + id, 'aria-label': title }, head, body), body };
}

/** The retention table of one report (the endpoint's `data`). */
export function renderRetention(body, data) {
  clear(body);
  body.append(el('p', { id: 'retention-note', class: 'muted small', text:
    `${fmt('visitors', data.eligible_visitors)} visitors with a lasting identity (a user id from identify, or a `
    + 'persistent visitor id). Cookieless visitors get a new id every day and cannot be followed, so they are not counted.' }));
  const width = data.cohorts.length;
  const head = el('tr', {}, el('th', { scope: 'col', text: 'Cohort' }), el('th', { scope: 'col', class: 'num', text: 'Visitors' }),
    ...Array.from({ length: width }, (_, k) => el('th', { scope: 'col', class: 'num', text: `${UNIT[data.interval]} ${k}` })));
  const rows = data.cohorts.map((c) => el('tr', { 'data-cohort': c.cohort },
    el('th', { scope: 'row', text: c.cohort }), el('td', { class: 'num', text: fmt('visitors', c.visitors) }),
    ...Array.from({ length: width }, (_, k) => {
      if (k >= c.returning.length) return el('td', { class: 'num blank' });
      const p = c.visitors ? c.percentages[k] : null;
      return el('td', { class: 'num cell', style: `--p:${p ?? 0}`, title: `${c.returning[k]} of ${c.visitors}`,
        text: p === null ? '–' : fmt('percentage', p) });
    })));
  body.append(el('div', { class: 'tablewrap' },
    el('table', { class: 'table retention', id: 'retention-table' }, el('thead', {}, head), el('tbody', {}, ...rows))));
}

function pageButton(page, onPick) {
  return el('button', { type: 'button', class: 'linkish', 'data-page': page, text: page, onclick: () => onPick(page) });
}

function neighbourList(id, title, data, endLabel, onPick) {
  const list = el('ol', { class: 'rows pathlist', id });
  list.append(el('li', { class: 'row head', 'aria-hidden': 'true' }, el('span', { class: 'rowlabel', text: title }),
    el('span', { class: 'num', text: 'Visitors' })));
  for (const r of data.results) {
    list.append(el('li', { class: 'row', 'data-page': r.page }, el('span', { class: 'rowlabel' }, pageButton(r.page, onPick)),
      el('span', { class: 'num', title: `${r.transitions} times`, text: fmt('visitors', r.visitors) })));
  }
  list.append(el('li', { class: 'row muted end' }, el('span', { class: 'rowlabel', text: endLabel }),
    el('span', { class: 'num', text: fmt('visits', data.exits ?? data.entries) })));
  return list;
}

function treeNode(node, onPick) {
  const label = el('span', { class: 'treelabel' }, pageButton(node.page, onPick),
    el('span', { class: 'muted', text: ` ${fmt('visits', node.visits)} visits` + (node.exits ? `, ${node.exits} left` : '') }));
  const item = el('li', { 'data-page': node.page }, label);
  if (node.children.length) item.append(el('ul', { class: 'tree' }, ...node.children.map((c) => treeNode(c, onPick))));
  return item;
}

/** Fill the explorer's body for `page`: previous pages, next pages, and the tree. */
export function renderPaths(body, page, prev, next, tree, onPick) {
  clear(body);
  body.append(el('p', { class: 'small', id: 'paths-page' }, 'Exploring ', el('strong', { text: page })),
    el('div', { class: 'pathcols' }, neighbourList('paths-previous', 'Came from', prev, 'Entered here', onPick),
      neighbourList('paths-next', 'Went to', next, 'Left here', onPick)),
    el('h3', { class: 'goaltitle', text: `Paths of visits that entered on ${page}` }),
    tree.tree.visits ? el('ul', { class: 'tree', id: 'paths-tree' }, treeNode(tree.tree, onPick))
      : el('p', { class: 'muted small', id: 'paths-tree', text: 'No visit entered here.' }));
}

/** The two panels and their loader; `query` runs a v2 query (for the page picker). */
export function productPanels(cfg, getState, query) {
  let interval = 'week';
  let page = '';
  const pick = el('select', { id: 'retention-interval', 'aria-label': 'Cohort size', onchange: (e) => { interval = e.target.value; loadRetention(); } },
    ...INTERVALS.map(([v, t]) => el('option', { value: v, text: t })));
  const retention = panel('retention', 'Retention', pick);
  const pages = el('select', { id: 'paths-pick', 'aria-label': 'Page', onchange: (e) => explore(e.target.value) });
  const paths = panel('paths', 'Paths', pages);
  let signal = null;

  async function guarded(body, work) {
    body.setAttribute('aria-busy', 'true');
    try { await work(); } catch (err) {
      if (err.name !== 'AbortError') clear(body).append(el('p', { class: 'empty alert', text: 'Could not load' }));
    } finally { body.removeAttribute('aria-busy'); }
  }

  function loadRetention() {
    return guarded(retention.body, async () => {
      const state = getState();
      const [cohorts, loyalty] = await Promise.all([
        get('/api/v1/retention?' + params(state, cfg.siteId, { interval }), signal),
        get('/api/v1/returning?' + params(state, cfg.siteId, {}), signal)]);
      renderRetention(retention.body, cohorts);
      retention.body.prepend(el('p', { id: 'returning', class: 'small', text:
        `${fmt('visitors', loyalty.new_visitors)} new and ${fmt('visitors', loyalty.returning_visitors)} returning `
        + `visitors (${fmt('percentage', loyalty.returning_percentage)} returning), `
        + `${fmt('views_per_visit', loyalty.visits_per_visitor)} visits per visitor.` }));
    });
  }

  function explore(next) {
    page = next;
    if (![...pages.options].some((o) => o.value === page)) pages.append(el('option', { value: page, text: page }));
    pages.value = page;
    return guarded(paths.body, async () => {
      const state = getState();
      const [prev, after, tree] = await Promise.all([
        get('/api/v1/paths?' + params(state, cfg.siteId, { page, direction: 'previous' }), signal),
        get('/api/v1/paths?' + params(state, cfg.siteId, { page, direction: 'next' }), signal),
        get('/api/v1/paths/tree?' + params(state, cfg.siteId, { page }), signal)]);
      renderPaths(paths.body, page, prev, after, tree, explore);
    });
  }

  async function load(s) {
    signal = s;
    const state = getState();
    const top = await query({ metrics: ['visitors'], dimensions: ['event:page'], filters: apiFilters(state),
      date_range: dateRange(state), pagination: { limit: 20 } }, s).catch(() => ({ results: [] }));
    clear(pages).append(...top.results.map((r) => el('option', { value: r.dimensions[0], text: r.dimensions[0] })));
    const first = top.results.length ? top.results[0].dimensions[0] : '/';
    await Promise.all([loadRetention(), explore(page || first)]);
  }

  return { nodes: [retention.node, paths.node], load };
}
