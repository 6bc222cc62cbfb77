"""Compiles a Query into SQL per source table, with every value a bound parameter.

Filter semantics follow Plausible: on events, every condition applies to each event (visit
attributes are stamped on events, so a visit filter keeps whole visits); on visits, a
filter that mentions an event dimension keeps the visits having at least one event that
matches the whole filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from footfall.query.dialects import Dialect
from footfall.query.dimensions import TIME_UNITS, dimension
from footfall.query.goals import goal_chosen
from footfall.query.metrics import (
    BOUNCED,
    event_aggregate_columns,
    event_aggregates,
    session_aggregates,
)
from footfall.query.model import Condition, Filter, Logical
from footfall.query.timebuckets import bucket_sql

Params = list[object]


@dataclass(frozen=True, slots=True)
class Statement:
    """SQL with ``?`` placeholders, its parameters, and the names of its value columns
    (after the dimension columns d0, d1, ...)."""

    sql: str
    params: Params
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Scope:
    """What every statement of one query shares: site, period, zone, dialect, time unit."""

    site_id: str
    start: datetime
    end: datetime
    zone: ZoneInfo
    dialect: Dialect
    unit: str | None  # resolved unit of the time dimension, if any
    goals: tuple[tuple[str, Filter], ...] = ()  # the site's goals (name, what matches)


def dim_sql(s: Scope, name: str, table: str) -> tuple[str, Params] | None:
    """The dimension's expression on ``table``, or None if only the other table has it."""
    if name == "time" or name in TIME_UNITS:
        column = "ts" if table == "events" else "start_ts"
        return bucket_sql(s.unit or "day", column, s.zone, s.start, s.end, s.dialect)
    dim = dimension(name)
    expr = dim.events if table == "events" else dim.sessions
    if expr is None:
        return None
    if expr == "{strip:referrer}":
        return f"coalesce({s.dialect.strip_scheme('referrer')}, '')", []
    if expr == "{map:props}":
        return s.dialect.map_get("props"), [dim.prop_key]
    # An empty value is one group, and "(none)" in filters, whether stored as NULL or ''.
    return f"coalesce({expr}, '')", []


def _condition(
    s: Scope, c: Condition, table: str, override: dict[str, str] | None = None
) -> tuple[str, Params]:
    if c.dim == "event:goal":  # the events completing any goal the condition names
        chosen = tuple(f for name, f in s.goals if goal_chosen(name, c))
        return _tree(s, Logical("or", chosen), table) if chosen else ("(1 = 0)", [])
    found = (override[c.dim], []) if override and c.dim in override else dim_sql(s, c.dim, table)
    if found is None:  # reach the other table through session_id
        other = "sessions" if table == "events" else "events"
        inner, params = _condition(s, c, other)
        where, wparams = _range(s, other)
        return (
            f"session_id IN (SELECT session_id FROM {other} WHERE {where} AND {inner})",
            wparams + params,
        )
    expr, params = found
    dim = dimension(c.dim)
    values = ["" if dim.is_empty((v,)) else v for v in c.values]
    d = s.dialect
    if dim.names is not None:  # a filter on names is one on the stored values they name
        values = dim.stored_values(c.op, c.values, c.case_sensitive)
        if not values:
            return ("(1 = 1)" if c.op.endswith("_not") else "(1 = 0)"), []
        parts = [d.equals(expr, True) for _ in values]
    elif c.op in ("is", "is_not"):
        parts = [d.equals(expr, c.case_sensitive) for _ in values]
    elif c.op in ("contains", "contains_not"):
        parts = [d.contains(expr, c.case_sensitive) for _ in values]
    else:
        parts = [d.regex_match(expr) for _ in values]
    expr_params = params
    params = [p for v in values for p in (*params, v)]
    sql = "(" + " OR ".join(parts) + ")"
    sql = f"NOT {sql}" if c.op.endswith("_not") else sql
    if dim.prop_key is not None and not c.op.startswith("is"):
        # As in Plausible, a pattern or substring test (negated or not) is about the
        # events that carry the property: one lacking it matches neither way.
        return f"({expr} <> '' AND {sql})", [*expr_params, *params]
    return sql, params


def _tree(
    s: Scope, f: Filter, table: str, override: dict[str, str] | None = None
) -> tuple[str, Params]:
    if isinstance(f, Condition):
        return _condition(s, f, table, override)
    if f.op in ("has_done", "has_not_done"):
        # The visits with (without) an event in the period that matches the child: a
        # filter on visits, so it means the same on events and on sessions.
        inner, iparams = _tree(s, f.children[0], "events")
        where, wparams = _range(s, "events")
        sql = f"session_id IN (SELECT session_id FROM events WHERE {where} AND {inner})"
        return (sql if f.op == "has_done" else f"NOT ({sql})"), wparams + iparams
    parts = [_tree(s, child, table, override) for child in f.children]
    params = [p for _, ps in parts for p in ps]
    if f.op == "not":
        return f"NOT ({parts[0][0]})", params
    return "(" + f" {f.op.upper()} ".join(sql for sql, _ in parts) + ")", params


def filter_sql(s: Scope, f: Filter, table: str) -> tuple[str, Params]:
    """One filter (a condition or a tree) as a boolean expression on ``table``."""
    return _tree(s, f, table)


def _mentions_event_dimension(f: Filter) -> bool:
    if isinstance(f, Condition):
        return dimension(f.dim).event_level
    if f.op in ("has_done", "has_not_done"):
        return False  # a filter on visits, compiled on either table
    return any(_mentions_event_dimension(c) for c in f.children)


def _range(s: Scope, table: str) -> tuple[str, Params]:
    ts = "ts" if table == "events" else "start_ts"
    return f"site_id = ? AND {ts} >= ? AND {ts} < ?", [s.site_id, s.start, s.end]


def where(s: Scope, filters: tuple[Filter, ...], table: str) -> tuple[str, Params]:
    sql, params = _range(s, table)
    if not filters:
        return sql, params
    tree = filters[0] if len(filters) == 1 else Logical("and", filters)
    if table == "sessions" and _mentions_event_dimension(tree):
        inner, iparams = _tree(s, tree, "events")
        ew, eparams = _range(s, "events")
        return (
            f"{sql} AND session_id IN (SELECT session_id FROM events WHERE {ew} AND {inner})",
            params + eparams + iparams,
        )
    fsql, fparams = _tree(s, tree, table)
    return f"{sql} AND {fsql}", params + fparams


def _select_dims(
    s: Scope, dims: tuple[str, ...], table: str, overrides: dict[str, str] | None = None
) -> tuple[list[str], Params]:
    cols, params = [], []
    for i, name in enumerate(dims):
        if overrides and name in overrides:
            cols.append(f"{overrides[name]} AS d{i}")
            continue
        found = dim_sql(s, name, table)
        if found is None:
            raise ValueError(f"{name} has no expression on {table}")
        cols.append(f"{found[0]} AS d{i}")
        params += found[1]
    return cols, params


def aggregate(
    s: Scope,
    table: str,
    aliases: list[str],
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
    visits: tuple[str, Params] | None = None,
) -> Statement:
    """One grouped statement computing ``aliases`` from ``table``; ``visits`` is what to
    read the range's visits from instead of ``sessions`` (footfall/query/visits.py)."""
    aggs = (event_aggregates if table == "events" else session_aggregates)(s.dialect)
    w, wparams = where(s, filters, table)
    group = f" GROUP BY {', '.join(f'd{i}' for i in range(len(dims)))}" if dims else ""
    measures = [f"{aggs[a]} AS {a}" for a in aliases]
    visit = [] if table != "events" else [d for d in dims if _visit_column(d)]
    if visit:
        # Grouping events by a column only the visit row has (the exit page): join the
        # site's visits once, rather than a correlated subquery per row, which ClickHouse
        # does not allow in GROUP BY.
        overrides = {d: f"coalesce(_v.v_{_visit_column(d)}, '')" for d in visit}
        cols, params = _select_dims(s, dims, table, overrides)
        vcols = ", ".join(f"{_visit_column(d)} AS v_{_visit_column(d)}" for d in visit)
        source = (
            f"events LEFT JOIN (SELECT session_id AS v_sid, {vcols} FROM sessions "
            "WHERE site_id = ?) AS _v ON _v.v_sid = events.session_id"
        )
        params = [*params, s.site_id]
    else:
        cols, params = _select_dims(s, dims, table)
        source = table
        if table == "sessions" and visits is not None:
            source, params = visits[0], [*params, *visits[1]]
    return Statement(
        f"SELECT {', '.join([*cols, *measures])} FROM {source} WHERE {w}{group}",
        params + wparams,
        tuple(aliases),
    )


def _visit_column(name: str) -> str | None:
    if name == "time" or name in TIME_UNITS:
        return None
    return dimension(name).visit_column


def aggregate_pair(
    s: Scope,
    ev_aliases: list[str],
    ses_aliases: list[str],
    filters: tuple[Filter, ...],
    visits: tuple[str, Params] | None = None,
    entered: Filter | None = None,
    events: str = "events",
) -> Statement | None:
    """Ungrouped event and visit aggregates in one statement, when the visits' filter is
    the semi-join on matching events (a filter on an event dimension): the matching
    events are then read once for both, not once per table (a filtered top-stats row).
    ``entered``: also the visits and bounces of the visits having a matching event that
    also matches it (``entered.entered_filters``' added condition), from the same reads,
    as ``entered_visits`` and ``entered_bounces`` after the visit aggregates.
    ``events``: the table holding the events (a copy of them, footfall/query/by_source.py).
    None when the two statements would not share that scan."""
    if not filters:
        return None
    tree = filters[0] if len(filters) == 1 else Logical("and", filters)
    if not _mentions_event_dimension(tree):
        return None
    ew, eparams = where(s, filters, "events")
    sw, sparams = _range(s, "sessions")
    eaggs, saggs = event_aggregates(s.dialect), session_aggregates(s.dialect)
    ecols = ", ".join(f"{eaggs[a]} AS {a}" for a in ev_aliases)
    scols = ", ".join(f"{saggs[a]} AS {a}" for a in ses_aliases)
    vsql, vparams = visits if visits is not None else ("sessions", [])
    fcols, fparams = event_aggregate_columns(ev_aliases), Params()
    if entered is not None:
        # The entered visits are those of the semi-join whose matching events also match
        # ``entered``: flagged on the events and counted in the same read of the visits.
        xsql, fparams = _tree(s, entered, "events")
        fcols = [*fcols, f"{xsql} AS x"]
        inx = "session_id IN (SELECT session_id FROM f WHERE x)"
        scols += (
            f", count(*) FILTER (WHERE {inx}) AS entered_visits"
            f", count(*) FILTER (WHERE {inx} AND {BOUNCED}) AS entered_bounces"
        )
    sql = (
        f"WITH f AS {s.dialect.materialized}(SELECT {', '.join(fcols)} FROM {events} WHERE {ew}) "
        f"SELECT * FROM (SELECT {ecols} FROM f) AS e, (SELECT {scols} FROM {vsql} "
        f"WHERE {sw} AND session_id IN (SELECT session_id FROM f)) AS v"
    )
    params = fparams + eparams + vparams + sparams
    aliases: tuple[str, ...] = (*ev_aliases, *ses_aliases)
    if entered is not None:
        aliases = (*aliases, "entered_visits", "entered_bounces")
    return Statement(sql, params, aliases)


def entries_exits(
    s: Scope, which: str, dims: tuple[str, ...], filters: tuple[Filter, ...]
) -> Statement:
    column = "entry_page" if which == "entries" else "exit_page"
    cols, params = _select_dims(s, dims, "sessions", {"event:page": column})
    w, wparams = where(s, tuple(f for f in filters if not _is_page(f)), "sessions")
    page_filters = tuple(f for f in filters if _is_page(f))
    if page_filters:  # a page filter means "visits that entered (or left) on that page"
        psql, pparams = _tree(s, Logical("and", page_filters), "sessions", {"event:page": column})
        w, wparams = f"{w} AND {psql}", wparams + pparams
    group = f" GROUP BY {', '.join(f'd{i}' for i in range(len(dims)))}" if dims else ""
    sql = f"SELECT {', '.join([*cols, f'count(*) AS {which}'])} FROM sessions WHERE {w}{group}"
    return Statement(sql, params + wparams, (which,))


def _is_page(f: Filter) -> bool:
    return isinstance(f, Condition) and f.dim == "event:page"


def scroll_depth(s: Scope, dims: tuple[str, ...], filters: tuple[Filter, ...]) -> Statement:
    """Mean over (visit, page) of the deepest scroll reported on that page in that visit."""
    cols, params = _select_dims(s, dims, "events")
    w, wparams = where(s, filters, "events")
    keys = [f"d{i}" for i in range(len(dims))]
    inner = (
        f"SELECT {', '.join([*cols, 'session_id', 'pathname', 'max(scroll_depth) AS m'])} FROM events "
        f"WHERE {w} AND scroll_depth IS NOT NULL GROUP BY {', '.join([*keys, 'session_id', 'pathname'])}"
    )
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    outer = ", ".join([*keys, f"{s.dialect.round_half_away('avg(m)')} AS scroll_depth"])
    sql = f"SELECT {outer} FROM ({inner}) AS per_visit_page{group}"
    return Statement(sql, params + wparams, ("scroll_depth",))


def time_on_page(s: Scope, dims: tuple[str, ...], filters: tuple[Filter, ...]) -> Statement:
    """Mean over (visit, page) of the engaged time on that page, from engagement events,
    falling back to the gaps from its pageviews to the visit's next pageview."""
    d = s.dialect
    rw, rparams = _range(s, "events")
    cols, params = _select_dims(s, dims, "events")
    w, wparams = where(s, filters, "events")
    keys = [f"d{i}" for i in range(len(dims))]
    gap = d.millis_between("ts", "nxt")
    sql = (
        f"WITH pv AS (SELECT session_id, pathname, ts, {d.next_value('ts', 'session_id', 'ts')} AS nxt "
        f"FROM events WHERE {rw} AND name = 'pageview'), "
        f"gaps AS (SELECT session_id, pathname, sum({gap}) AS gap_ms FROM pv WHERE nxt IS NOT NULL GROUP BY session_id, pathname), "
        f"eng AS (SELECT session_id, pathname, sum(duration_ms) AS eng_ms FROM events WHERE {rw} AND name = 'engagement' "
        f"AND duration_ms IS NOT NULL GROUP BY session_id, pathname), "
        f"pairs AS (SELECT DISTINCT {', '.join([*cols, 'session_id', 'pathname'])} FROM events WHERE {w} AND name = 'pageview') "
        f"SELECT {', '.join([*keys, d.round_half_away('avg(coalesce(eng.eng_ms, gaps.gap_ms)) / 1000') + ' AS time_on_page'])} "
        "FROM pairs LEFT JOIN eng ON pairs.session_id = eng.session_id AND pairs.pathname = eng.pathname "
        "LEFT JOIN gaps ON pairs.session_id = gaps.session_id AND pairs.pathname = gaps.pathname "
        "WHERE coalesce(eng.eng_ms, gaps.gap_ms) IS NOT NULL"
        + (f" GROUP BY {', '.join(keys)}" if keys else "")
    )
    return Statement(sql, rparams + rparams + params + wparams, ("time_on_page",))


def bot_events(s: Scope, dims: tuple[str, ...]) -> Statement:
    cols, params = [], []
    for i, _name in enumerate(dims):
        expr, p = bucket_sql(s.unit or "day", "hour", s.zone, s.start, s.end, s.dialect)
        cols.append(f"{expr} AS d{i}")
        params += p
    group = f" GROUP BY {', '.join(f'd{i}' for i in range(len(dims)))}" if dims else ""
    sql = (
        f"SELECT {', '.join([*cols, 'sum(n) AS bots'])} FROM dropped_events "
        f"WHERE site_id = ? AND hour >= ? AND hour < ? AND reason = 'bot'{group}"
    )
    return Statement(sql, [*params, s.site_id, s.start, s.end], ("bots",))
