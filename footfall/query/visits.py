"""The visits of a range read from a store's copy of them ordered by start time
(``Capabilities.visit_copy``; footfall/store/clickhouse/visit_copy.py keeps it).

A store whose ``sessions`` are ordered by visit id reads every visit of the site for any
time range. Its copy ``visit_starts`` holds the visits as they were at the newest gate in
``visit_gates``, ordered by (site, gate, start); the visits touched since (a row in
``sessions`` inserted at or after the gate, read first, with the gate) are read from
``sessions`` instead, by its key. :func:`source` returns that union as the ``FROM`` of a
statement on visits (``builder.aggregate(..., visits=...)``): the rows ``sessions`` gives
(with ``FINAL``) as of that first read, restricted to the site and the range, so every
answer equals the raw path's; the contract tests compare them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from footfall.query import daily
from footfall.query.builder import Params, Scope, Statement
from footfall.query.metrics import session_aggregates
from footfall.query.model import Filter
from footfall.query.rollup import DAILY_VERSION, VISIT_ALIASES
from footfall.store.base import EventStore

MAX_TOUCHED = 5_000  # more touched visits than this: read ``sessions`` (the copy is due)
# The gate, the visits touched since (any row stamped at or after it; no FINAL: the
# stamp column alone is read) and whether a UTC day of the range is listed dirty, in one
# statement, so all are of one moment.
_TOUCHED = (
    "WITH (SELECT max(gate) FROM visit_gates) AS g SELECT toDateTime64(g, 3, 'UTC') AS gate, "
    f"groupUniqArray({MAX_TOUCHED + 1})(session_id) AS ids, "
    "(SELECT groupUniqArray(toDate(day)) FROM rollup_dirty WHERE site_id = ? AND "
    "day >= toStartOfDay(?) AND day < ?) AS dirty "
    "FROM sessions WHERE site_id = ? AND inserted >= g SETTINGS final = 0"
)
State = tuple[datetime, list[int], list[date]]  # (gate, touched visit ids, dirty UTC days)
# The same and daily.py's ``_STATE`` (the range's visitors touched since the gate) in one
# statement, for a query that reads both (top stats, entry pages): a statement's fixed
# cost on chdb is a few ms, like either read. The dirty UTC days from the day before the
# range's through its end: each reader takes its own days of them.
_BOTH = (
    "WITH (SELECT max(gate) FROM visit_gates) AS g SELECT toDateTime64(g, 3, 'UTC') AS gate, "
    f"(SELECT groupUniqArray({MAX_TOUCHED + 1})(session_id) FROM sessions WHERE site_id = ? "
    "AND inserted >= g) AS ids, (SELECT groupUniqArray(toDate(day)) FROM rollup_dirty "
    "WHERE site_id = ? AND day >= ? AND day <= ?) AS dirty, "
    f"groupUniqArray({daily.MAX_TOUCHED + 1})(visitor_id) AS visitors FROM events "
    "WHERE site_id = ? AND ts >= ? AND ts < ? AND inserted >= g SETTINGS final = 0"
)


def state(store: EventStore, scope: Scope) -> State | None:
    """The newest gate of the store's copy, the visits touched since and the range's dirty
    days, or None when the store keeps no copy (or not yet: it is built with the daily
    rollups) or too many visits were touched."""
    if not store.capabilities.visit_copy:
        return None
    if store.rollup_state(scope.site_id) != ("UTC", DAILY_VERSION):
        return None
    site = scope.site_id
    got = store.query(_TOUCHED, [site, scope.start, scope.end, site])
    gate, ids, dirty = got[0] if got else (None, None, None)
    return _state_of(gate, ids, sorted(dirty or ()))


def _state_of(gate: object, ids: list[int] | None, dirty: list[date]) -> State | None:
    """:func:`state` from its figures, however they were read: None when no copy is
    published or too many visits were touched."""
    if not isinstance(gate, datetime) or len(ids or ()) > MAX_TOUCHED:
        return None
    return gate, sorted(ids or ()), dirty


def states(
    store: EventStore, scope: Scope, days: tuple[datetime, datetime]
) -> tuple[State | None, daily.Firsts | None]:
    """:func:`state` and ``daily.firsts_state(store, scope, days)`` read in one
    statement, so of one moment."""
    if not store.capabilities.visit_copy:
        return None, daily.firsts_state(store, scope, days)
    lo, hi = days
    site, start, end = scope.site_id, scope.start, scope.end
    first = min(lo - timedelta(days=1), start.replace(hour=0, minute=0, second=0, microsecond=0))
    got = store.query(_BOTH, [site, site, first, max(hi, end), site, start, end])
    gate, ids, dirty, visitors = got[0] if got else (None, None, None, None)
    listed: list[date] = sorted(dirty or ())
    # Each reader's days, as its own statement selects them (days are stored at midnight).
    mine = [
        d for d in listed if start.date() <= d and datetime.combine(d, time(), start.tzinfo) < end
    ]
    theirs = any(lo.date() - timedelta(days=1) <= d <= hi.date() for d in listed)
    return _state_of(gate, ids, mine), daily.firsts_of(gate, theirs, visitors)


def source(
    store: EventStore, scope: Scope, got: State | bool | None = False
) -> tuple[str, Params] | None:
    """``(subquery) AS sessions`` and its parameters, or None when there is no copy to
    read (:func:`state`, read here unless ``got`` passes it)."""
    got = state(store, scope) if got is False else got
    if not isinstance(got, tuple):
        return None
    gate, ids, _ = got
    site, lo, hi = scope.site_id, scope.start, scope.end
    copy = (
        "SELECT * EXCEPT (gate) FROM visit_starts WHERE site_id = ? AND gate = ? "
        "AND start_ts >= ? AND start_ts < ?"
    )
    if not ids:
        return f"({copy}) AS sessions", [site, gate, lo, hi]
    # Integers from the store, formatted by int(): nothing of the caller's is spliced.
    listed = ", ".join(str(int(i)) for i in sorted(ids))
    # The touched visits' rows as they are now (``FINAL``: a merged visit's newest row
    # deletes it), found by the key of ``sessions``.
    sql = (
        f"({copy} AND session_id NOT IN ({listed}) UNION ALL SELECT * FROM sessions "
        f"WHERE site_id = ? AND session_id IN ({listed}) AND start_ts >= ? AND start_ts < ?) "
        "AS sessions"
    )
    return sql, [site, gate, lo, hi, site, lo, hi]


def _whole_hour(at: datetime) -> bool:
    return at.minute == 0 and at.second == 0 and at.microsecond == 0


def sums(
    store: EventStore,
    scope: Scope,
    aliases: list[str],
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
    got: State | None,
) -> Statement | None:
    """The range's visits, bounces and visit duration (ungrouped, unfiltered) from the
    generation's sums per hour (``visit_sums``, footfall/store/clickhouse/firsts.py): the
    sums of :func:`source`'s rows. The touched visits' copied rows are taken out and
    their rows now put in; the UTC days listed dirty (a deletion may have happened since
    the sums) are summed from :func:`source`'s rows instead. None when the range is not
    whole hours or there is no copy (``got``)."""
    if got is None or dims or filters or "visits" not in aliases:
        return None  # (without the count, the empty range's NULLs could not be told)
    if not set(aliases) <= set(VISIT_ALIASES):
        return None
    if not (_whole_hour(scope.start) and _whole_hour(scope.end)):
        return None
    gate, ids, dirty = got
    site, lo, hi = scope.site_id, scope.start, scope.end
    aggs = session_aggregates(scope.dialect)
    # Dates and integers from the store, formatted here: nothing of the caller's spliced.
    days = ", ".join(f"toDate('{d.isoformat()}')" for d in dirty)
    listed = ", ".join(str(int(i)) for i in ids)
    clean = f" AND toDate(start_ts) NOT IN ({days})" if days else ""
    # Columns named apart from the aliases: the outer sums take the aliases' names.
    named = ", ".join(f"{a} AS s_{a}" for a in aliases)
    parts = [f"SELECT {named} FROM visit_sums WHERE site_id = ? AND gate = ? "
             f"AND hour >= ? AND hour < ?{clean.replace('start_ts', 'hour')}"]  # fmt: skip
    params: list[object] = [site, gate, lo, hi]
    if ids:
        neg = ", ".join(f"-toInt64({aggs[a]})" for a in aliases)
        parts.append(f"SELECT {neg} FROM visit_starts WHERE site_id = ? AND gate = ? AND start_ts "
                     f">= ? AND start_ts < ? AND session_id IN ({listed}){clean}")  # fmt: skip
        params += [site, gate, lo, hi]
    if ids or days:  # the touched visits as they are now, and the dirty days' visits
        src, sparams = source(store, scope, got) or ("sessions", [])
        which = " OR ".join(
            ([f"toDate(start_ts) IN ({days})"] if days else [])
            + ([f"session_id IN ({listed})"] if ids else [])
        )
        pos = ", ".join(f"toInt64({aggs[a]})" for a in aliases)  # one type in the union
        parts.append(f"SELECT {pos} FROM {src} WHERE {which}")
        params += sparams
    # No visit in the range: NULL, as the aggregates over no row (the store's setting).
    cols = ", ".join(
        f"if(sum(s_visits) = 0, NULL, sum(s_{a})) AS {a}" if a != "visits" else
        "sum(s_visits) AS visits" for a in aliases
    )  # fmt: skip
    sql = f"SELECT {cols} FROM ({' UNION ALL '.join(parts)})"
    return Statement(sql, params, tuple(aliases))
