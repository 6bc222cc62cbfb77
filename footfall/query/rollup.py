# ruff: noqa: E501  (SQL reads better unwrapped)
"""Answers from the exact rollups, for the queries that can use them.

The store keeps ``reach`` and ``daily`` (footfall/store/duckdb/rollups.py explains them)
for the dimensions below. A query is answered here instead of from raw events when every
part of it allows that: its range is whole site-local days, at most 33 of them; it asks
only visitors, pageviews and events of events; it groups by nothing, by one rolled-up
dimension, or by day; and its filters (if any) only test the grouped dimension itself
(``is_not event:name pageview`` on the custom-events panel, say). Anything else goes to
the raw path, so this is purely an accelerator: the contract tests compare both.

The visit sums behind visits, bounce rate and visit duration (``visits``, ``bounces``,
``duration_ms`` of the sessions statement) come from ``visit_daily`` the same way, for
the site total, the visit dimensions and by day.

Visitors the writer touched since the last seal (``rollup_pending``) are corrected from
raw events in the same read transaction (footfall/query/rollup_pending.py), and the additive sums of the
days they touched are read from raw events, so every answer equals the raw path's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from footfall.query import builder
from footfall.query.builder import Scope
from footfall.query.dialects import DUCKDB, Dialect
from footfall.query.dimensions import dimension
from footfall.query.metrics import session_aggregates
from footfall.query.model import Condition, Filter, Logical
from footfall.query.period import local_midnight_utc
from footfall.query.rollup_pending import too_pending, visitors_sql, window_of
from footfall.query.timebuckets import local_day_number
from footfall.store.base import EventStore, RollupSpec

# Dimensions with rollups: the dashboard's panels. Each costs rows in ``reach`` and
# work in every seal, so add one only for a panel that needs it.
ROLLUP_DIMENSIONS = ("event:page", "event:name", "visit:entry_page", "visit:source", "visit:channel",
                     "visit:country", "visit:device", "visit:browser", "visit:os")  # fmt: skip
# The daily rollups (footfall/query/daily.py): the many-valued panels a row per value,
# visitor and day each (``visitor_days``; each kind costs every insert a row per event
# and visitor-day, bench/drain.py), and the visit dimensions side by side in one row per
# visitor, day and combination of their values (``visit_days``), which also answers the
# site total and filters on those dimensions.
DAILY_DIMENSIONS = ("event:page", "visit:entry_page")
DAILY_COLUMNS = ("visit:source", "visit:channel", "visit:country", "visit:device",
                 "visit:browser", "visit:os")  # fmt: skip
DAILY_VERSION = 5  # bump when what the daily rollups keep changes (5: visitor_hours)
ALIASES = frozenset({"visitors", "pageviews", "events"})
VISIT_ALIASES = ("visits", "bounces", "duration_ms")  # additive per visit
VERSION = 7  # the layout the store builds; bump when what a build writes changes (7: windows opened lazily)
MAX_DAYS = 33
EPOCH = date(1970, 1, 1)


def kinds() -> dict[str, str]:
    """Each rolled-up dimension's SQL on events ('' is the site total)."""
    out = {"": "''"}
    for name in ROLLUP_DIMENSIONS:
        expr = dimension(name).events
        assert expr is not None and "{" not in expr, name
        out[name] = f"coalesce({expr}, '')"  # as builder.dim_sql: NULL and '' are one value
    return out


def visit_kinds() -> dict[str, str]:
    """Each rolled-up visit dimension's SQL on sessions ('' is the site total)."""
    out = {"": "''"}
    for name in ROLLUP_DIMENSIONS:
        expr = dimension(name).sessions
        if not dimension(name).event_level and expr is not None:
            out[name] = f"coalesce({expr}, '')"
    return out


def spec(dialect: Dialect = DUCKDB) -> RollupSpec:
    """What a store with rollups keeps, in ``dialect`` (its capabilities name it)."""
    sums = session_aggregates(dialect)

    def day_number(
        column: str, zone: ZoneInfo, lo: datetime, hi: datetime
    ) -> tuple[str, list[Any]]:
        expr, params = local_day_number(column, zone, lo, hi, dialect)
        return expr, list(params)

    daily = {k: v for k, v in kinds().items() if k in DAILY_DIMENSIONS}
    columns = {k: kinds()[k] for k in DAILY_COLUMNS}
    return RollupSpec(kinds(), visit_kinds(), {a: sums[a] for a in VISIT_ALIASES}, VERSION,
                      day_number, daily, DAILY_VERSION, columns)  # fmt: skip


def _day(d: date) -> int:
    return (d - EPOCH).days


def _conditions(f: Filter) -> list[Condition]:
    if isinstance(f, Condition):
        return [f]
    if f.op in ("has_done", "has_not_done"):  # about other events: never a rollup's value
        return [Condition("is", f.op, ())]
    return [c for child in f.children for c in _conditions(child)]


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str  # '' for no grouping or by day
    by_day: bool
    table: str  # "events" (reach, daily) or "sessions" (visit_daily)
    first: date
    last: date
    filters: tuple[Filter, ...]


def plan(store: EventStore, scope: Scope, aliases: list[str], dims: tuple[str, ...],
         filters: tuple[Filter, ...], table: str = "events") -> Plan | None:  # fmt: skip
    """A Plan when the rollups can answer this statement on ``table`` exactly, else None."""
    allowed = ALIASES if table == "events" else frozenset(VISIT_ALIASES)
    if not store.capabilities.rollups or not set(aliases) <= allowed:
        return None
    by_day = False
    grouped = ROLLUP_DIMENSIONS if table == "events" else tuple(visit_kinds())
    if not dims:
        kind = ""
    elif dims[0] in grouped and len(dims) == 1:
        kind = dims[0]
    elif len(dims) == 1 and dims[0] in ("time", "time:day") and scope.unit == "day":
        kind, by_day = "", True
    else:
        return None
    if any(c.dim != kind for f in filters for c in _conditions(f)):
        return None
    first = _local_date(scope.start, scope)
    end = _local_date(scope.end, scope)
    if first is None or end is None or not 1 <= (end - first).days <= MAX_DAYS:
        return None
    if store.rollup_state(scope.site_id) != (scope.zone.key, VERSION):
        return None
    return Plan(kind, by_day, table, first, end - timedelta(days=1), filters)


def _local_date(at: datetime, scope: Scope) -> date | None:
    """The local date of ``at`` if it is a local midnight, else None."""
    local = at.replace(tzinfo=None)
    d = at.replace(tzinfo=UTC).astimezone(scope.zone).date()
    return d if local_midnight_utc(d, scope.zone) == local else None


def _in_zone(at: datetime, scope: Scope) -> date:
    return at.replace(tzinfo=UTC).astimezone(scope.zone).date()


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive runs of sorted days."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and out[-1][1] + timedelta(days=1) == d:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


Rows = list[tuple[Any, ...]]


def fetch(store: EventStore, scope: Scope, p: Plan, aliases: list[str]) -> Rows:
    """Rows shaped like the raw statement's: (dimension value?, *aliases)."""
    with store.snapshot() as q:
        if too_pending(q, scope):  # most of the site pending: the raw statement is cheaper
            return _raw(q, scope, p, aliases)
        # Local midnight is on a quarter hour in UTC in every zone, so each quarter-hour
        # bucket lies within one local day: converting the few buckets here is exact.
        quarter = scope.dialect.quarter_hour
        spans = q(f"SELECT DISTINCT {quarter('lo')}, {quarter('hi')} FROM rollup_pending WHERE site_id = ?",
                  [scope.site_id])  # fmt: skip
        touched = {
            (max(_in_zone(lo, scope), p.first), min(_in_zone(hi, scope), p.last))
            for lo, hi in spans
        }
        dirty = sorted({a + timedelta(days=i) for a, b in touched for i in range((b - a).days + 1)})
        runs = [
            Scope(scope.site_id, local_midnight_utc(a, scope.zone), local_midnight_utc(b + timedelta(days=1), scope.zone),
                  scope.zone, scope.dialect, scope.unit)
            for a, b in _runs(dirty)
        ]  # fmt: skip
        if p.table == "sessions":
            return _visit_sums(q, scope, p, aliases, dirty, runs)
        if p.by_day:
            return _by_day(q, scope, p, aliases, dirty, runs)
        # the touched span (quarter hours: the same local days, which is all it is used for)
        pending = (min(lo for lo, _ in spans), max(hi for _, hi in spans)) if spans else None
        return _grouped(q, scope, p, aliases, dirty, runs, pending)


def _raw(q: Any, scope: Scope, p: Plan, aliases: list[str]) -> Rows:
    """The raw statement the plan stands for, its rows shaped as fetch's."""
    dims = ("time:day",) if p.by_day else (p.kind,) if p.kind else ()
    st = builder.aggregate(scope, p.table, list(aliases), dims, p.filters)
    return list(q(st.sql, st.params))


def _value_filter(scope: Scope, p: Plan) -> tuple[str, list[Any], str, list[Any]]:
    """The plan's filters on the rollups' ``value`` and on the raw expression."""
    if not p.filters:
        return "", [], "", []
    tree = p.filters[0] if len(p.filters) == 1 else Logical("and", p.filters)
    vsql, vparams = builder._tree(scope, tree, "events", {p.kind: "value"})
    esql, eparams = builder._tree(scope, tree, "events")
    return f" AND {vsql}", vparams, f" AND {esql}", eparams


def _raw_where(scope: Scope, runs: list[Scope]) -> tuple[str, list[Any]]:
    parts = " OR ".join("(ts >= ? AND ts < ?)" for _ in runs)
    return f"site_id = ? AND ({parts})", [
        scope.site_id,
        *[t for r in runs for t in (r.start, r.end)],
    ]


def _grouped(q: Any, scope: Scope, p: Plan, aliases: list[str], dirty: list[date], runs: list[Scope],
             pending: tuple[datetime, datetime] | None) -> Rows:  # fmt: skip
    vf, vfp, ef, efp = _value_filter(scope, p)
    expr = kinds()[p.kind]
    rw, rwp = _raw_where(scope, runs) if runs else ("", [])
    # Column-wise: visitors per value, and the sums per value as one list (a pages panel
    # has thousands of values, and this Python holds the GIL parallel panels share).
    visitors: dict[Any, int] = {}
    if "visitors" in aliases:
        win = window_of(q, scope.site_id, p.first)
        sql, params = visitors_sql(
            scope, p.kind, p.first, p.last, win, expr, (vf, vfp, ef, efp), pending
        )
        visitors = {value: int(n) for value, n in q(sql, params)}
    sums = [a for a in aliases if a != "visitors"]
    totals: dict[Any, list[int]] = {}
    if sums:
        cols = ", ".join(f"sum({a})" for a in sums)
        sql = (f"SELECT value, {cols} FROM daily WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ?"
               f"{' AND day NOT IN (' + ', '.join('?' * len(dirty)) + ')' if dirty else ''}{vf} GROUP BY value")  # fmt: skip
        rows = q(sql, [scope.site_id, p.kind, p.first, p.last, *dirty, *vfp])
        if runs:
            aggs = ", ".join(_RAW_SUMS[a] for a in sums)
            rows += q(
                f"SELECT {expr} AS value, {aggs} FROM events WHERE {rw}{ef} GROUP BY 1",
                [*rwp, *efp],
            )
        for value, *vals in rows:
            acc = totals.get(value)
            if acc is None:
                totals[value] = [int(v or 0) for v in vals]
            else:
                for i, v in enumerate(vals):
                    acc[i] += int(v or 0)
    zero = [0] * len(sums)

    def row(value: Any) -> tuple[Any, ...]:
        acc = iter(totals.get(value, zero))  # the sums, in the aliases' order
        return tuple(visitors.get(value, 0) if a == "visitors" else next(acc) for a in aliases)

    if not p.kind:
        return [row("")]
    return [(value, *row(value)) for value in {**visitors, **totals}]


_RAW_SUMS = {"pageviews": "count(*) FILTER (WHERE name = 'pageview')",
             "events": "count(*) FILTER (WHERE name <> 'engagement')"}  # fmt: skip


def _by_day(
    q: Any, scope: Scope, p: Plan, aliases: list[str], dirty: list[date], runs: list[Scope]
) -> Rows:
    sql = (f"SELECT day, {', '.join(aliases)} FROM daily WHERE site_id = ? AND kind = '' AND day BETWEEN ? AND ?"
           f"{' AND day NOT IN (' + ', '.join('?' * len(dirty)) + ')' if dirty else ''}")  # fmt: skip
    rows: Rows = list(q(sql, [scope.site_id, p.first, p.last, *dirty]))
    for run in runs:  # touched days: the raw statement over just those days
        st = builder.aggregate(run, "events", list(aliases), ("time:day",), ())
        rows += q(st.sql, st.params)
    return rows


def _visit_sums(
    q: Any, scope: Scope, p: Plan, aliases: list[str], dirty: list[date], runs: list[Scope]
) -> Rows:
    """Visit sums per value (or day): visit_daily's clean days plus the raw sessions
    statement over the touched days (visits count on their start day in both)."""
    vf, vfp, _, _ = _value_filter(scope, p)
    key = "day" if p.by_day else "value"
    cols = ", ".join(f"sum({a})::BIGINT" for a in aliases)
    sql = (f"SELECT {key}, {cols} FROM visit_daily WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ?"
           f"{' AND day NOT IN (' + ', '.join('?' * len(dirty)) + ')' if dirty else ''}{vf} GROUP BY {key}")  # fmt: skip
    rows: Rows = list(q(sql, [scope.site_id, p.kind, p.first, p.last, *dirty, *vfp]))
    dims = ("time:day",) if p.by_day else (p.kind,) if p.kind else ()
    for run in runs:
        st = builder.aggregate(run, "sessions", list(aliases), dims, p.filters)
        rows += [r if dims else ("", *r) for r in q(st.sql, st.params)]
    if p.by_day:
        return rows
    out: dict[Any, list[int]] = {}
    for value, *vals in rows:
        acc = out.setdefault(value, [0] * len(aliases))
        for i, v in enumerate(vals):
            acc[i] += int(v or 0)
    if not p.kind:
        return [tuple(out.get("", [0] * len(aliases)))]
    return [(value, *vals) for value, vals in out.items()]
