// The errors panel: the script errors the extended tracker reports (data-errors="true", as
// "JS Error" events carrying message, source and line), grouped by all three, with how
// often each happened and to how many visitors. One /api/v2/query breakdown; the panel's
// filters and range are the dashboard's.
import { el, clear, fmt } from './dom.js';
import { apiFilters, dateRange } from './state.js';

export const ERROR_EVENT = 'JS Error';
const DIMS = ['event:props:message', 'event:props:source', 'event:props:line'];

export function errorsQuery(state, limit = 20) {
  const others = (f) => f.dim !== 'event:name';
  return {
    metrics: ['events', 'visitors'],
    dimensions: DIMS,
    filters: apiFilters({ ...state, filters: state.filters.filter(others) }, [['is', 'event:name', [ERROR_EVENT]]]),
    date_range: dateRange(state),
    order_by: [['events', 'desc']],
    limit,
    include: { total_rows: true },
  };
}

function where(source, line) {
  if (!source || source === '(none)') return '(inline or unknown)';
  return line && line !== '0' && line !== '(none)' ? `${source}:${line}` : source;
}

export function renderErrors(body, data) {
  clear(body);
  if (!data.results.length) {
    body.append(el('p', { class: 'empty muted', text:
      'No script errors in this range. The extended tracker (footfall.ext.js) reports them with data-errors="true".' }));
    return;
  }
  const head = el('tr', {}, ...['Message', 'Source', 'Events', 'Visitors'].map((t, i) =>
    el('th', { scope: 'col', class: i > 1 ? 'num' : null, text: t })));
  const rows = data.results.map((r) => el('tr', { class: 'errorrow' },
    el('td', { class: 'msg', text: r.dimensions[0] }),
    el('td', { class: 'src', text: where(r.dimensions[1], r.dimensions[2]) }),
    el('td', { class: 'num', text: fmt('events', r.metrics[0]) }),
    el('td', { class: 'num', text: fmt('visitors', r.metrics[1]) })));
  body.append(el('div', { class: 'tablewrap' },
    el('table', { class: 'table errors', id: 'errors-table' }, el('thead', {}, head), el('tbody', {}, ...rows))));
  const total = data.meta.total_rows ?? data.results.length;
  if (total > data.results.length) {
    body.append(el('p', { class: 'muted small', text: `The ${data.results.length} most frequent of ${total} errors.` }));
  }
}

/** The panel's DOM and its loader: {node, load(signal)}. */
export function errorsPanel(getState, query) {
  const body = el('div', { id: 'errors-body', 'aria-live': 'polite' });
  const node = el('section', { class: 'card panel wide', id: 'panel-errors', 'aria-label': 'Script errors' },
    el('div', { class: 'panelhead' }, el('h2', { text: 'Script errors' })), body);
  async function load(signal) {
    body.setAttribute('aria-busy', 'true');
    try {
      renderErrors(body, await query(errorsQuery(getState()), signal));
    } catch (err) {
      if (err.name !== 'AbortError') clear(body).append(el('p', { class: 'empty alert', text: 'Could not load' }));
    } finally {
      body.removeAttribute('aria-busy');
    }
  }
  return { node, load };
}
