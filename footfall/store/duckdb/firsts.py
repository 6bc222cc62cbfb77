# ruff: noqa: E501  (SQL reads better unwrapped)
"""The ``day_firsts`` rollup: per (kind, value, site-local day), how many of the day's
visitors (its bitmap, bitmaps.py) were last seen with that value ``gap`` days before
(1-32), or not within the 32 days before (``gap`` 0).

Why: a range's visitors per value are the cardinality of a union of its days' bitmaps,
and for a many-valued panel that union is most of its time (pages at 10M events: 56,000
bitmaps, ~330 ms in Python). A visitor counts in the range [a, b] once, on its first day
there: a day d in the range on which it was not seen in [a, d - 1], that is with ``gap``
0 or more than d - a days. Ranges are at most 33 days, so d - a <= 32, and the range's
visitors per value are one filtered sum of these rows in SQL:
``day BETWEEN a AND b AND (gap = 0 OR gap > day - a)``.

A day's rows depend on its bitmap and those of the 32 days before it, so a change to a
day's bitmap changes the rows of that day and of the 32 after it, for that value only
(:func:`refresh`); a build computes them a run of days at a time (:func:`build_days`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
import pyarrow as pa
from pyroaring import BitMap

from footfall.store.duckdb.bitmaps import Key

GAP = 32  # the longest gap kept; a range holds at most GAP + 1 days (query/rollup.py MAX_DAYS)


def of_day(days: Mapping[int, BitMap], d: int) -> dict[int, int]:
    """gap -> how many of day ``d``'s visitors (``days``: a value's bitmaps by day) were
    last seen that many days before (0: not within GAP days)."""
    rest = days[d].copy()
    out: dict[int, int] = {}
    for g in range(1, GAP + 1):
        before = days.get(d - g)
        if before is None:
            continue
        seen = rest & before
        if seen:
            out[g] = len(seen)
            rest -= seen
            if not rest:
                return out
    out[0] = len(rest)
    return out


def _load(cur: duckdb.DuckDBPyConnection, site_id: str, kind: str, lo: int, hi: int,
          values: list[Any] | None = None) -> dict[Any, dict[int, BitMap]]:  # fmt: skip
    """A kind's bitmaps of the days [lo, hi] (of ``values`` only, if given), by value and day."""
    where, params = "", [site_id, kind, lo, hi]
    if values is not None:
        where, params = " AND value IN (SELECT unnest(?::VARCHAR[]))", [*params, values]
    t = cur.sql(f"SELECT value, day, bits FROM day_bitmaps WHERE site_id = ? AND kind = ? AND day BETWEEN ? AND ?{where}",
                params=params).to_arrow_table()  # fmt: skip
    out: dict[Any, dict[int, BitMap]] = {}
    for value, day, bits in zip(t.column("value").to_pylist(), t.column("day").to_pylist(),
                                t.column("bits").to_pylist(), strict=True):  # fmt: skip
        out.setdefault(value, {})[int(day)] = BitMap.deserialize(bits)
    return out


def _insert(cur: duckdb.DuckDBPyConnection, site_id: str, kind: str, rows: list[tuple[Any, int, int, int]]) -> None:
    """Append (value, day, gap, n) rows of a kind."""
    if not rows:
        return
    table = pa.table({
        "day": pa.array([r[1] for r in rows], pa.int32()), "value": pa.array([r[0] for r in rows], pa.string()),
        "gap": pa.array([r[2] for r in rows], pa.int16()), "n": pa.array([r[3] for r in rows], pa.int32()),
    })  # fmt: skip
    cur.register("_firsts_rows", table)
    try:
        cur.execute("INSERT INTO day_firsts SELECT ?, ?, day, value, gap, n FROM _firsts_rows ORDER BY day, value",
                    [site_id, kind])  # fmt: skip
    finally:
        cur.unregister("_firsts_rows")


def _rows(bitmaps: Mapping[Any, Mapping[int, BitMap]], wanted: Iterable[tuple[Any, int]]) -> list[tuple[Any, int, int, int]]:
    return [(value, d, g, n) for value, d in wanted if d in bitmaps.get(value, {})
            for g, n in of_day(bitmaps[value], d).items()]  # fmt: skip


def build_days(cur: duckdb.DuckDBPyConnection, site_id: str, kind: str, a: int, b: int) -> None:
    """The rows of a kind's days [a, b), from its bitmaps (those of the GAP days before too)."""
    bitmaps = _load(cur, site_id, kind, a - GAP, b - 1)
    _insert(cur, site_id, kind, _rows(bitmaps, ((v, d) for v, days in bitmaps.items() for d in days if a <= d < b)))


def refresh(cur: duckdb.DuckDBPyConnection, site_id: str, changed: Iterable[Key]) -> None:
    """After the bitmaps of ``changed`` keys were rewritten (or removed): the rows of those
    days and of the GAP days after each, for those values."""
    by_kind: dict[str, dict[Any, set[int]]] = {}
    for kind, day, value in changed:
        by_kind.setdefault(kind, {}).setdefault(value, set()).add(day)
    for kind, values in by_kind.items():
        lo = min(min(days) for days in values.values())
        hi = max(max(days) for days in values.values())
        bitmaps = _load(cur, site_id, kind, lo - GAP, hi + GAP, list(values))
        affected = sorted({(v, d + k) for v, days in values.items() for d in days for k in range(GAP + 1)},
                          key=lambda r: (r[1], r[0] or ""))  # fmt: skip
        # Rows of days past the last stored bitmap have nothing to delete: kept short.
        affected = [(v, d) for v, d in affected if d <= hi or d in bitmaps.get(v, {})]
        gone = pa.table({"value": pa.array([v for v, _ in affected], pa.string()),
                         "day": pa.array([d for _, d in affected], pa.int32())})  # fmt: skip
        cur.register("_firsts_gone", gone)
        try:
            cur.execute("DELETE FROM day_firsts f USING _firsts_gone g WHERE f.site_id = ? AND f.kind = ? "
                        "AND f.day = g.day AND f.value IS NOT DISTINCT FROM g.value", [site_id, kind])  # fmt: skip
        finally:
            cur.unregister("_firsts_gone")
        _insert(cur, site_id, kind, _rows(bitmaps, affected))
