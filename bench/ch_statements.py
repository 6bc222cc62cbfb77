"""Per statement CPU of the dashboard set on a ``bench/query.py --store chdb`` copy.

    .venv/bin/python bench/ch_statements.py --dir /tmp/footfall-bench-query/2000000-90d \
        [--reps 5] [--store chdb|duckdb] [--sql] [--only top_stats,pages] [--max-threads 1]
        [--ab first_days | --ab-setting max_threads=1]

Runs each query of ``bench/query.py``'s dashboard set one after another ``--reps`` times
on the ClickHouse copy kept under ``<dir>/clickhouse`` (or the DuckDB store), recording
every statement the store runs with this process's CPU time (every thread, so chdb's own
threads count) and wall time; prints the median per query and per statement. The copy
must exist (run ``bench/query.py --keep --store chdb`` once); its daily rollups are built
here when missing, as the rollups job would. ``--ab FLAG`` runs every repetition twice,
with the store's capability ``FLAG`` on and off (order alternating), and prints each
query's median CPU both ways: a figure and its baseline from one process and one copy;
``--ab-setting NAME=VALUE`` alternates a ClickHouse setting (on this thread's session)
with its default the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--store", choices=("chdb", "duckdb"), default="chdb")
    ap.add_argument("--sql", action="store_true", help="print each statement's SQL")
    ap.add_argument("--only", default="", help="comma-separated query names")
    ap.add_argument("--max-threads", type=int, default=0, help="ClickHouse max_threads")
    ap.add_argument("--ab", default="", help="a Capabilities flag to alternate on and off")
    ap.add_argument(
        "--ab-setting",
        default="",
        help="NAME=VALUE: a ClickHouse setting to alternate with its default",
    )
    args = ap.parse_args()
    if args.max_threads:
        from footfall.store.clickhouse import transport

        transport.SESSION_SETTINGS["max_threads"] = args.max_threads

    from query import dashboard_set, site_info  # bench/query.py

    from footfall.query.model import parse_query
    from footfall.query.runner import QueryRunner

    root = Path(args.dir)
    manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text())
    queries = dashboard_set(manifest["site_id"], manifest["end_date"], 30)
    if args.only:
        keep = set(args.only.split(","))
        queries = [q for q in queries if q[0] in keep]
    store = _open(args.store, root)
    stats: dict[str, list[tuple[float, float]]] = defaultdict(list)
    current = [""]
    inner = store.query

    def query(sql: str, params: Any = ()) -> Any:
        c, t = time.process_time(), time.perf_counter()
        try:
            return inner(sql, params)
        finally:
            key = f"{current[0]} | {sql}"
            stats[key].append((time.process_time() - c, time.perf_counter() - t))

    store.query = query  # type: ignore[method-assign]
    runner = QueryRunner(store)
    site = site_info(manifest)
    per_query: dict[str, list[float]] = defaultdict(list)
    if args.ab and args.ab_setting:
        sys.exit("--ab and --ab-setting: one at a time")
    setting, _, value = args.ab_setting.partition("=")
    flag = args.ab or (f"{setting}={value}" if setting else "")
    modes = [True, False] if flag else [True]
    base = store.capabilities
    try:
        for rep in range(args.reps + 1):  # the first repetition warms caches: not counted
            if rep == 1:
                stats.clear()
            for on in modes if rep % 2 else modes[::-1]:
                if args.ab:
                    store.capabilities = dataclasses.replace(base, **{args.ab: on})
                if setting:  # the session of this thread's answers (the store's reads)
                    store.ch.read(f"SET {setting} = {value if on else 'DEFAULT'}")
                for name, body in queries:
                    label = name if on or not flag else f"{name} (no {flag})"
                    current[0] = label
                    c = time.process_time()
                    runner.run(parse_query(body), site)
                    if rep:
                        per_query[label].append(time.process_time() - c)
    finally:
        store.close()
    if flag:
        _ab(per_query, flag)
    total = 0.0
    print(f"{'query':<20} CPU ms (median of {args.reps})")
    for name, cpus in per_query.items():
        med = statistics.median(cpus) * 1000
        total += med
        print(f"{name:<20} {med:8.1f}")
        for key, vals in stats.items():
            if key.startswith(name + " | "):
                n = len(vals) // args.reps
                cpu = statistics.median(v[0] for v in vals) * 1000
                wall = statistics.median(v[1] for v in vals) * 1000
                sql = key.split(" | ", 1)[1]
                shown = sql if args.sql else sql[:110].replace("\n", " ")
                print(f"    {cpu:7.1f} cpu {wall:7.1f} wall x{n}  {shown}")
    print(f"{'set':<20} {total:8.1f}")


def _ab(per_query: dict[str, list[float]], flag: str) -> None:
    """Each query's median CPU with the flag on and off, and their ratio."""
    on_total = off_total = 0.0
    print(f"{'query':<20} {flag + ' on':>12} {'off':>8} {'on/off':>7} (CPU ms, medians)")
    for name, cpus in per_query.items():
        off = per_query.get(f"{name} (no {flag})")
        if off is None:
            continue
        a, b = statistics.median(cpus) * 1000, statistics.median(off) * 1000
        on_total, off_total = on_total + a, off_total + b
        print(f"{name:<20} {a:12.1f} {b:8.1f} {a / b:7.2f}")
    print(f"{'set':<20} {on_total:12.1f} {off_total:8.1f} {on_total / off_total:7.2f}")


def _open(kind: str, root: Path) -> Any:
    if kind == "duckdb":
        from footfall.store.duckdb import DuckDBStore

        store = DuckDBStore(root / "data" / "events.duckdb")
        store.open()
        return store
    from footfall.query.dialects import CLICKHOUSE
    from footfall.query.rollup import spec
    from footfall.store.clickhouse.store import ClickHouseStore
    from footfall.store.clickhouse.target import ClickHouseTarget

    ch = ClickHouseStore(ClickHouseTarget(path=str(root / "clickhouse")))
    ch.open()
    ch.migrate()
    ch.maintain_rollups({}, spec(CLICKHOUSE))
    return ch


if __name__ == "__main__":
    main()
