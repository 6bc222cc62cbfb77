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


def _by_value(rows: list[tuple[Any, ...]]) -> dict[Any, list[tuple[int, int, bytes]]]:
    """(value, day, n, bits) rows as each value's (day, n, bits), by day."""
    out: dict[Any, list[tuple[int, int, bytes]]] = {}
    for value, day, n, bits in rows:
        out.setdefault(value, []).append((int(day), int(n), bits))
    for days in out.values():
        days.sort(key=lambda r: r[0])
    return out


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
    if start is None or start >= scope.end:
        # Nothing touched in the range: each visitor counted on its first day there, a
        # day it was not seen on in the days of the range before (store/duckdb/firsts.py).
        counted = q(f"SELECT value, sum(n) FROM day_firsts WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ? "
                    f"AND (gap = 0 OR gap > day - ?){vf} GROUP BY value",
                    [scope.site_id, kind, _day(first), _day(last), _day(first), *vfp])  # fmt: skip
        return {value: int(n) for value, n in counted if n}
    rows = q(f"SELECT value, day, n, bits FROM day_bitmaps WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ?{vf}",
             [scope.site_id, kind, _day(first), _day(last), *vfp])  # fmt: skip
    by_value = _by_value(rows)
    pad = timedelta(days=2)
    dn_lo, p_lo = local_day_number("lo", scope.zone, lo - pad, hi + pad, scope.dialect)
    dn_ts, p_ts = local_day_number("e.ts", scope.zone, start - pad, scope.end + pad, scope.dialect)
    # The touched visitors (a visitor not numbered yet is in no bitmap), each with the first
    # day it touched, and their raw (value, visitor) pairs from that day on in the range.
    p_sql = (f"SELECT r.visitor_id, n.vno, min({dn_lo}) AS lo_day FROM rollup_pending r LEFT JOIN visitor_numbers n "
             f"ON n.site_id = r.site_id AND n.visitor_id = r.visitor_id WHERE r.site_id = ? AND NOT coalesce(r.folded, false) "
             "GROUP BY r.visitor_id, n.vno")  # fmt: skip
    touched = q(f"SELECT vno, lo_day FROM ({p_sql}) WHERE vno IS NOT NULL", [*p_lo, scope.site_id])
    raw = q(f"WITH p AS ({p_sql}) SELECT DISTINCT {expr} AS value, e.visitor_id, p.vno FROM events e JOIN p ON e.visitor_id = p.visitor_id "
            f"WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ? AND {dn_ts} >= p.lo_day{ef}",
            [*p_lo, scope.site_id, scope.site_id, start, scope.end, *p_ts, *efp])  # fmt: skip
    everyone = BitMap(int(vno) for vno, _ in touched)
    since: dict[int, BitMap] = {}  # first touched day -> those visitors
    for vno, lo_day in touched:
        since.setdefault(int(lo_day), BitMap()).add(int(vno))
    firsts = sorted(d for d in since if d > _day(first))  # before the range: nothing kept
    raw_numbered: dict[Any, BitMap] = {}
    raw_new: dict[Any, set[int]] = {}
    for value, visitor_id, vno in raw:
        if vno is None:
            raw_new.setdefault(value, set()).add(int(visitor_id))
        else:
            raw_numbered.setdefault(value, BitMap()).add(int(vno))
    out: dict[Any, int] = {}
    for value in by_value.keys() | raw_numbered.keys() | raw_new.keys():
        days = by_value.get(value, [])
        bms = [(day, BitMap.deserialize(bits)) for day, _, bits in days]
        union = BitMap.union(*(bm for _, bm in bms)) if bms else BitMap()
        # The touched visitors' days before their first touched one: a prefix union per
        # such day (a few: the days the writer touched since the last seal).
        kept, prefix, i = BitMap(), BitMap(), 0
        for d in firsts:
            while i < len(bms) and bms[i][0] < d:
                prefix |= bms[i][1]
                i += 1
            kept |= prefix & since[d]
        kept |= raw_numbered.get(value, BitMap())
        n = union.difference_cardinality(everyone) + len(kept) + len(raw_new.get(value, ()))
        if n > 0:
            out[value] = n
    return out
