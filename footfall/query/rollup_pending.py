# ruff: noqa: E501  (SQL reads better unwrapped)
"""The rollups' pending visitors (footfall/query/rollup.py): the correction that makes an
answer from the rollups exact while the writer has touched visitors since the last seal,
and when not to correct but read the raw events instead.

A touched visitor's rollup rows are used only for the days before the first day it
touched; its raw events from that day on are added (:func:`visitors_sql`). That costs a
read of the touched visitors' ``reach`` rows in the range and of their raw events, and
holds both in DuckDB's memory: small beside the rollups when a few visitors are pending,
but when most of a built site is (a bulk load not folded in yet, an import), it is more
than the raw statement itself, and at 10M events with ~8M pending it ran out of DuckDB's
448 MiB (the panels answered 500; docs/benchmarks.md, issue 25). :func:`too_pending`
sends such a query to the raw events, which answer it exactly as long as retention has
deleted none of the range's (``rollup_state.raw_from``: rollups outlive raw events).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from footfall.query.builder import Scope
from footfall.query.period import local_midnight_utc
from footfall.query.timebuckets import local_day_number

EPOCH = date(1970, 1, 1)
FULL = (1 << 64) - 1
# A built site is read from raw events instead when its pending rows (one per visitor and
# writer round) are this share of its numbered visitors, and at least PENDING_MIN_ROWS
# (a small site's correction is cheap whatever its share).
PENDING_SHARE = 0.3
PENDING_MIN_ROWS = 50_000


def _day(d: date) -> int:
    return (d - EPOCH).days


def _in_zone(at: datetime, scope: Scope) -> date:
    return at.replace(tzinfo=UTC).astimezone(scope.zone).date()


def too_pending(q: Any, scope: Scope) -> bool:
    """Whether to answer from raw events rather than correct the rollups: most of the
    site is pending, and the raw events still hold the whole range. ``q`` runs a
    statement in the answer's read transaction."""
    rows, numbered, raw_from = q(
        "SELECT (SELECT count(*) FROM rollup_pending WHERE site_id = ?), "
        "(SELECT count(*) FROM visitor_numbers WHERE site_id = ?), "
        "(SELECT max(raw_from) FROM rollup_state WHERE site_id = ?)",
        [scope.site_id] * 3,
    )[0]
    if rows < PENDING_MIN_ROWS or rows < PENDING_SHARE * numbered:
        return False
    return raw_from is None or raw_from <= scope.start.replace(tzinfo=None)


def window_of(q: Any, site_id: str, first: date) -> int:
    """The ``reach`` window a range starting on ``first`` is read from: the one starting in
    its block, or while that is not built (its next block has no sealed events yet), the
    one before it, which holds the block in bits 32-63 (store/duckdb/rollups_upkeep.py
    ``open_windows``). ``q`` runs a statement in the answer's read transaction."""
    win = _day(first) // 32
    built = q("SELECT count(*) FROM (SELECT 1 FROM reach_firsts WHERE site_id = ? AND kind = '' AND win = ? LIMIT 1)",
              [site_id, win])[0][0]  # fmt: skip
    return win if built else win - 1


def visitors_sql(scope: Scope, kind: str, first: date, last: date, win: int, expr: str,
                 f: tuple[str, list[Any], str, list[Any]],
                 pending: tuple[datetime, datetime] | None) -> tuple[str, list[Any]]:  # fmt: skip
    """Visitors per value, read from ``reach`` window ``win`` (:func:`window_of`). The
    rollups are exact for every visitor the writer has not touched since the last seal;
    for a touched one (``rollup_pending``) they are used only for the days before the
    first day it touched, and its raw events from that day on are added (see the formula
    below). ``pending`` is the touched time span, if any."""
    vf, vfp, ef, efp = f
    # Days past the window's end have no sealed events (else it would not be the one read):
    # only touched visitors' raw events can be there, and those are added below.
    lo_bit, hi_bit = _day(first) - 32 * win, min(_day(last) - 32 * win, 63)
    mask = ((1 << (hi_bit - lo_bit + 1)) - 1) << lo_bit
    # reach is sorted by days within each (kind, window): a row with a day in the range has
    # days >= 2**lo_bit, which skips the row groups of those seen only before it by min/max.
    a_sql = (f"SELECT value, vno, days FROM reach WHERE site_id = ? AND kind = ? AND win = ? "
             f"AND days >= ?::UBIGINT AND (days & ?::UBIGINT) <> 0{vf}")  # fmt: skip
    a_params: list[Any] = [scope.site_id, kind, win, 1 << lo_bit, mask, *vfp]
    # |A| per value: each reach row with a day in the range counts once, at its first one
    counts = (f"SELECT value, sum(n) AS n FROM reach_firsts WHERE site_id = ? AND kind = ? AND win = ? "
              f"AND d BETWEEN ? AND ? AND prev < ?{vf} GROUP BY value")  # fmt: skip
    c_params: list[Any] = [scope.site_id, kind, win, lo_bit, hi_bit, lo_bit, *vfp]
    if pending is None:
        return f"SELECT value, n FROM ({counts}) WHERE n > 0", c_params
    lo, hi = pending
    start = max(scope.start, local_midnight_utc(_in_zone(lo, scope), scope.zone))
    if start >= scope.end:
        return f"SELECT value, n FROM ({counts}) WHERE n > 0", c_params
    pad = timedelta(days=2)
    dn_lo, p_lo = local_day_number("lo", scope.zone, lo - pad, hi + pad, scope.dialect)
    dn_ts, p_ts = local_day_number("e.ts", scope.zone, start - pad, scope.end + pad, scope.dialect)
    # the range's bits a touched visitor keeps: those of days before its first touched day
    keep = (f"CASE WHEN p.lo_day IS NULL THEN {FULL}::UBIGINT WHEN p.lo_day - {32 * win} <= 0 THEN 0::UBIGINT "
            f"WHEN p.lo_day - {32 * win} >= 64 THEN {FULL}::UBIGINT "
            f"ELSE ((1::UBIGINT) << (p.lo_day - {32 * win})::UBIGINT) - 1 END")  # fmt: skip
    # A = every rollup pair of the range, counted off reach_firsts (no join per row);
    # A_P = the touched visitors' pairs among them, found by one semi-join on reach; their
    # exact pairs are the rollup pairs they keep (days before their first touched day)
    # plus their raw pairs from that day on (T): |A| - |A_P| + |kept(A_P) u T|.
    # reach names a visitor by its number (visitor_numbers); a visitor not numbered yet
    # has no reach rows, only raw events.
    sql = (f"WITH p AS (SELECT r.visitor_id, n.vno, min({dn_lo}) AS lo_day FROM rollup_pending r LEFT JOIN visitor_numbers n "
           f"ON n.site_id = r.site_id AND n.visitor_id = r.visitor_id WHERE r.site_id = ? GROUP BY r.visitor_id, n.vno), "
           f"t AS (SELECT DISTINCT {expr} AS value, e.visitor_id FROM events e JOIN p ON e.visitor_id = p.visitor_id "
           f"WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ? AND {dn_ts} >= p.lo_day{ef}), "
           f"ap AS MATERIALIZED (SELECT * FROM ({a_sql}) WHERE vno IN (SELECT vno FROM p)), "
           f"kept AS (SELECT ap.value, p.visitor_id FROM ap JOIN p ON ap.vno = p.vno "
           f"WHERE (ap.days & ?::UBIGINT & {keep}) <> 0) "
           "SELECT value, sum(n) FROM ("
           f"{counts} "
           "UNION ALL SELECT value, -count(*) FROM ap GROUP BY value "
           "UNION ALL SELECT value, count(*) FROM (SELECT value, visitor_id FROM kept UNION SELECT value, visitor_id FROM t) GROUP BY value"
           ") GROUP BY value HAVING sum(n) > 0")  # fmt: skip
    params = [
        *p_lo,
        scope.site_id,
        scope.site_id,
        start,
        scope.end,
        *p_ts,
        *efp,
        *a_params,
        mask,
        *c_params,
    ]
    return sql, params
