// The chart's time buckets against the clock, in the site's time zone (the zone every
// bucket label is in): which bucket is running now, so the chart draws it dashed (its
// figure is still growing) and leaves later buckets out instead of drawing them as zero.
// Labels are the query API's: "YYYY-MM-DD HH:MM:00" (minute, hour) or "YYYY-MM-DD" (the
// first day of a day, week or month bucket), so they order as strings.

function localParts(timezone, now) {
  const opts = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  let format;
  try {
    format = new Intl.DateTimeFormat('en-CA', { ...opts, timeZone: timezone || 'UTC' });
  } catch (e) {
    format = new Intl.DateTimeFormat('en-CA', { ...opts, timeZone: 'UTC' }); // unknown zone name
  }
  return Object.fromEntries(format.formatToParts(now).map((p) => [p.type, p.value]));
}

/** The unit of a time dimension ("time:hour"), or for "time" (auto) the unit its labels show. */
export function unitOf(dim, labels) {
  if (dim.startsWith('time:')) return dim.slice(5);
  if (!labels.length || labels[0].length > 10) return 'hour';
  if (labels.length < 2) return 'day';
  const days = (Date.parse(labels[1]) - Date.parse(labels[0])) / 86400000;
  return days <= 1 ? 'day' : days <= 7 ? 'week' : 'month';
}

/** The label of the bucket of `unit` that contains `now` in `timezone`. */
export function currentLabel(unit, timezone, now = new Date()) {
  const p = localParts(timezone, now);
  const day = `${p.year}-${p.month}-${p.day}`;
  if (unit === 'minute') return `${day} ${p.hour}:${p.minute}:00`;
  if (unit === 'hour') return `${day} ${p.hour}:00:00`;
  if (unit === 'month') return `${p.year}-${p.month}-01`;
  if (unit === 'week') {
    const d = new Date(Date.UTC(+p.year, +p.month - 1, +p.day));
    d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7)); // back to Monday
    return d.toISOString().slice(0, 10);
  }
  return day;
}

/** The labels of the `count` minutes up to and including the current one (realtime chart). */
export function lastMinutes(count, timezone, now = new Date()) {
  const out = [];
  for (let i = count - 1; i >= 0; i -= 1) out.push(currentLabel('minute', timezone, new Date(now.getTime() - i * 60000)));
  return out;
}

/**
 * Split a series at the running bucket `nowLabel`: `done` holds the finished buckets,
 * `running` the last finished one and the running one (so the dashed part joins the
 * line), and buckets after now are null in both (not drawn, not zero).
 */
export function splitAtNow(labels, values, nowLabel) {
  const at = labels.indexOf(nowLabel);
  const done = labels.map((l, i) => (l < nowLabel ? values[i] : null));
  const running = labels.map((l, i) => (at >= 0 && (i === at || i === at - 1) ? values[i] : null));
  const shown = labels.map((l, i) => (l <= nowLabel ? values[i] : null));
  return { done, running: at >= 0 ? running : null, shown };
}
