// Goals (defined in site settings) under the custom events panel: each goal's visitors in
// the current range and filters, and its conversion rate where the query API computes one
// (custom-event goals without a property filter). Every figure comes from /api/v2/query.
import { el, fmt } from './dom.js';
import { apiFilters, dateRange } from './state.js';

/** The query of one goal: cfg goals carry their own filters (see GoalInfo.query_filters). */
export function goalQuery(state, goal) {
  return {
    metrics: goal.rate ? ['visitors', 'conversion_rate'] : ['visitors'],
    filters: apiFilters(state, goal.filters),
    date_range: dateRange(state),
  };
}

/** Append the goals list to `box`; `current()` says whether the view is still the same. */
export async function renderGoals(box, goals, state, query, signal, current) {
  if (!goals.length) return;
  const answers = await Promise.all(goals.map((g) => query(goalQuery(state, g), signal)));
  if (!current()) return;
  const list = el('ol', { class: 'rows', id: 'list-goals' },
    el('li', { class: 'row head', 'aria-hidden': 'true' }, el('span', { class: 'rowlabel', text: 'Goal' }),
      el('span', { class: 'num', text: 'Visitors' }), el('span', { class: 'num', text: 'CR' })));
  goals.forEach((goal, i) => {
    const row = answers[i].results[0];
    const values = row ? row.metrics : [0, goal.rate ? 0 : null];
    list.append(el('li', { class: 'row goal', 'data-goal': goal.name },
      el('span', { class: 'rowlabel', text: goal.name }),
      el('span', { class: 'num', text: fmt('visitors', values[0]) }),
      el('span', { class: 'num', title: goal.rate ? 'Conversion rate' : 'Conversion rate is shown for custom-event goals',
        text: goal.rate ? fmt('conversion_rate', values[1]) : '–' })));
  });
  box.append(el('h3', { class: 'goaltitle', text: 'Goals' }), list);
}
