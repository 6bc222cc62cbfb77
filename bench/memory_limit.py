# ruff: noqa: E501  (tables read better unwrapped)
"""The dashboard under DuckDB memory limits (issue 25): speed and peak RSS per limit.

On a store made by ``bench/query.py --generate-only`` (its rollups built here if they are
not), each round runs one child process per limit, alternating, so the machine's drift
hits every limit alike. A child opens the store with that ``memory_limit``, runs the
dashboard set (bench/query.py's ``dashboard_set``, 6 queries at a time) once to warm up
and then ``--sets`` times, and reports each set's wall time and its own peak RSS. The
limit "none" is DuckDB's own default (80% of RAM), the baseline of the ratios.

    .venv/bin/python bench/query.py --events 10000000 --days 28 --generate-only --dir D
    .venv/bin/python bench/memory_limit.py --dir D [--limits none,512MiB,384MiB] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent))

from query import InProcess, dashboard_set, pct, site_info  # noqa: E402


def child(args: argparse.Namespace) -> None:
    from footfall.query.runner import QueryRunner
    from footfall.store.duckdb import DuckDBStore

    manifest = json.loads((Path(args.dir) / "manifest.json").read_text())
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = f"{int(ram * 0.8) >> 20}MiB" if args.limit == "none" else args.limit
    store = DuckDBStore(Path(args.dir) / "data" / "events.duckdb", memory_limit=limit)
    store.open()
    try:
        queries = dashboard_set(manifest["site_id"], manifest["end_date"], args.range_days)
        sets = InProcess(QueryRunner(store), site_info(manifest), queries)
        sets.parallel()  # warm
        walls = [sets.parallel()[0] for _ in range(args.sets)]
        sets.close()
    finally:
        store.close()
    print(json.dumps({"walls": walls, "peak_rss": peak_rss()}))


def peak_rss() -> int:
    """This process's peak resident bytes. Not ``getrusage``'s ``ru_maxrss``: Linux keeps
    that across exec, so each child reported its parent's peak (the rollups build of
    ``ensure_rollups``, 715 MiB at 10M, whatever the limit)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def ensure_rollups(directory: Path) -> None:
    from footfall.query.rollup import spec
    from footfall.store.duckdb import DuckDBStore

    manifest = json.loads((directory / "manifest.json").read_text())
    store = DuckDBStore(directory / "data" / "events.duckdb")
    store.open()
    try:
        t = time.perf_counter()
        sites = {manifest["site_id"]: manifest["tz"], manifest["ingest_site_id"]: "UTC"}
        built = store.maintain_rollups(sites, spec())["built"]
        if built:
            print(f"rollups built in {time.perf_counter() - t:.0f} s", flush=True)
        store.query("CHECKPOINT")
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dir", required=True)
    ap.add_argument("--limits", default="none,512MiB,384MiB")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sets", type=int, default=5)
    ap.add_argument("--range-days", type=int, default=28)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--limit", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    ensure_rollups(Path(args.dir))
    limits = args.limits.split(",")
    walls: dict[str, list[float]] = {n: [] for n in limits}
    peaks: dict[str, list[int]] = {n: [] for n in limits}
    load = [os.getloadavg()[0]]
    for r in range(args.rounds):
        for limit in limits:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--dir", args.dir, "--limit", limit,
                 "--sets", str(args.sets), "--range-days", str(args.range_days)],
                check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            got = json.loads(out.strip().splitlines()[-1])
            walls[limit] += got["walls"]
            peaks[limit].append(got["peak_rss"])
            print(f"round {r + 1} {limit}: set p50 {pct(got['walls'], 0.5) * 1000:,.0f} ms, "
                  f"peak RSS {got['peak_rss'] / 2**20:,.0f} MiB", flush=True)  # fmt: skip
        load.append(os.getloadavg()[0])
    base = limits[0]
    print(
        f"\nload average {min(load):.1f}-{max(load):.1f}; {args.rounds} rounds x {args.sets} warm sets per limit\n"
    )
    print("| limit | set p50 (ms) | set p95 (ms) | p95 / " + base + " | peak RSS, median (MiB) |")
    print("|---|---|---|---|---|")
    for limit in limits:
        p95 = pct(walls[limit], 0.95)
        print(f"| {limit} | {pct(walls[limit], 0.5) * 1000:,.0f} | {p95 * 1000:,.0f} | "
              f"{p95 / pct(walls[base], 0.95):.2f}× | {statistics.median(peaks[limit]) / 2**20:,.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
