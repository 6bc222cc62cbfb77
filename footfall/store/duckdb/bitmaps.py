# ruff: noqa: E501  (SQL reads better unwrapped)
"""The ``day_bitmaps`` rollup: per (kind, value, site-local day), a roaring bitmap of the
numbers of the visitors seen with that value that day (schema.sql).

Why bitmaps: a range's distinct visitors per value is the cardinality of the union of its
days' bitmaps, exact for any range, and new events only add members, so folding a writer
round in costs what its events are (grouped once, ORed in C), with no row per visitor to
find and rewrite (the ``reach`` rows of layouts up to 7 cost ~16 us an event to fold,
2.4x their build: docs/benchmarks.md, issue 25).

A fold (:func:`fold`) recomputes a set of visitors on a set of days: it removes them from
those days' bitmaps and adds them back from their raw events there. Removing first makes it
exact for late events, merged visits and re-stamped attributes alike (a visitor whose entry
page changed leaves the old value's bitmap), and idempotent. A build is a fold of every
visitor on every day into empty bitmaps (:func:`bitmaps_of`, :func:`write`).
"""

from __future__ import annotations

import array
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb
import pyarrow as pa
from pyroaring import BitMap

Key = tuple[str, int, Any]  # (kind, day, value)


def to_array(values: Any) -> array.array[int]:
    """A column of visitor numbers as an array of uint32 (pyroaring reads it in C; a numpy
    array it iterates in Python, 8x slower)."""
    return array.array("I", values.to_numpy(zero_copy_only=False).astype("uint32").tobytes())


def bitmaps_of(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[Key, BitMap]:
    """The bitmaps of ``sql``'s rows (kind, dn, value, vno): one per (kind, dn, value).
    Grouped in DuckDB, each group's numbers as one list, so Python touches each group once."""
    t = cur.sql(
        f"SELECT kind, dn, value, list(DISTINCT vno) AS vnos FROM ({sql}) GROUP BY ALL", params=params
    ).to_arrow_table()
    out: dict[Key, BitMap] = {}
    if not t.num_rows:
        return out
    vnos = t.column("vnos").combine_chunks()
    numbers = to_array(vnos.flatten())
    offsets = vnos.offsets.to_pylist()
    for i, (kind, dn, value) in enumerate(zip(t.column("kind").to_pylist(), t.column("dn").to_pylist(),
                                              t.column("value").to_pylist(), strict=True)):  # fmt: skip
        out[(kind, int(dn), value)] = BitMap(numbers[offsets[i] : offsets[i + 1]])
    return out


def write(cur: duckdb.DuckDBPyConnection, site_id: str, bitmaps: Mapping[Key, BitMap]) -> int:
    """Append the non-empty ``bitmaps`` as rows of ``site_id``, sorted as queries read them
    (a kind's days together); how many."""
    keys = sorted((k for k, bm in bitmaps.items() if bm), key=lambda k: (k[0], k[1], k[2] or ""))
    if not keys:
        return 0
    blobs = []
    for k in keys:
        bm = bitmaps[k]
        bm.run_optimize()  # numbers given in order of first visit: runs are common
        blobs.append(bm.serialize())
    rows = pa.table({
        "kind": [k[0] for k in keys], "day": pa.array([k[1] for k in keys], pa.int32()),
        "value": pa.array([k[2] for k in keys], pa.string()),
        "n": pa.array([len(bitmaps[k]) for k in keys], pa.int32()), "bits": pa.array(blobs, pa.binary()),
    })  # fmt: skip
    cur.register("_bitmap_rows", rows)
    try:
        cur.execute("INSERT INTO day_bitmaps SELECT ?, kind, day, value, n, bits FROM _bitmap_rows", [site_id])
    finally:
        cur.unregister("_bitmap_rows")
    return len(keys)


def pending_by_day(rows: Iterable[tuple[int, int, int]]) -> dict[int, BitMap]:
    """Per day, the numbers of the visitors (vno, lo_day, hi_day) whose span holds it."""
    out: dict[int, BitMap] = {}
    for vno, lo, hi in rows:
        for d in range(lo, hi + 1):
            bm = out.get(d)
            if bm is None:
                out[d] = bm = BitMap()
            bm.add(vno)
    return out


def fold(cur: duckdb.DuckDBPyConnection, site_id: str, gone: Mapping[int, BitMap],
         fresh: Mapping[Key, BitMap]) -> set[Key]:  # fmt: skip
    """Recompute some visitors on some days: ``gone`` maps each day to the visitors
    recomputed on it, ``fresh`` holds their bitmaps there from raw events. The stored
    bitmaps of those days lose the visitors and gain ``fresh``; only the rows that change
    are rewritten. Returns the keys that changed (an emptied bitmap's row is removed)."""
    days = sorted(gone)
    if not days:
        return set()
    stored = cur.execute(
        "SELECT rowid, kind, day, value, bits FROM day_bitmaps WHERE site_id = ? AND day IN (SELECT unnest(?::INTEGER[]))",
        [site_id, days],
    ).fetchall()
    changed: dict[Key, BitMap] = {}
    dropped: list[int] = []
    seen: set[Key] = set()
    for rowid, kind, day, value, bits in stored:
        key = (kind, int(day), value)
        seen.add(key)
        old = BitMap.deserialize(bits)
        new = old - gone[key[1]]
        add = fresh.get(key)
        if add is not None:
            new |= add
        if new != old:
            dropped.append(int(rowid))
            changed[key] = new
    for key, bm in fresh.items():
        if key not in seen:
            changed[key] = bm
    if dropped:
        cur.execute("DELETE FROM day_bitmaps WHERE rowid IN (SELECT unnest(?::BIGINT[]))", [dropped])
    write(cur, site_id, changed)
    return set(changed)


def members(cur: duckdb.DuckDBPyConnection, site_id: str, days: tuple[int, int] | None = None) -> BitMap:
    """Every visitor number in the site's bitmaps (of the days in ``days``, inclusive, if
    given): the site total ('' kind) holds every visitor with an event that day."""
    sql = "SELECT bits FROM day_bitmaps WHERE site_id = ? AND kind = ''"
    params: list[Any] = [site_id]
    if days is not None:
        sql += " AND day BETWEEN ? AND ?"
        params += list(days)
    out = BitMap()
    for (bits,) in cur.execute(sql, params).fetchall():
        out |= BitMap.deserialize(bits)
    return out


def holding(cur: duckdb.DuckDBPyConnection, site_id: str, vnos: BitMap, days: tuple[int, int]) -> int:
    """How many of the site's bitmaps of the days in ``days`` (inclusive) hold any of
    ``vnos``."""
    if not vnos:
        return 0
    rows = cur.execute("SELECT bits FROM day_bitmaps WHERE site_id = ? AND day BETWEEN ? AND ?", [site_id, *days]).fetchall()
    return sum(1 for (bits,) in rows if not vnos.isdisjoint(BitMap.deserialize(bits)))
