"""The all-sites overview: for each site, its visitors over a range, their day-by-day
series (the sparkline) and the change against the previous period of the same length.

One statement answers every site (the page once ran a ``QueryRunner.answer`` per site, a
round trip and four statements each): the sites are grouped by time zone, since those
sharing one share the period and its local days, and each group contributes its visitors
by (site, local day) and per site over the period and over the one before, all joined
by ``UNION ALL``. Periods, days and the visitors aggregate are the query layer's own
(``QueryRunner.plan``, ``timebuckets``, ``metrics.event_aggregates``), so each figure is
the one the site's own dashboard shows for that range (``visitors`` by ``time:day``
compared with the previous period), on either store.

The exception: a site whose exact rollups (DuckDB, ``query/rollup.py``) answer the range
is still answered through ``QueryRunner.answer``, from its rollups, in process: a few
milliseconds whatever its traffic, where its raw events would cost in proportion to it
(one site of 3M events: 15 ms of CPU from rollups, 98 ms raw; bench/sites_overview.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from footfall.ingest.validate import FieldError
from footfall.meta.repo import SiteInfo
from footfall.query import rollup
from footfall.query.metrics import event_aggregates, percent_change
from footfall.query.model import Query
from footfall.query.result import QueryPlan
from footfall.query.runner import QueryRunner
from footfall.query.timebuckets import labels, local_day_number

# The ranges the sites page offers: a day-by-day sparkline needs at least a few days.
RANGES = {"7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days"}
DEFAULT_RANGE = "30d"
EPOCH = date(1970, 1, 1)  # day numbers count from it (Dialect.day_number)


@dataclass(frozen=True, slots=True)
class SiteTrend:
    """One site's line on the sites page."""

    site_id: str
    visitors: int
    previous: int
    change: float | None  # percent against the previous period; None when it had none
    days: tuple[str, ...]  # every day of the range, oldest first
    series: tuple[int, ...]  # visitors of each day (0 for a day without any)


def check_range(value: str | None) -> str:
    """The range asked (``7d``, ``30d`` or ``90d``), or FieldError naming ``period``."""
    if value is None or value == "":
        return DEFAULT_RANGE
    if value not in RANGES:
        raise FieldError("period", f"one of {', '.join(RANGES)}")
    return value


# Marks the per-site total rows among the per-day rows (day numbers are never negative).
_CURRENT, _PREVIOUS = -1, -2
DAY = ("time:day",)


def _query(site: SiteInfo, date_range: str) -> Query:
    return Query(site.id, ("visitors",), ("time:day",), (), date_range, "previous_period", (),
                 1000, 0, include={"totals": True, "time_labels": True})  # fmt: skip


def _group_sql(runner: QueryRunner, plan: QueryPlan, ids: list[str]) -> tuple[str, list[object]]:
    """One time zone's sites: visitors by site and local day over the period, and by site
    over the period (day -1) and the previous one (day -2)."""
    p, cp, d = plan.period, plan.compare_period, runner.dialect
    assert cp is not None  # the query always compares
    visitors = event_aggregates(d)["visitors"]
    day, day_params = local_day_number("ts", plan.scope.zone, p.start_utc, p.end_utc, d)
    where = f"site_id IN ({', '.join('?' for _ in ids)}) AND ts >= ? AND ts < ?"
    parts, params = [], []
    for d_sql, d_params, span, grouped in (
        (day, day_params, p, "site_id, d"),
        (f"CAST({_CURRENT} AS INTEGER)", [], p, "site_id"),
        (f"CAST({_PREVIOUS} AS INTEGER)", [], cp, "site_id"),
    ):
        parts.append(f"SELECT site_id, {d_sql} AS d, {visitors} AS v FROM events "
                     f"WHERE {where} GROUP BY {grouped}")  # fmt: skip
        params += [*d_params, *ids, span.start_utc, span.end_utc]
    return " UNION ALL ".join(parts), params


def trends(
    runner: QueryRunner, sites: list[SiteInfo], date_range: str, now: datetime | None = None
) -> dict[str, SiteTrend]:
    """Every site's trend, by site id: one statement for all sites, except those whose
    exact rollups answer the range (below)."""
    now = now or datetime.now(UTC)
    zones: dict[str, list[SiteInfo]] = {}
    for site in sites:
        zones.setdefault(site.timezone, []).append(site)
    plans = {tz: runner.plan(_query(group[0], date_range), group[0], now)
             for tz, group in zones.items()}  # fmt: skip
    out: dict[str, SiteTrend] = {}
    raw: dict[str, list[SiteInfo]] = {}
    for tz, group in zones.items():
        for site in group:
            # A site the embedded store keeps rollups of is answered from them (a few
            # milliseconds in process, where reading its raw events grows with its
            # traffic: bench/sites_overview.py); every other site joins the one statement.
            scope = replace(plans[tz].scope, site_id=site.id)
            if runner.rollups and rollup.plan(runner.store, scope, ["visitors"], DAY, ()):
                out[site.id] = _answered(runner, site, date_range, now)
            else:
                raw.setdefault(tz, []).append(site)
    if not raw:
        return out
    sql_parts, params = [], []
    for tz, group in raw.items():
        sql, ps = _group_sql(runner, plans[tz], [s.id for s in group])
        sql_parts.append(sql)
        params += ps
    got: dict[tuple[str, int], int] = {}
    for site_id, day, n in runner.store.query(" UNION ALL ".join(sql_parts), params):
        got[(str(site_id), int(day))] = int(n or 0)
    for tz, group in raw.items():
        p = plans[tz].period
        days = tuple(labels("day", p.first, p.last))
        numbers = [(p.first - EPOCH).days + i for i in range(len(days))]
        for site in group:
            visitors, previous = got.get((site.id, _CURRENT), 0), got.get((site.id, _PREVIOUS), 0)
            series = tuple(got.get((site.id, n), 0) for n in numbers)
            change = percent_change(visitors, previous)
            out[site.id] = SiteTrend(site.id, visitors, previous, change, days, series)
    return out


def _answered(runner: QueryRunner, site: SiteInfo, date_range: str, now: datetime) -> SiteTrend:
    """One site's trend through ``QueryRunner.answer`` (its rollups' fast path)."""
    result = runner.answer(_query(site, date_range), site, now)
    by_day = {row.dimensions[0]: int(row.metrics[0] or 0) for row in result.rows}
    days = tuple(result.time_labels or ())
    totals = result.totals or {}
    return SiteTrend(
        site.id,
        int(totals["metrics"]["visitors"] or 0),
        int(totals["comparison"]["visitors"] or 0),
        totals["change"]["visitors"],
        days,
        tuple(by_day.get(day, 0) for day in days),
    )


def trend(
    runner: QueryRunner, site: SiteInfo, date_range: str, now: datetime | None = None
) -> SiteTrend:
    """Visitors of ``site`` over ``date_range``, by day, compared with the period before."""
    return trends(runner, [site], date_range, now)[site.id]


def sparkline(series: tuple[int, ...], width: int = 120, height: int = 28) -> str:
    """The SVG polyline points of ``series`` scaled into ``width`` x ``height`` (the top
    is the range's busiest day; a flat zero line sits on the bottom edge)."""
    if not series:
        return ""
    top = max(series) or 1
    step = width / max(len(series) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - v * (height - 2) / top - 1:.1f}" for i, v in enumerate(series)
    )
