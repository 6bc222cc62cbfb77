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

Where the store keeps each visitor's first days (``Capabilities.first_days``,
footfall/store/clickhouse/firsts.py explains them), the site total and each kept
dimension, unfiltered or filtered on that dimension alone, are answered from them first
(:func:`firsts_statement`): the whole days' visitors are a sum of counts instead of a
distinct count of a row per visitor and day.
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


def _usable(
    store: EventStore,
    scope: Scope,
    aliases: list[str],
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
) -> tuple[Source, tuple[datetime, datetime], bool] | None:
    """The rollup rows' source, the whole UTC days and whether the first days may answer,
    or None when the daily rollups cannot answer exactly (or the store keeps none yet)."""
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
    firsts = store.capabilities.first_days and named <= {kind} and bool(kind or not named)
    return source, days, firsts


def firsts_days(
    store: EventStore,
    scope: Scope,
    aliases: list[str],
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
) -> tuple[datetime, datetime] | None:
    """The whole UTC days :func:`statement` would answer from the first days (after
    reading :func:`firsts_state`), or None when it would not try them."""
    usable = _usable(store, scope, aliases, dims, filters)
    return usable[1] if usable is not None and usable[2] else None


def statement(
    store: EventStore,
    scope: Scope,
    aliases: list[str],
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
    got: Firsts | bool | None = False,
) -> Statement | None:
    """The statement on the daily rollups equal to ``builder.aggregate`` on events, or
    None when they cannot answer it exactly (or the store keeps none, or not yet).
    ``got``: :func:`firsts_state` as read already (visits.py reads it with the visits')."""
    usable = _usable(store, scope, aliases, dims, filters)
    if usable is None:
        return None
    source, days, try_firsts = usable
    kind = dims[0] if dims else ""
    if try_firsts:
        got = firsts_state(store, scope, days) if got is False else got
        if isinstance(got, tuple):
            return firsts_statement(scope, aliases, kind, filters, days, got)
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


MAX_TOUCHED = 5_000  # more visitors touched since the gate: read ``visitor_days``
# The newest gate, whether a day the statement reads is listed dirty, and the visitors
# with an event in the range stamped at or after the gate, in one statement (one moment).
_STATE = (
    "WITH (SELECT max(gate) FROM visit_gates) AS g SELECT toDateTime64(g, 3, 'UTC') AS gate, "
    "(SELECT count() FROM rollup_dirty WHERE site_id = ? AND day >= ? AND day <= ?) AS dirty, "
    f"groupUniqArray({MAX_TOUCHED + 1})(visitor_id) AS ids FROM events "
    "WHERE site_id = ? AND ts >= ? AND ts < ? AND inserted >= g SETTINGS final = 0"
)


Firsts = tuple[datetime, list[int]]  # (gate, visitors touched since it in the range)


def firsts_state(store: EventStore, scope: Scope, days: tuple[datetime, datetime]) -> Firsts | None:
    """The newest gate and the range's visitors touched since, or None when a day the
    statement reads (the whole ``days`` and the day before them) is listed dirty, too
    many visitors were touched, or no generation is published."""
    lo, hi = days
    site = scope.site_id
    got = store.query(_STATE, [site, lo - timedelta(days=1), hi, site, scope.start, scope.end])
    gate, dirty, ids = got[0] if got else (None, 1, None)
    return firsts_of(gate, bool(dirty), ids)


def firsts_of(gate: object, dirty: bool, ids: list[int] | None) -> Firsts | None:
    """:func:`firsts_state` from its figures, however they were read."""
    if not isinstance(gate, datetime) or dirty or len(ids or ()) > MAX_TOUCHED:
        return None
    return gate, sorted(ids or ())


def firsts_statement(
    scope: Scope,
    aliases: list[str],
    kind: str,
    filters: tuple[Filter, ...],
    days: tuple[datetime, datetime],
    got: Firsts,
) -> Statement:
    """``builder.aggregate`` on events for visitors, pageviews and events by nothing or by
    ``kind``, from ``first_counts``/``first_days`` as of ``got`` (:func:`firsts_state`)."""
    lo, hi = days
    a, b, before = lo.date(), hi.date(), lo.date() - timedelta(days=1)
    s, site = scope, scope.site_id
    gate, ids = got
    vf, ef = "", ""
    vfp: list[object] = []
    efp: list[object] = []
    if filters:
        tree = filters[0] if len(filters) == 1 else Logical("and", filters)
        vsql, vfp = builder._tree(scope, tree, "events", {kind: "value"})
        esql, efp = builder._tree(scope, tree, "events")
        vf, ef = f" AND {vsql}", f" AND {esql}"
    key = "site_id = ? AND gate = ? AND kind = ?"
    kp: list[object] = [site, gate, kind]
    value = f"toString({kinds()[kind]})"
    # Visitors touched since the gate: integers from the store, formatted by int().
    touched = ", ".join(str(int(i)) for i in ids)
    raw = (f"SELECT {value} AS value, visitor_id, toInt64(name = 'pageview') AS pv, "
           "toInt64(name <> 'engagement') AS ev FROM events WHERE site_id = ? AND ")  # fmt: skip
    # The whole days' visitors, pageviews and events as of the gate.
    parts = [
        f"SELECT value, toInt64(sumIf(visitors, prev < ?)) AS n, toInt64(sum(pageviews)) AS pv, "
        f"toInt64(sum(events)) AS ev FROM first_counts WHERE {key} AND day >= ? AND day < ?{vf} "
        "GROUP BY value"
    ]
    params: list[object] = [a, *kp, a, b, *vfp]
    not_touched = ""
    if touched:  # their rows out of the counts, their events in from raw events
        not_touched = f" AND visitor_id NOT IN ({touched})"
        parts.append(
            "SELECT value, -toInt64(countIf(prev < ?)), -toInt64(sum(pageviews)), "
            f"-toInt64(sum(events)) FROM first_days WHERE {key} AND day >= ? AND day < ? "
            f"AND visitor_id IN ({touched}){vf} GROUP BY value"
        )
        parts.append(
            "SELECT value, toInt64(uniqExact(visitor_id)), sum(pv), sum(ev) FROM "
            f"({raw}ts >= ? AND ts < ? AND visitor_id IN ({touched}){ef}) GROUP BY value"
        )
        params += [a, *kp, a, b, *vfp, site, s.start, s.end, *efp]
    # The range's ends (hours of the UTC days before and after the whole ones): their
    # events, and their visitors unless the whole days count them already (firsts.py).
    counted = (
        f"SELECT value, visitor_id FROM first_days WHERE {key} AND "
        "((day = ? AND next < ?) OR (day = ? AND prev >= ?))"
    )
    parts.append(
        "SELECT value, toInt64(uniqExactIf(visitor_id, (value, visitor_id) NOT IN "
        f"({counted}))), sum(pv), sum(ev) FROM ({raw}((ts >= ? AND ts < ?) OR "
        f"(ts >= ? AND ts < ?)){not_touched}{ef}) GROUP BY value"
    )
    params += [*kp, before, b, b, a, site, s.start, lo, hi, s.end, *efp]
    column = {"visitors": "n", "pageviews": "pv", "events": "ev"}
    measures = ", ".join(f"sum({column[m]}) AS {m}" for m in aliases)
    d0, group = ("value AS d0, ", " GROUP BY d0 HAVING sum(n) > 0") if kind else ("", "")
    sql = f"SELECT {d0}{measures} FROM ({' UNION ALL '.join(parts)}){group}"
    return Statement(sql, params, tuple(aliases))
