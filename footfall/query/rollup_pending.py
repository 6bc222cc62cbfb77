# ruff: noqa: E501  (SQL reads better unwrapped)
"""The rollups' pending visitors (footfall/query/rollup.py): the correction that makes an
answer from the rollups exact while the writer has touched visitors since the last seal,
and when not to correct but read the raw events instead.

A touched visitor's day bitmaps are used only for the days before the first day it
touched; its raw events from that day on are added (:func:`visitors`). That costs a read
of the touched visitors' raw events: small when a few visitors are pending, but when most
of a built site is (a bulk load not folded in yet, an import), it is more than the raw
statement itself, and at 10M events with ~8M pending it ran out of DuckDB's 448 MiB (the
panels answered 500; docs/benchmarks.md, issue 25). :func:`too_pending`
sends such a query to the raw events, which answer it exactly as long as retention has
deleted none of the range's (``rollup_state.raw_from``: rollups outlive raw events).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyroaring import BitMap

from footfall.query import rollup_union
from footfall.query.builder import Scope
from footfall.query.period import local_midnight_utc
from footfall.query.timebuckets import local_day_number

EPOCH = date(1970, 1, 1)
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
        "SELECT (SELECT count(*) FROM rollup_pending WHERE site_id = ? AND NOT coalesce(folded, false)), "
        "(SELECT count(*) FROM visitor_numbers WHERE site_id = ?), "
        "(SELECT max(raw_from) FROM rollup_state WHERE site_id = ?)",
        [scope.site_id] * 3,
    )[0]
    if rows < PENDING_MIN_ROWS or rows < PENDING_SHARE * numbered:
        return False
    return raw_from is None or raw_from <= scope.start.replace(tzinfo=None)


def visitors(q: Any, scope: Scope, kind: str, first: date, last: date, expr: str,
             f: tuple[str, list[Any], str, list[Any]],
             pending: tuple[datetime, datetime] | None) -> dict[Any, int]:  # fmt: skip
    """Visitors per value over the local days [first, last]: the cardinality of the union
    of each value's day bitmaps, summed off ``day_firsts`` while no visitor the range
    holds is pending, else from the bitmaps. The bitmaps are exact for every visitor the writer has not
    touched since the last seal; a touched one (``rollup_pending``, not ``folded`` by a
    writer round) counts from them only on the days before the first day it touched, and
    from its raw events from that day on. ``pending`` is those rows' time span, if any; ``q`` runs a statement in the answer's
    read transaction."""
    vf, vfp, ef, efp = f
    start = None
    if pending is not None:
        lo, hi = pending
        start = max(scope.start, local_midnight_utc(_in_zone(lo, scope), scope.zone))
    # Each visitor counted on its first day in the range, a day it was not seen on in the
    # days of the range before (store/duckdb/firsts.py): exact for every visitor not
    # pending, and what the stored bitmaps say for the others.
    counted = {value: int(n) for value, n in q(
        f"SELECT value, sum(n) FROM day_firsts WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ? "
        f"AND (gap = 0 OR gap > day - ?){vf} GROUP BY value",
        [scope.site_id, kind, _day(first), _day(last), _day(first), *vfp])}  # fmt: skip
    if start is None or start >= scope.end:  # nothing touched in the range
        return {value: n for value, n in counted.items() if n}
    raw_from = q("SELECT max(raw_from) FROM rollup_state WHERE site_id = ?", [scope.site_id])[0][0]
    if pending is not None and raw_from is not None and raw_from > scope.start.replace(tzinfo=None):
        return rollup_union.visitors(q, scope, kind, first, last, expr, f, pending, start)
    # The touched visitors P (a visitor not numbered yet is in no bitmap), each with the
    # first day it touched. Their stored membership is taken out and their raw one put in:
    # answer = counted - |U ∩ P| + |raw(P)|, where U ∩ P is, per visitor, its raw events
    # before its first touched day (the bitmaps are exact there) and the stored bitmaps
    # from that day on (a few days: what the writer touched since the last fold).
    pad = timedelta(days=2)
    dn_lo, p_lo = local_day_number("lo", scope.zone, lo - pad, hi + pad, scope.dialect)
    dn_ts, p_ts = local_day_number("e.ts", scope.zone, scope.start - pad, scope.end + pad, scope.dialect)
    p_sql = (f"SELECT r.visitor_id, n.vno, min({dn_lo}) AS lo_day FROM rollup_pending r LEFT JOIN visitor_numbers n "
             f"ON n.site_id = r.site_id AND n.visitor_id = r.visitor_id WHERE r.site_id = ? AND NOT coalesce(r.folded, false) "
             "GROUP BY r.visitor_id, n.vno")  # fmt: skip
    touched = q(f"SELECT vno, lo_day FROM ({p_sql}) WHERE vno IS NOT NULL", [*p_lo, scope.site_id])
    # Their stored membership from their first touched day on, from those days' bitmaps.
    first_touched = min((int(d) for _, d in touched), default=_day(last) + 1)
    rows = q(f"SELECT value, day, bits FROM day_bitmaps WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ?{vf}",
             [scope.site_id, kind, max(_day(first), first_touched), _day(last), *vfp])  # fmt: skip
    upto: dict[int, BitMap] = {}  # day -> the touched visitors whose first touched day is on or before it
    for day in {int(r[1]) for r in rows}:
        upto[day] = BitMap(int(vno) for vno, d in touched if int(d) <= day)
    values: list[Any] = []
    numbers: list[int] = []
    for value, day, bits in rows:
        mine = BitMap.deserialize(bits) & upto[int(day)]
        values += [value] * len(mine)
        numbers += mine.to_array()
    # The rest in one statement: per value, the touched visitors' raw membership in the
    # range, and their stored one (raw events before their first touched day, and the
    # pairs above), counted in DuckDB rather than row by row here (97k touched visitors'
    # rows took 9 s a dashboard set in Python at 10M events).
    sql = (f"WITH p AS ({p_sql}), r AS MATERIALIZED (SELECT DISTINCT {expr} AS value, e.visitor_id, p.vno, {dn_ts} < p.lo_day AS before "
           f"FROM events e JOIN p ON e.visitor_id = p.visitor_id WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ?{ef}) "
           "SELECT value, sum(raw)::BIGINT, sum(stored)::BIGINT FROM ("
           "SELECT value, count(DISTINCT visitor_id) AS raw, 0 AS stored FROM r GROUP BY value UNION ALL "
           "SELECT value, 0, count(DISTINCT vno) FROM (SELECT value, vno FROM r WHERE before AND vno IS NOT NULL "
           "UNION ALL SELECT unnest(?::VARCHAR[]), unnest(?::UINTEGER[])) GROUP BY value) GROUP BY value")  # fmt: skip
    changes = q(sql, [*p_lo, scope.site_id, *p_ts, scope.site_id, scope.start, scope.end, *efp, values, numbers])
    out = dict(counted)
    for value, raw, stored in changes:
        out[value] = out.get(value, 0) - int(stored) + int(raw)
    return {value: n for value, n in out.items() if n > 0}
