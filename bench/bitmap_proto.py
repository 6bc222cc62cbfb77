# ruff: noqa: E501  (SQL reads better unwrapped)
"""Prototype (issue 25): exact distinct visitors from roaring bitmaps, a design whose fold
of a writer round costs what its events are, not what rows they rewrite.

Today's ``reach`` keeps a row per (kind, window, value, visitor) with a bitmask of days;
folding new events in rewrites a row of every kind per event (docs/benchmarks.md: ~16 us
an event, 2.4x a build). Here each (kind, value, local day) keeps a roaring bitmap of the
visitors' numbers: a round ORs its visitors into the bitmaps of its days (no row is
rewritten, no old row looked up), and a range's visitors per value is the cardinality of
the union of its days' bitmaps. Exact, like ``reach``.

On a ``bench/query.py`` store (``--generate-only``), in this process, read only: the
visitors are numbered by first appearance; the bitmaps of every kind are built from all
events but the last ``--round`` (held back, as a writer round of a bulk load); the
dashboard's range (``--days`` up to the data's last day) is answered per kind from the
bitmaps and checked against DuckDB's ``count(DISTINCT visitor_id)``; the held round is
folded in (timed: grouping in DuckDB, the ORs, serializing the touched bitmaps as a store
would write them) and the answers checked again. Printed: the build's time, the bitmaps'
serialized bytes and this process's RSS, each kind's answer time, the fold's.

Needs ``pip install pyroaring`` (not a dependency of Footfall).

    python bench/bitmap_proto.py [--store /tmp/footfall-bench-query/10000000-28d] [--round 150000]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from pyroaring import BitMap

from footfall.query.rollup import kinds

Bitmaps = dict[tuple[str, int], BitMap]  # (value, local day) -> visitor numbers


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def groups(
    con: duckdb.DuckDBPyConnection, sql: str
) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]:
    """(value, dn, vno) rows of ``sql`` sorted, as the group keys and each group's slice."""
    t = con.sql(f"SELECT value, dn, vno FROM ({sql}) ORDER BY value, dn, vno").to_arrow_table()
    encoded = t.column("value").combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy()
    names = encoded.dictionary.to_pylist()
    dn = t.column("dn").to_numpy()
    vno = t.column("vno").to_numpy().astype(np.uint32)
    if not len(vno):
        return [], dn, vno, np.array([0])
    change = np.ones(len(vno), dtype=bool)
    change[1:] = (codes[1:] != codes[:-1]) | (dn[1:] != dn[:-1])
    starts = np.flatnonzero(change)
    values = [names[i] for i in codes[starts]]
    return values, dn[starts], vno, np.append(starts, len(vno))


def add(
    bitmaps: Bitmaps, rows: tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]
) -> set[tuple[str, int]]:
    """OR each group's visitors into its bitmap; the keys touched."""
    values, dn, vno, bounds = rows  # values and dn: one per group
    touched = set()
    for i in range(len(bounds) - 1):
        a, b = bounds[i], bounds[i + 1]
        key = (values[i], int(dn[i]))
        bm = bitmaps.get(key)
        if bm is None:
            bitmaps[key] = BitMap(vno[a:b])
        else:
            bm.update(vno[a:b])
        touched.add(key)
    return touched


def answer(bitmaps: Bitmaps, lo: int, hi: int) -> dict[str, int]:
    by_value: dict[str, list[BitMap]] = {}
    for (value, d), bm in bitmaps.items():
        if lo <= d <= hi:
            by_value.setdefault(value, []).append(bm)
    return {
        v: len(BitMap.union(*bms)) if len(bms) > 1 else len(bms[0]) for v, bms in by_value.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/tmp/footfall-bench-query/10000000-28d", type=Path)
    ap.add_argument("--round", type=int, default=150_000)
    ap.add_argument("--days", type=int, default=28)
    args = ap.parse_args()
    manifest = json.loads((args.store / "manifest.json").read_text())
    site, tz = manifest["site_id"], manifest["tz"]
    end = (date.fromisoformat(manifest["end_date"]) - date(1970, 1, 1)).days
    lo, hi = end - args.days + 1, end
    con = duckdb.connect(str(args.store / "data" / "events.duckdb"), read_only=True)
    con.execute("SET memory_limit = '448MiB'; SET threads = 2; SET TimeZone = 'UTC'")
    dn = f"(timezone('{tz}', ts::TIMESTAMPTZ)::DATE - DATE '1970-01-01')"
    t = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE ev AS SELECT * FROM events WHERE site_id = '{site}'")
    cut = con.execute(
        f"SELECT min(ts) FROM (SELECT ts FROM ev ORDER BY ts DESC LIMIT {args.round})"
    ).fetchall()[0][0]
    con.execute("CREATE TEMP TABLE vn AS SELECT visitor_id, row_number() OVER (ORDER BY min(ts), visitor_id)::UINTEGER AS vno "
                "FROM ev GROUP BY visitor_id")  # fmt: skip
    print(
        f"copied and numbered in {time.perf_counter() - t:.1f} s; held back from {cut}", flush=True
    )
    every: dict[str, Bitmaps] = {}
    t, c = time.perf_counter(), time.process_time()
    for kind, expr in kinds().items():
        sql = (f"SELECT DISTINCT CAST({expr} AS VARCHAR) AS value, {dn} AS dn, vn.vno FROM ev JOIN vn USING (visitor_id) "
               "WHERE ts < ?")  # fmt: skip
        every[kind] = {}
        add(every[kind], groups(con, sql.replace("?", f"TIMESTAMP '{cut}'")))
    print(
        f"build: {time.perf_counter() - t:.1f} s wall, {time.process_time() - c:.1f} CPU s; "
        f"{sum(len(b) for b in every.values()):,} bitmaps, "
        f"{sum(len(bm.serialize()) for b in every.values() for bm in b.values()) / 1e6:.0f} MB serialized, "
        f"peak RSS {rss_mib():.0f} MiB",
        flush=True,
    )

    def check(label: str, until: str) -> None:
        total = 0.0
        for kind, expr in kinds().items():
            t = time.perf_counter()
            got = answer(every[kind], lo, hi)
            took = time.perf_counter() - t
            total += took
            want = dict(con.execute(f"SELECT CAST({expr} AS VARCHAR), count(DISTINCT visitor_id) FROM ev "
                                    f"WHERE {dn} BETWEEN {lo} AND {hi} AND {until} GROUP BY 1").fetchall())  # fmt: skip
            assert got == want, (kind, label)
            print(
                f"  {label} {kind or '(site)'}: {len(got):,} values, {took * 1000:.0f} ms",
                flush=True,
            )
        print(f"{label}: every kind exact, {total * 1000:.0f} ms in all", flush=True)

    check("before the round", f"ts < TIMESTAMP '{cut}'")
    # As a store would keep them: a row per (kind, value, day) with the serialized bitmap;
    # a panel reads its range's rows and unions them.
    import pyarrow as pa

    t = time.perf_counter()
    stored = pa.table({
        "kind": [k for k, b in every.items() for _ in b], "value": [v for b in every.values() for v, _ in b],
        "dn": [d for b in every.values() for _, d in b], "bits": [bm.serialize() for b in every.values() for bm in b.values()],
    })  # fmt: skip
    con.execute("CREATE TEMP TABLE vb AS SELECT * FROM stored ORDER BY kind, dn, value")
    print(f"stored as {len(stored):,} rows in {time.perf_counter() - t:.1f} s", flush=True)

    def from_store() -> float:
        total = 0.0
        for kind in kinds():
            t = time.perf_counter()
            rows = con.execute(f"SELECT value, list(bits) FROM vb WHERE kind = ? AND dn BETWEEN {lo} AND {hi} GROUP BY value",
                               [kind]).fetchall()  # fmt: skip
            got = {v: len(BitMap.union(*[BitMap.deserialize(b) for b in bs])) for v, bs in rows}
            total += time.perf_counter() - t
            assert got == answer(every[kind], lo, hi), kind
        return total

    print(
        f"every kind read from the stored rows and unioned: {', '.join(f'{from_store() * 1000:.0f}' for _ in range(3))} ms",
        flush=True,
    )
    # Fewer, larger reads: a bitmap per (kind, value, 7-day week) beside the days', so a
    # range is its whole weeks and the days at its edges.
    t = time.perf_counter()
    weeks: dict[tuple[str, str, int], BitMap] = {}
    for kind, b in every.items():
        for (value, d), bm in b.items():
            key = (kind, value, d // 7)
            weeks[key] = weeks[key] | bm if key in weeks else bm.copy()
    wk = pa.table({"kind": [k[0] for k in weeks], "value": [k[1] for k in weeks], "wk": [k[2] for k in weeks],
                   "bits": [bm.serialize() for bm in weeks.values()]})  # fmt: skip
    con.execute("CREATE TEMP TABLE vw AS SELECT * FROM wk ORDER BY kind, wk, value")
    print(
        f"week bitmaps: {len(wk):,}, {sum(len(x) for x in wk.column('bits').to_pylist()) / 1e6:.0f} MB, "
        f"{time.perf_counter() - t:.1f} s",
        flush=True,
    )
    w_lo, w_hi = -(-lo // 7), (hi + 1) // 7 - 1  # the whole weeks inside [lo, hi]

    def with_weeks() -> float:
        total = 0.0
        for kind in kinds():
            t = time.perf_counter()
            rows = con.execute(
                f"SELECT value, list(bits) FROM (SELECT value, bits FROM vw WHERE kind = ? AND wk BETWEEN {w_lo} AND {w_hi} "
                f"UNION ALL SELECT value, bits FROM vb WHERE kind = ? AND dn BETWEEN {lo} AND {hi} "
                f"AND (dn < {7 * w_lo} OR dn > {7 * w_hi + 6})) GROUP BY value", [kind, kind]).fetchall()  # fmt: skip
            got = {v: len(BitMap.union(*[BitMap.deserialize(b) for b in bs])) for v, bs in rows}
            total += time.perf_counter() - t
            assert got == answer(every[kind], lo, hi), kind
        return total

    print(
        f"every kind from week and day rows: {', '.join(f'{with_weeks() * 1000:.0f}' for _ in range(3))} ms",
        flush=True,
    )
    # The held round, as a writer round: grouped in DuckDB, ORed in, the touched bitmaps
    # serialized (what a store would write back).
    # The round's events alone, as the writer holds them (its hand-over file).
    con.execute(f"CREATE TEMP TABLE rnd AS SELECT * FROM ev WHERE ts >= TIMESTAMP '{cut}'")
    t, c = time.perf_counter(), time.process_time()
    grouped = ORed = ser = 0.0
    touched_bytes = touched_n = 0
    written: list[tuple[str, str, int, bytes]] = []
    for kind, expr in kinds().items():
        g = time.perf_counter()
        rows = groups(
            con,
            f"SELECT DISTINCT CAST({expr} AS VARCHAR) AS value, {dn} AS dn, vn.vno FROM rnd JOIN vn USING (visitor_id)",
        )
        o = time.perf_counter()
        touched = add(every[kind], rows)
        s = time.perf_counter()
        blobs = [every[kind][k].serialize() for k in touched]
        written += [(kind, v, d, b) for (v, d), b in zip(touched, blobs, strict=True)]
        e = time.perf_counter()
        grouped, ORed, ser = grouped + o - g, ORed + s - o, ser + e - s
        touched_n += len(blobs)
        touched_bytes += sum(len(b) for b in blobs)
    w = time.perf_counter()
    back = pa.table({"kind": [r[0] for r in written], "value": [r[1] for r in written],  # noqa: F841 (read by name in SQL)
                     "dn": [r[2] for r in written], "bits": [r[3] for r in written]})  # fmt: skip
    con.execute("DELETE FROM vb WHERE (kind, value, dn) IN (SELECT (kind, value, dn) FROM back)")
    con.execute("INSERT INTO vb SELECT * FROM back")
    print(f"  the touched rows written back: {time.perf_counter() - w:.2f} s", flush=True)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"fold of {args.round:,} events: {wall:.2f} s wall, {cpu:.2f} CPU s ({cpu / args.round * 1e6:.1f} us an event): "
          f"grouping {grouped:.2f} s, ORs {ORed:.2f} s, serializing {touched_n:,} touched bitmaps "
          f"({touched_bytes / 1e6:.1f} MB) {ser:.2f} s", flush=True)  # fmt: skip
    check("after the round", "true")
    print(
        f"every kind read from the stored rows and unioned: {from_store() * 1000:.0f} ms",
        flush=True,
    )
    print(f"peak RSS {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
