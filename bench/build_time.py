"""What a full rollups build costs on a large store (issue 25): wall and CPU seconds.

On a copy of a ``bench/query.py`` store (``--generate-only``), in this process with the
server's defaults (DuckDB 448 MiB, 2 threads): the rollups are dropped and built again as
the rollups job builds a site after a bulk load. Run it under two trees (``PYTHONPATH``)
alternately to compare them; printed: the tree, the build's wall and CPU seconds, the
file's size after a checkpoint; with ``--steps``, each of the build's steps (a kind and
window of ``reach``, a block of the day sums, ...) and the totals by table. The store may
also be one ``bench/footprint.py --keep`` left (``DIR/10000000/default``: 1M visitors
drawn at random per event, nearly every pair of page and visitor new).

    PYTHONPATH=<tree> python bench/build_time.py [--steps]
        [--store /tmp/footfall-bench-query/10000000-28d]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import open_copy  # noqa: E402

import footfall  # noqa: E402
from footfall.query.rollup import spec  # noqa: E402


def time_steps(show: bool) -> dict[str, list[float]]:
    """Time each build step (``rollups_build.run_step``): wall and CPU seconds by table."""
    from footfall.store.duckdb import rollups_build
    from footfall.store.duckdb.rollups_upkeep import run_step as run

    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])

    def timed(cur_factory: Any, statements: Sequence[tuple[str, list[Any]]],
              should_stop: Callable[[], bool] = lambda: False) -> None:  # fmt: skip
        wall, cpu = time.perf_counter(), time.process_time()
        run(cur_factory, statements, should_stop)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        table = statements[0][0].split()[2]
        kinds = [p for p in statements[0][1][:2] if isinstance(p, str) and ":" in p]
        if show:
            kind = kinds[0] if kinds else ""
            print(f"  {table} {kind}: {wall:.2f} s, {cpu:.2f} CPU s", flush=True)
        totals[table][0] += 1
        totals[table][1] += wall
        totals[table][2] += cpu

    rollups_build.run_step = timed  # type: ignore[attr-defined]
    return totals


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/tmp/footfall-bench-query/10000000-28d", type=Path)
    ap.add_argument("--copy", default="/tmp/build-time.duckdb", type=Path)
    ap.add_argument("--steps", action="store_true", help="print each step's time")
    args = ap.parse_args()
    totals = time_steps(args.steps)
    store, manifest = open_copy(args.store, args.copy)
    store.con.execute("DELETE FROM rollup_state")
    store.con.execute("CHECKPOINT")
    store._rollup_states = None
    wall, cpu = time.perf_counter(), time.process_time()
    store.maintain_rollups({manifest["site_id"]: manifest["tz"]}, spec())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.con.execute("CHECKPOINT")
    store.close()
    print(f"{Path(footfall.__file__).parent}: build {wall:.1f} s wall, {cpu:.1f} CPU s; "
          f"file {args.copy.stat().st_size / 1e6:,.0f} MB", flush=True)  # fmt: skip
    for table, (n, w, c) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        print(f"  {table}: {int(n)} steps, {w:.1f} s, {c:.1f} CPU s")


if __name__ == "__main__":
    main()
