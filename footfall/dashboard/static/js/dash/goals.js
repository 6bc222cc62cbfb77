// Goals (defined in site settings) under the custom events panel: each goal's visitors in
// the current range and filters, its conversion rate where the query API computes one
// (custom-event goals without a property filter), and, when any goal's events carried a
// revenue, its total and average revenue. Every figure comes from /api/v2/query.
import { el, fmt } from './dom.js';
import { apiFilters, dateRange } from './state.js';

const REVENUE = ['total_revenue', 'average_revenue'];

/** The query of one goal: cfg goals carry their own filters (see GoalInfo.query_filters). */
export function goalQuery(state, goal) {
  return {
    metrics: [...(goal.rate ? ['visitors', 'conversion_rate'] : ['visitors']), ...REVENUE],
    filters: apiFilters(state, goal.filters),
    date_range: dateRange(state),
  };
}

/** Append the goals list to `box`; `current()` says whether the view is still the same. */
export async function renderGoals(box, goals, state, query, signal, current) {
  if (!goals.length) return;
  const queries = goals.map((g) => goalQuery(state, g));
  const answers = await Promise.all(queries.map((q) => query(q, signal)));
  if (!current()) return;
  const values = goals.map((goal, i) => {
    const names = queries[i].metrics;
    const row = answers[i].results[0];
    const get = (m) => (row && names.includes(m) ? row.metrics[names.indexOf(m)] : null);
    return { visitors: get('visitors') ?? 0, rate: get('conversion_rate'), total: get('total_revenue') ?? 0,
      average: get('average_revenue') ?? 0 };
  });
  const revenue = values.some((v) => v.total !== 0);
  const head = [el('span', { class: 'rowlabel', text: 'Goal' }), el('span', { class: 'num', text: 'Visitors' }),
    el('span', { class: 'num', text: 'CR' })];
  if (revenue) head.push(el('span', { class: 'num', text: 'Revenue' }), el('span', { class: 'num', text: 'Average' }));
  const list = el('ol', { class: 'rows', id: 'list-goals' }, el('li', { class: 'row head', 'aria-hidden': 'true' }, ...head));
  goals.forEach((goal, i) => {
    const v = values[i];
    const cells = [
      el('span', { class: 'rowlabel', text: goal.name }),
      el('span', { class: 'num', text: fmt('visitors', v.visitors) }),
      el('span', { class: 'num', title: goal.rate ? 'Conversion rate' : 'Conversion rate is shown for custom-event goals',
        text: goal.rate ? fmt('conversion_rate', v.rate ?? 0) : '–' }),
    ];
    if (revenue) cells.push(el('span', { class: 'num', text: fmt('total_revenue', v.total) }),
      el('span', { class: 'num', text: fmt('average_revenue', v.average) }));
    list.append(el('li', { class: 'row goal', 'data-goal': goal.name }, ...cells));
  });
  box.append(el('h3', { class: 'goaltitle', text: 'Goals' }), list);
}
