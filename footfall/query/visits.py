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

from datetime import datetime

from footfall.query.builder import Params, Scope
from footfall.query.rollup import DAILY_VERSION
from footfall.store.base import EventStore

MAX_TOUCHED = 5_000  # more touched visits than this: read ``sessions`` (the copy is due)
# The gate and the visits touched since (any row stamped at or after it; no FINAL: the
# stamp column alone is read), in one statement, so both are of one moment.
_TOUCHED = (
    "WITH (SELECT max(gate) FROM visit_gates) AS g SELECT toDateTime64(g, 3, 'UTC') AS gate, "
    f"groupUniqArray({MAX_TOUCHED + 1})(session_id) AS ids FROM sessions "
    "WHERE site_id = ? AND inserted >= g SETTINGS final = 0"
)


def source(store: EventStore, scope: Scope) -> tuple[str, Params] | None:
    """``(subquery) AS sessions`` and its parameters, or None when the store keeps no copy
    (or not yet: it is built with the daily rollups), or too many visits were touched."""
    if not store.capabilities.visit_copy:
        return None
    if store.rollup_state(scope.site_id) != ("UTC", DAILY_VERSION):
        return None
    got = store.query(_TOUCHED, [scope.site_id])
    gate, ids = got[0] if got else (None, None)
    if not isinstance(gate, datetime) or len(ids or ()) > MAX_TOUCHED:
        return None
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
