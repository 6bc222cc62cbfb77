// DOM helpers that only ever put data into the page as text: no innerHTML anywhere.

/** Create an element; attrs: class, text, on<event> handlers, other attributes as strings. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** An https link for a referrer value (stored without its scheme), or null when the value
 * is not plainly a host name and path: "javascript:..." and friends never become links. */
export function referrerHref(value) {
  if (typeof value !== 'string' || !/^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?(\/[^\s]*)?$/i.test(value)) return null;
  try {
    const url = new URL('https://' + value);
    return url.protocol === 'https:' ? url.href : null;
  } catch (e) {
    return null;
  }
}

const INT = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const DEC = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const MONEY = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Format a metric value for display. */
export function fmt(metric, value) {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'object') value = value.value; // a revenue goal's money object
  if (metric === 'bounce_rate' || metric === 'percentage' || metric === 'conversion_rate' || metric === 'scroll_depth') return DEC.format(value) + '%';
  if (/^load_time_p\d+$/.test(metric)) return value >= 1000 ? DEC.format(value / 1000) + ' s' : INT.format(value) + ' ms';
  if (metric === 'visit_duration' || metric === 'time_on_page') return duration(value);
  if (metric === 'total_revenue' || metric === 'average_revenue') return MONEY.format(value);
  if (metric === 'views_per_visit') return DEC.format(value);
  if (Math.abs(value) >= 10000) return compact(value);
  return INT.format(value);
}

function compact(value) {
  return new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 }).format(value);
}

export function duration(seconds) {
  const s = Math.round(seconds || 0);
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + (s % 60) + 's';
  return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
}
