# ruff: noqa: E501  (SQL reads better unwrapped)
"""Visitors per value while some are pending, from the day bitmaps alone: the rollups'
correction (query/rollup_pending.py) when raw events before the touched days may be gone
(retention deleted them; ``rollup_state.raw_from``), so a touched visitor's stored
membership there cannot be read from raw events. Slower (each value's bitmaps of the range
are unioned in Python: ~330 ms for pages at 10M events), and rare.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pyroaring import BitMap

from footfall.query.builder import Scope
from footfall.query.timebuckets import local_day_number

EPOCH = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - EPOCH).days


def _by_value(rows: list[tuple[Any, ...]]) -> dict[Any, list[tuple[int, int, bytes]]]:
    """(value, day, n, bits) rows as each value's (day, n, bits), by day."""
    out: dict[Any, list[tuple[int, int, bytes]]] = {}
    for value, day, n, bits in rows:
        out.setdefault(value, []).append((int(day), int(n), bits))
    for days in out.values():
        days.sort(key=lambda r: r[0])
    return out


def visitors(q: Any, scope: Scope, kind: str, first: date, last: date, expr: str,
             f: tuple[str, list[Any], str, list[Any]], pending: tuple[datetime, datetime],
             start: datetime) -> dict[Any, int]:  # fmt: skip
    """Visitors per value over the local days [first, last]: each value's day bitmaps
    unioned, the touched visitors (``rollup_pending`` rows not folded, spanning
    ``pending``) kept only on the days before the first day each touched, and their raw
    events from that day on (at or after ``start``) added."""
    vf, vfp, ef, efp = f
    lo, hi = pending
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
