# ruff: noqa: E501  (SQL and data tables read better unwrapped, as in footfall/query/builder.py)
"""Prototype of exact "reach" rollups, to measure what they would do for the dashboard set.

Not used by Footfall; ``bench/query.py --proto`` builds these tables in a side file
attached to the store, answers the dashboard set from them (plus the raw events of the
day not sealed yet), checks that every answer equals the query layer's, and times it.

The problem they solve: ``visitors`` is a distinct count, so per-day pre-aggregates do
not add up over a range; every dashboard panel pays a hash-distinct over the range's raw
events (2.8M (page, visitor) pairs for the pages panel at 10M events).

reach(site_id, kind, win, value, visitor_id, days UBIGINT)
    one row per (site, kind, window, value, visitor) that occurs; ``win`` w covers the
    site-local days [32w, 32w + 64) and bit i of ``days`` says the visitor had an event
    with that value on day 32w + i. Every day lies in two windows (w = d // 32 and the
    one before), so any range of at most 33 days lies inside window ``first // 32``, and
    visitors(value, range) = count(*) of that window's rows whose ``days`` meet the
    range's mask: a filtered count, no distinct. kind: total (value ''), page,
    entry_page, source, country, device, browser, name.
daily(site_id, kind, day, value, visitors, pageviews, events)
    exact per site-local day (time series buckets; pageviews/events add up over days).

Sealing: both tables hold the days before ``sealed_day`` (here: every day before the
data's last day). Queries add the unsealed events from the raw table: the unsealed
(value, visitor) pairs not already among the range's reach rows are added to their
count (|A u T| = |A| + |T minus A|), so the answer stays exact. (In Footfall the seal
would be an OR-merge job run every few minutes over events newer than an ingestion
watermark: OR is idempotent, so late events are just merged at the next run.)
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

KINDS: dict[str, str] = {
    "total": "''",
    "page": "pathname",
    "entry_page": "entry_page",
    "source": "referrer_source",
    "country": "country",
    "device": "device",
    "browser": "browser",
    "name": "name",
}
EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def local_day_sql(tz: str, start: Any = None, end: Any = None) -> str:
    """The site-local day number of ``ts``. With a UTC span, the query layer's own offset
    arithmetic (a CASE per DST change, see footfall/query/timebuckets.py), much cheaper
    than ICU's per-row conversion; without, ICU."""
    if start is None:
        return (
            f"(CAST(timezone('{tz}', ts AT TIME ZONE 'UTC') AS DATE) - DATE '1970-01-01')::INTEGER"
        )
    from zoneinfo import ZoneInfo

    from footfall.query.dialects import DUCKDB
    from footfall.query.timebuckets import local_time

    expr, params = local_time("ts", ZoneInfo(tz), start, end, DUCKDB)
    for p in params:
        expr = expr.replace("?", f"TIMESTAMP '{p}'", 1)  # naive UTC datetimes
    return f"(CAST({expr} AS DATE) - DATE '1970-01-01')::INTEGER"


def build(con: Any, site_id: str, tz: str, sealed_day: date, windows: list[int] | None = None,
          since: date | None = None, log: Any = print) -> dict[str, Any]:  # fmt: skip
    """(Re)build r.reach and r.daily for days before ``sealed_day`` (only ``windows`` and
    days from ``since`` when given: a benchmark needs just its ranges); returns timings."""
    from zoneinfo import ZoneInfo

    from footfall.query.period import local_midnight_utc

    t_all = time.perf_counter()
    lo = day_number(since) if since else None  # daily rows from this day
    first_needed = min(x for x in (lo, 32 * min(windows) if windows else None) if x is not None) \
        if (lo is not None or windows) else None  # fmt: skip
    span_start = EPOCH + timedelta(days=(first_needed or 1) - 1)
    dn = local_day_sql(tz, datetime.combine(span_start, datetime.min.time()),
                       datetime.combine(sealed_day + timedelta(days=1), datetime.min.time()))  # fmt: skip
    where = f"site_id = '{site_id}' AND {dn} < {day_number(sealed_day)}"
    params: list[Any] = []
    if first_needed is not None:  # lets the zonemaps on ts skip older row groups
        where += " AND ts >= ?"
        params.append(local_midnight_utc(EPOCH + timedelta(days=first_needed), ZoneInfo(tz)))
    lo_sql = f"AND {dn} >= {lo}" if lo is not None else ""
    wins = f"WHERE win IN ({', '.join(map(str, windows))})" if windows else ""
    con.execute("DROP TABLE IF EXISTS r.reach")
    con.execute("CREATE TABLE r.reach (site_id VARCHAR, kind VARCHAR, win INTEGER, value VARCHAR, "
                "visitor_id UBIGINT, days UBIGINT)")  # fmt: skip
    con.execute("DROP TABLE IF EXISTS r.daily")
    con.execute("CREATE TABLE r.daily (site_id VARCHAR, kind VARCHAR, day DATE, value VARCHAR, "
                "visitors BIGINT, pageviews BIGINT, events BIGINT)")  # fmt: skip
    for kind, v in KINDS.items():  # one kind at a time bounds the aggregates' memory
        con.execute(f"""
            INSERT INTO r.reach
            SELECT '{site_id}', '{kind}', win, value, visitor_id,
                   bit_or((1::UBIGINT) << (dn - 32 * win)::UBIGINT) AS days
            FROM (SELECT value, visitor_id, dn, unnest([dn // 32, dn // 32 - 1]) AS win
                  FROM (SELECT {v} AS value, visitor_id, {dn} AS dn FROM events WHERE {where}))
            {wins}
            GROUP BY ALL
            ORDER BY win, value
        """, params)  # fmt: skip
        con.execute(f"""
            INSERT INTO r.daily
            SELECT '{site_id}', '{kind}', DATE '1970-01-01' + {dn} AS day, {v} AS value,
                   count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview'),
                   count(*) FILTER (WHERE name <> 'engagement')
            FROM events WHERE {where} {lo_sql}
            GROUP BY ALL
        """, params)  # fmt: skip
    t_reach = time.perf_counter() - t_all
    con.execute("CHECKPOINT r")
    rows = con.execute("SELECT count(*) FROM r.reach").fetchone()[0]
    drows = con.execute("SELECT count(*) FROM r.daily").fetchone()[0]
    total = time.perf_counter() - t_all
    log(f"  proto rollups: reach {rows:,} rows, daily {drows:,} rows, {total:.0f} s"
        + (f" (windows {windows} only)" if windows else ""))  # fmt: skip
    return {"build_s": total, "reach_rows": rows, "daily_rows": drows, "insert_s": t_reach}


class Proto:
    """Answers the dashboard set from the rollups + unsealed raw events."""

    def __init__(self, store: Any, site: Any, first: date, last: date, sealed_day: date,
                 range_days: int) -> None:  # fmt: skip
        from footfall.query.period import local_midnight_utc, period

        self.store, self.site = store, site
        self.tz = site.timezone
        self.first, self.last, self.sealed = first, last, sealed_day
        self.prev_first = first - timedelta(days=range_days)
        self.prev_last = first - timedelta(days=1)
        from zoneinfo import ZoneInfo

        self.unsealed_start = local_midnight_utc(sealed_day, ZoneInfo(self.tz))
        self.cur = period(first, last, self.tz)
        self.prev = period(self.prev_first, self.prev_last, self.tz)

    # -- pieces ------------------------------------------------------------------------------

    def _mask(self, a: date, b: date) -> tuple[int, int] | None:
        """(window, mask) of the sealed days of [a, b], or None if none is sealed."""
        b = min(b, self.sealed - timedelta(days=1))
        if b < a:
            return None
        lo, hi = day_number(a), day_number(b)
        if hi - lo + 1 > 33:
            raise ValueError("range longer than 33 days: a wider window tier is needed")
        w = lo // 32
        return w, ((1 << (hi - lo + 1)) - 1) << (lo - 32 * w)

    def _raw_window(self, p: Any) -> tuple[Any, Any] | None:
        start = max(p.start_utc, self.unsealed_start)
        return (start, p.end_utc) if start < p.end_utc else None

    def reach(self, kind: str, p: Any, a: date, b: date, extra: str = "") -> dict[str, int]:
        """visitors by value over [a, b]: sealed reach rows FULL JOIN unsealed raw pairs."""
        m, raw = self._mask(a, b), self._raw_window(p)
        parts, params = [], []
        if m is not None:
            parts.append("SELECT value, visitor_id FROM r.reach WHERE site_id = ? AND kind = ? "
                         f"AND win = ? AND (days & ?::UBIGINT) <> 0 {extra}")  # fmt: skip
            params += [self.site.id, kind, m[0], m[1]]
        if raw is not None:
            parts.append(f"SELECT DISTINCT {KINDS[kind]} AS value, visitor_id FROM events "
                         f"WHERE site_id = ? AND ts >= ? AND ts < ? {extra.replace('value', KINDS[kind])}")  # fmt: skip
            params += [self.site.id, raw[0], raw[1]]
        if len(parts) == 1:
            sql = f"SELECT value, count(*) FROM ({parts[0]}) GROUP BY value"
        else:
            # |A u T| = |A| + |T \ A|, T (unsealed pairs) small: A is counted plainly, and
            # only A's rows of T's visitors are matched against T (a FULL JOIN of all of A
            # costs 3-8x more).
            a_sql, t_sql = parts
            pa, pt = params[:4], params[4:]
            a_of_t = a_sql + " AND visitor_id IN (SELECT visitor_id FROM t)"
            sql = (f"WITH t AS ({t_sql}) SELECT value, sum(n) FROM ("
                   f"SELECT value, count(*) AS n FROM ({a_sql}) GROUP BY value UNION ALL "
                   f"SELECT t.value, count(*) FROM t ANTI JOIN ({a_of_t}) x "
                   "ON x.value = t.value AND x.visitor_id = t.visitor_id GROUP BY t.value"
                   ") GROUP BY value")  # fmt: skip
            params = pt + pa + pa
        return {r[0]: int(r[1]) for r in self.store.query(sql, params)}

    def sums(
        self, kind: str, p: Any, a: date, b: date, extra: str = ""
    ) -> dict[str, tuple[int, int]]:
        """(pageviews, events) by value: daily rows + unsealed raw events."""
        raw = self._raw_window(p)
        sealed_last = min(b, self.sealed - timedelta(days=1))
        sql = ("SELECT value, sum(pageviews), sum(events) FROM (SELECT value, pageviews, events "
               f"FROM r.daily WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ? {extra}")  # fmt: skip
        params: list[Any] = [self.site.id, kind, a, sealed_last]
        if raw is not None:
            sql += (f" UNION ALL SELECT {KINDS[kind]}, count(*) FILTER (WHERE name = 'pageview'), "
                    "count(*) FILTER (WHERE name <> 'engagement') FROM events WHERE site_id = ? "
                    f"AND ts >= ? AND ts < ? {extra.replace('value', KINDS[kind])} GROUP BY 1")  # fmt: skip
            params += [self.site.id, raw[0], raw[1]]
        sql += ") GROUP BY value"
        return {r[0]: (int(r[1] or 0), int(r[2] or 0)) for r in self.store.query(sql, params)}

    def sessions(self, p: Any, dim: str | None = None) -> dict[Any, tuple[int, int, int]]:
        col = f"{dim} AS d, " if dim else "'' AS d, "
        rows = self.store.query(
            f"SELECT {col} count(*), count(*) FILTER (WHERE pageviews = 1 AND interactive_events = 1), "
            "sum(date_diff('millisecond', start_ts, end_ts)) FROM sessions "
            "WHERE site_id = ? AND start_ts >= ? AND start_ts < ? GROUP BY 1",
            [self.site.id, p.start_utc, p.end_utc],
        )
        return {r[0]: (int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows}

    # -- the set -----------------------------------------------------------------------------

    def top_stats(self) -> dict[str, Any]:
        from footfall.query.metrics import percent_change, ratio

        def one(p: Any, a: date, b: date) -> list[Any]:
            visitors = self.reach("total", p, a, b).get("", 0)
            pageviews = self.sums("total", p, a, b).get("", (0, 0))[0]
            visits, bounces, dur = self.sessions(p).get("", (0, 0, 0))
            return [visitors, visits, pageviews, ratio(pageviews, visits, 2),
                    ratio(100 * bounces, visits, 1), int(ratio(dur, 1000 * visits, 0))]  # fmt: skip

        now = one(self.cur, self.first, self.last)
        prev = one(self.prev, self.prev_first, self.prev_last)
        return {"results": [{"dimensions": [], "metrics": now, "comparison": {
            "metrics": prev, "change": [percent_change(c, p) for c, p in zip(now, prev, strict=True)]}}]}  # fmt: skip

    def timeseries(self) -> dict[str, Any]:
        out: dict[str, list[int]] = {}
        sealed_last = min(self.last, self.sealed - timedelta(days=1))
        for day, v, pv in self.store.query(
            "SELECT day, visitors, pageviews FROM r.daily WHERE site_id = ? AND kind = 'total' "
            "AND day BETWEEN ? AND ?", [self.site.id, self.first, sealed_last]
        ):  # fmt: skip
            out[day.isoformat()] = [int(v), int(pv)]
        d = self.sealed
        while d <= self.last:  # unsealed days: their visitors from reach bits + raw
            from footfall.query.period import period

            p = period(d, d, self.tz)
            v = self.reach("total", p, d, d).get("", 0)
            pv = self.sums("total", p, d, d).get("", (0, 0))[0]
            if v or pv:
                out[d.isoformat()] = [v, pv]
            d += timedelta(days=1)
        return {"results": [{"dimensions": [k], "metrics": out[k]} for k in sorted(out)]}

    def breakdown(self, kind: str, empty: str, metrics: tuple[str, ...], limit: int = 10,
                  extra: str = "", session_dim: str | None = None) -> dict[str, Any]:  # fmt: skip
        visitors = self.reach(kind, self.cur, self.first, self.last, extra)
        sums = self.sums(kind, self.cur, self.first, self.last, extra) if (
            "pageviews" in metrics or "events" in metrics) else {}  # fmt: skip
        visits = self.sessions(self.cur, session_dim) if "visits" in metrics else {}
        rows: dict[str, list[int]] = {}
        keys = set(visitors) | set(sums) | {k for k in visits}
        for k in keys:
            label = empty if k is None or k == "" else str(k)
            vals = rows.setdefault(label, [0] * len(metrics))
            for i, m in enumerate(metrics):
                if m == "visitors":
                    vals[i] += visitors.get(k, 0)
                elif m == "pageviews":
                    vals[i] += sums.get(k, (0, 0))[0]
                elif m == "events":
                    vals[i] += sums.get(k, (0, 0))[1]
                elif m == "visits":
                    vals[i] += visits.get(k, (0, 0, 0))[0]
        ordered = sorted(sorted(rows.items()), key=lambda kv: kv[1][0], reverse=True)
        return {"results": [{"dimensions": [k], "metrics": v} for k, v in ordered[:limit]],
                "total_rows": len(ordered)}  # fmt: skip

    def run(self, name: str) -> dict[str, Any]:
        if name == "top_stats":
            return self.top_stats()
        if name == "timeseries":
            return self.timeseries()
        if name == "pages":
            return self.breakdown("page", "(none)", ("visitors", "pageviews"))
        if name == "entry_pages":
            return self.breakdown(
                "entry_page", "(none)", ("visitors", "visits"), session_dim="entry_page"
            )
        if name == "sources":
            return self.breakdown("source", "Direct / None", ("visitors",))
        if name == "countries":
            return self.breakdown("country", "(none)", ("visitors",))
        if name == "devices":
            return self.breakdown("device", "(none)", ("visitors",))
        if name == "browsers":
            return self.breakdown("browser", "(none)", ("visitors",))
        if name == "custom_events":
            return self.breakdown("name", "(none)", ("visitors", "events"),
                                  extra="AND value NOT IN ('pageview', 'engagement')")  # fmt: skip
        raise KeyError(name)
