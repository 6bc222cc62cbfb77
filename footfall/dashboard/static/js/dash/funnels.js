// The funnels panel: one of the site's funnels (defined in site settings) over the current
// range and filters, as Plausible draws it: the visitors who reached each step in order,
// their share of those who entered (step 1), and how many dropped off since the step
// before. Every figure comes from the funnel endpoint (GET /api/v1/funnel, or a shared
// link's own), which computes them per docs/design.md "Metric definitions"; nothing is
// derived here.
import { el, clear, fmt } from './dom.js';
import { apiFilters } from './state.js';

/** The funnel endpoint's query string for `funnelId` in the view's range and filters. */
export function funnelParams(state, siteId, funnelId) {
  const q = new URLSearchParams({ site_id: siteId, funnel_id: String(funnelId), period: state.period });
  if (state.period === 'custom') { q.set('from', state.from); q.set('to', state.to); }
  const filters = apiFilters(state);
  if (filters.length) q.set('filters', JSON.stringify(filters));
  return q;
}

/** The panel's DOM: a title, a funnel picker when there are several, and the body. */
export function funnelPanel(funnels, selected, onPick) {
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
  const node = el('section', { class: 'card panel wide', id: 'panel-funnels', 'aria-label': 'Funnels' }, head, body);
  return { node, body };
}

/** Fill `body` with one funnel report (the endpoint's `data`). */
export function renderFunnel(body, data) {
  clear(body);
  const steps = data.steps;
  const last = steps[steps.length - 1];
  body.append(el('p', { id: 'funnel-summary', class: 'muted small',
    text: `${fmt('visitors', data.entering_visitors)} of ${fmt('visitors', data.all_visitors)} visitors entered `
      + `(${fmt('percentage', data.entering_visitors_percentage)}); ${fmt('visitors', last.visitors)} completed `
      + `(${fmt('conversion_rate', last.conversion_rate)} conversion).` }));
  const list = el('ol', { class: 'rows', id: 'list-funnel' },
    el('li', { class: 'row head', 'aria-hidden': 'true' }, el('span', { class: 'rowlabel', text: 'Step' }),
      el('span', { class: 'num', text: 'Visitors' }), el('span', { class: 'num', text: 'Conversion' }),
      el('span', { class: 'num wide', text: 'Dropped off' })));
  const top = steps[0].visitors;
  steps.forEach((step, i) => {
    const width = top ? Math.max(step.visitors ? 1 : 0, Math.round((step.visitors / top) * 100)) : 0;
    list.append(el('li', { class: 'row step', 'data-step': String(i + 1) },
      el('span', { class: 'steplabel' }, el('span', { class: 'bar', style: `width:${width}%`, 'aria-hidden': 'true' }),
        el('span', { class: 'rowlabel', text: `${i + 1}. ${step.label}` })),
      el('span', { class: 'num', text: fmt('visitors', step.visitors) }),
      el('span', { class: 'num', title: 'Share of the visitors who entered (step 1)', text: fmt('conversion_rate', step.conversion_rate) }),
      el('span', { class: 'num wide', title: 'Visitors lost since the step before',
        text: i === 0 ? '–' : `${fmt('visitors', step.dropoff)} (${fmt('percentage', step.dropoff_percentage)})` })));
  });
  body.append(list);
}
