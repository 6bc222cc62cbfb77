"""Answers from a store's exact daily rollups (``Capabilities.daily_rollups``; the
ClickHouse store keeps them, footfall/store/clickhouse/rollups.py explains the tables).

``visitor_days`` holds, per site, kept dimension (``kind``: ``rollup.DAILY_DIMENSIONS``),
UTC day, value and visitor, the pageview and event counts; ``visit_days`` the same per
site, UTC day, visitor and values of the visit dimensions ``rollup.DAILY_COLUMNS`` side by
side. A statement asking only visitors, pageviews and events of events, grouped by
nothing or by one rolled-up dimension and filtered on nothing but that dimension (or,
in ``visit_days``, on any of its dimensions), counts the rows of the whole UTC
days inside its range together with the raw events of the rest (the hours before the
first whole UTC day and after the last, and the days listed in ``rollup_dirty``, whose
rows a re-stamp or a retention cut made stale): the same visitors, so the same exact
answer, whatever the site's time zone. Anything else (time series, several dimensions,
other metrics or filters) goes to the raw path; the contract tests compare both.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from footfall.query import builder
from footfall.query.builder import Scope, Statement
from footfall.query.model import Filter, Logical
from footfall.query.rollup import (
    ALIASES,
    DAILY_COLUMNS,
    DAILY_DIMENSIONS,
    DAILY_VERSION,
    _conditions,
    kinds,
)
from footfall.store.base import EventStore

# Per rollup row or raw event: its visitor and its pageview and event counts.
RAW = {"visitors": "visitor_id", "pageviews": "toUInt64(name = 'pageview') AS pageviews",
       "events": "toUInt64(name <> 'engagement') AS events"}  # fmt: skip
MERGE = {"visitors": "uniqExact(visitor_id)", "pageviews": "sum(pageviews)",
         "events": "sum(events)"}  # fmt: skip


def _days(scope: Scope) -> tuple[datetime, datetime] | None:
    """The whole UTC days inside the range, [lo, hi), or None when there is none."""
    lo = scope.start.replace(hour=0, minute=0, second=0, microsecond=0)
    if lo < scope.start:
        lo += timedelta(days=1)
    hi = scope.end.replace(hour=0, minute=0, second=0, microsecond=0)
    return (lo, hi) if lo < hi else None


def statement(
    store: EventStore,
    scope: Scope,
    aliases: list[str],
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
) -> Statement | None:
    """The statement on the daily rollups equal to ``builder.aggregate`` on events, or
    None when they cannot answer it exactly (or the store keeps none, or not yet)."""
    if not store.capabilities.daily_rollups or not aliases or not set(aliases) <= ALIASES:
        return None
    if len(dims) > 1:
        return None
    kind = dims[0] if dims else ""
    named = {c.dim for f in filters for c in _conditions(f)}
    source = _source(kind, named)
    days = _days(scope)
    if source is None or days is None:
        return None
    if store.rollup_state(scope.site_id) != ("UTC", DAILY_VERSION):
        return None
    table, value, key, override = source
    vf, ef = "", ""
    vfp: list[object] = []
    efp: list[object] = []
    if filters:
        tree = filters[0] if len(filters) == 1 else Logical("and", filters)
        vsql, vfp = builder._tree(scope, tree, "events", override)
        esql, efp = builder._tree(scope, tree, "events")
        vf, ef = f" AND {vsql}", f" AND {esql}"
    dirty = "(SELECT day FROM rollup_dirty WHERE site_id = ?)"
    cols = ", ".join(RAW[a] for a in aliases)
    rcols = ", ".join("visitor_id" if a == "visitors" else a for a in aliases)
    raw = f"SELECT toString({kinds()[kind]}) AS value, {cols} FROM events WHERE site_id = ? AND "
    # The whole clean days from the rollups; the range's two ends and the dirty days from
    # raw events, each a condition the events' sort key (site, day, ...) narrows down.
    inner = (
        f"SELECT {value} AS value, {rcols} FROM {table} WHERE site_id = ?{key[0]} "
        f"AND day >= ? AND day < ? AND day NOT IN {dirty}{vf} "
        f"UNION ALL {raw}((ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?)){ef} "
        f"UNION ALL {raw}ts >= ? AND ts < ? AND toDate(ts) IN "
        f"(SELECT toDate(day) FROM rollup_dirty WHERE site_id = ?){ef}"
    )
    measures = ", ".join(f"{MERGE[a]} AS {a}" for a in aliases)
    d0, group = ("value AS d0, ", " GROUP BY d0") if kind else ("", "")
    s, site, (lo, hi) = scope, scope.site_id, days
    params = [site, *key[1], lo, hi, site, *vfp, site, s.start, lo, hi, s.end, *efp,
              site, lo, hi, site, *efp]  # fmt: skip
    # ``final = 0``: rows of one key not yet merged count the same (see the module).
    sql = f"SELECT {d0}{measures} FROM ({inner}){group} SETTINGS final = 0"
    return Statement(sql, params, tuple(aliases))


Source = tuple[str, str, tuple[str, list[object]], dict[str, str]]


def _source(kind: str, named: set[str]) -> Source | None:
    """Where the rollup rows of ``kind`` are, when every filtered dimension is there too:
    (table, the value's column, the kind's condition and its parameters, the filtered
    dimensions' columns)."""
    if kind in DAILY_DIMENSIONS and named <= {kind}:
        return "visitor_days", "value", (" AND kind = ?", [kind]), {kind: "value"}
    columns = {d: f"c{i}" for i, d in enumerate(DAILY_COLUMNS)}
    if (not kind or kind in columns) and named <= columns.keys():
        return "visit_days", columns.get(kind, "''"), ("", []), columns
    return None
