// The funnels panel: one of the site's funnels (defined in site settings) over the current
// range and filters, as Plausible draws it: the visitors who reached each step in order,
// their share of those who entered (step 1), how many dropped off since the step before
// and the median time from it; against the previous period when the dashboard compares,
// and broken down by source, device or country when one is picked. Every figure comes
// from the funnel endpoint (GET /api/v1/funnel, or a shared link's own), which computes
// them per docs/design.md "Metric definitions"; nothing is derived here.
import { el, clear, fmt, duration } from './dom.js';
import { apiFilters } from './state.js';

export const BREAKDOWNS = [['', 'No breakdown'], ['visit:source', 'By source'],
  ['visit:device', 'By device'], ['visit:country', 'By country']];

/** The funnel endpoint's query string for `funnelId` in the view's range, filters,
 * comparison and breakdown. */
export function funnelParams(state, siteId, funnelId) {
  const q = new URLSearchParams({ site_id: siteId, funnel_id: String(funnelId), period: state.period });
  if (state.period === 'custom') { q.set('from', state.from); q.set('to', state.to); }
  const filters = apiFilters(state);
  if (filters.length) q.set('filters', JSON.stringify(filters));
  if (state.compare) q.set('compare', state.compare);
  if (state.funnelBy) q.set('breakdown', state.funnelBy);
  return q;
}

/** The panel's DOM: a title, a funnel picker when there are several, the breakdown
 * picker, and the body. */
export function funnelPanel(funnels, selected, onPick, by, onBy) {
  const body = el('div', { id: 'funnel-body', 'aria-live': 'polite' });
  const head = el('div', { class: 'panelhead' }, el('h2', { text: 'Funnels' }));
  if (funnels.length > 1) {
    const pick = el('select', { id: 'funnel-pick', 'aria-label': 'Funnel', onchange: (e) => onPick(e.target.value) },
      ...funnels.map((f) => el('option', { value: String(f.id), text: f.name })));
    pick.value = String(selected);
    head.append(pick);
  } else {
    head.append(el('span', { class: 'muted', text: funnels[0].name }));
  }
  const breakdown = el('select', { id: 'funnel-by', 'aria-label': 'Funnel breakdown', onchange: (e) => onBy(e.target.value) },
    ...BREAKDOWNS.map(([value, text]) => el('option', { value, text })));
  breakdown.value = by;
  head.append(breakdown);
  const node = el('section', { class: 'card panel wide', id: 'panel-funnels', 'aria-label': 'Funnels' }, head, body);
  return { node, body, breakdown };
}

function windowText(data) {
  if (data.window === 'visit') return 'Later steps count in the same visit as step 1.';
  return `Later steps count within ${data.window.replace(/h$/, ' hours')} of step 1, by the same visitor.`;
}

function changeText(change) {
  if (change === null || change === undefined) return '';
  return (change > 0 ? '↑ ' : change < 0 ? '↓ ' : '') + Math.abs(change) + '%';
}

/** Fill `body` with one funnel report (the endpoint's `data`). */
export function renderFunnel(body, data) {
  clear(body);
  const steps = data.steps;
  const last = steps[steps.length - 1];
  const compared = Boolean(data.comparison);
  body.append(el('p', { id: 'funnel-summary', class: 'muted small',
    text: `${fmt('visitors', data.entering_visitors)} of ${fmt('visitors', data.all_visitors)} visitors entered `
      + `(${fmt('percentage', data.entering_visitors_percentage)}); ${fmt('visitors', last.visitors)} completed `
      + `(${fmt('conversion_rate', last.conversion_rate)} conversion). ` + windowText(data) }));
  if (compared) {
    const c = data.comparison;
    body.append(el('p', { id: 'funnel-compare', class: 'muted small',
      text: `Compared with ${c.date_range[0]} to ${c.date_range[1]}: ${fmt('visitors', c.entering_visitors)} entered.` }));
  }
  const list = el('ol', { class: 'rows funnel', id: 'list-funnel' },
    el('li', { class: 'row head', 'aria-hidden': 'true' }, el('span', { class: 'rowlabel', text: 'Step' }),
      el('span', { class: 'num', text: 'Visitors' }), el('span', { class: 'num', text: 'Conversion' }),
      el('span', { class: 'num wide', text: 'Dropped off' }), el('span', { class: 'num', text: 'Median time' }),
      compared ? el('span', { class: 'num wide', text: 'Previous' }) : null));
  const top = steps[0].visitors;
  steps.forEach((step, i) => {
    const width = top ? Math.max(step.visitors ? 1 : 0, Math.round((step.visitors / top) * 100)) : 0;
    const then = step.comparison;
    list.append(el('li', { class: 'row step', 'data-step': String(i + 1) },
      el('span', { class: 'steplabel' }, el('span', { class: 'bar', style: `width:${width}%`, 'aria-hidden': 'true' }),
        el('span', { class: 'rowlabel', text: `${i + 1}. ${step.label}` })),
      el('span', { class: 'num', text: fmt('visitors', step.visitors) }),
      el('span', { class: 'num', title: 'Share of the visitors who entered (step 1)', text: fmt('conversion_rate', step.conversion_rate) }),
      el('span', { class: 'num wide', title: 'Visitors lost since the step before',
        text: i === 0 ? '–' : `${fmt('visitors', step.dropoff)} (${fmt('percentage', step.dropoff_percentage)})` }),
      el('span', { class: 'num median', title: 'Median time from the step before',
        text: step.median_seconds === null ? '–' : duration(step.median_seconds) }),
      then ? el('span', { class: 'num wide prev', title: 'Visitors in the previous period, and the change',
        text: `${fmt('visitors', then.visitors)} ${changeText(then.change)}`.trim() }) : null));
  });
  body.append(list);
  if (data.breakdown) body.append(breakdownTable(data.breakdown, steps.length));
}

function breakdownTable(breakdown, n) {
  const head = el('tr', {}, el('th', { scope: 'col', text: 'Value' }),
    el('th', { scope: 'col', class: 'num', text: 'Entered' }),
    ...Array.from({ length: n - 1 }, (_, k) => el('th', { scope: 'col', class: 'num', text: `Step ${k + 2}` })),
    el('th', { scope: 'col', class: 'num', text: 'Conversion' }));
  const rows = breakdown.results.map((r) => el('tr', { 'data-value': r.value },
    el('th', { scope: 'row', text: r.value }),
    el('td', { class: 'num', text: fmt('visitors', r.entering_visitors) }),
    ...r.steps.slice(1).map((s) => el('td', { class: 'num', title: `${fmt('conversion_rate', s.conversion_rate)} of those who entered`,
      text: fmt('visitors', s.visitors) })),
    el('td', { class: 'num', text: fmt('conversion_rate', r.steps[n - 1].conversion_rate) })));
  if (!rows.length) rows.push(el('tr', {}, el('td', { colspan: String(n + 2), class: 'empty', text: 'No visitors' })));
  return el('div', { class: 'tablewrap' }, el('table', { class: 'table', id: 'funnel-breakdown' },
    el('thead', {}, head), el('tbody', {}, ...rows)));
}
