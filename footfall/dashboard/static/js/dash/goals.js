// Goals (defined in site settings) under the custom events panel: one event:goal breakdown
// of /api/v2/query gives each goal's visitors, its conversion rate (page and event goals
// alike: converting visitors over all the range's visitors with the other filters), and,
// when any goal's own events carried a revenue, their total and average revenue. A goal
// nobody completed has no row in the answer and shows zeros. The table is a grid, so every
// column lines up whatever the goal names' lengths.
import { el, fmt } from './dom.js';
import { apiFilters, dateRange } from './state.js';

const METRICS = ['visitors', 'conversion_rate', 'total_revenue', 'average_revenue'];

/** The one query of the goals table. */
export function goalsQuery(state) {
  return { metrics: METRICS, dimensions: ['event:goal'], filters: apiFilters(state), date_range: dateRange(state),
    pagination: { limit: 1000 }, include: { plain_revenue: true } };
}

/** Append the goals table to `box`; `current()` says whether the view is still the same. */
export async function renderGoals(box, goals, state, query, signal, current) {
  if (!goals.length) return;
  const answer = await query(goalsQuery(state), signal);
  if (!current()) return;
  const byName = new Map(answer.results.map((r) => [r.dimensions[0], r.metrics]));
  const values = goals.map((goal) => {
    const m = byName.get(goal.name) || [0, 0, 0, 0];
    return { visitors: m[0], rate: m[1], total: m[2], average: m[3] };
  });
  // A revenue goal's figures are money objects (its currency), other goals' plain or null.
  const revenue = values.some((v) => (v.total && typeof v.total === 'object' ? v.total.value : v.total));
  const cols = revenue ? 5 : 3;
  const cell = (text, title) => el('span', { class: 'num', text, title });
  const head = [el('span', { class: 'rowlabel', text: 'Goal' }), cell('Visitors'), cell('CR', 'Conversion rate')];
  if (revenue) head.push(cell('Revenue'), cell('Average'));
  const list = el('ol', { class: `rows goalgrid cols${cols}`, id: 'list-goals' },
    el('li', { class: 'row head', 'aria-hidden': 'true' }, ...head));
  goals.forEach((goal, i) => {
    const v = values[i];
    const cells = [el('span', { class: 'rowlabel', text: goal.name, title: goal.name }),
      cell(fmt('visitors', v.visitors)), cell(fmt('conversion_rate', v.rate))];
    if (revenue) cells.push(cell(fmt('total_revenue', v.total)), cell(fmt('average_revenue', v.average)));
    list.append(el('li', { class: 'row goal', 'data-goal': goal.name }, ...cells));
  });
  box.append(el('h3', { class: 'goaltitle', text: 'Goals' }), list);
}
