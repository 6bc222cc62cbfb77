# ruff: noqa: E501  (SQL reads better unwrapped)
"""What a seal of the newest events costs on a large store, and what the dashboard costs
while they are pending (issue 25).

On a copy of a ``bench/query.py`` store (``--generate-only``), in this process with the
server's defaults (DuckDB 448 MiB, 2 threads): the events of the last ``--hours`` are held
back, the rollups are built from the rest, then the held events are added again and their
visitors listed as pending, as the writer leaves them after a load in time order. Printed:
the build's wall and CPU seconds; the dashboard set (bench/query.py's, loaded in parallel)
while they are pending, which corrects the rollups from raw events; the seal of all of
them in one transaction, its CPU by statement; the set after it.

    python bench/seal_day.py [--store /tmp/footfall-bench-query/10000000-28d] [--hours 24]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import hold_back, open_copy  # noqa: E402
from query import InProcess, dashboard_set, site_info  # noqa: E402

from footfall.query.rollup import spec  # noqa: E402
from footfall.query.runner import QueryRunner  # noqa: E402
from footfall.store.duckdb import rollups as duckdb_rollups  # noqa: E402

CPU: dict[str, float] = collections.defaultdict(float)


class TimedCursor:
    """A cursor that adds each statement's process CPU seconds to CPU, by its first words."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur

    def execute(self, sql: str, params: Any = None) -> Any:
        key, began = " ".join(sql.split())[:70], time.process_time()
        out = self.cur.execute(sql, params) if params is not None else self.cur.execute(sql)
        CPU[key] += time.process_time() - began
        return out


def timed(label: str, fn: Any) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    print(
        f"{label}: {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} CPU s",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/tmp/footfall-bench-query/10000000-28d", type=Path)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--copy", default="/tmp/seal-day.duckdb", type=Path)
    args = ap.parse_args()
    store, manifest = open_copy(args.store, args.copy)
    site, tz, con = manifest["site_id"], manifest["tz"], store.con
    hold_back(store, store.query("SELECT max(ts) FROM events")[0][0] - timedelta(hours=args.hours))
    timed("build", lambda: store.maintain_rollups({site: tz}, spec()))
    held, visitors = con.execute(
        "SELECT count(*), count(DISTINCT visitor_id) FROM _held"
    ).fetchall()[0]
    print(f"held back: {held:,} events of {visitors:,} visitors", flush=True)
    con.execute("INSERT INTO events SELECT * FROM _held")
    con.execute("INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) "
                "SELECT site_id, visitor_id, min(ts), max(ts) FROM _held GROUP BY ALL")  # fmt: skip
    con.execute("DROP TABLE _held")
    con.execute("CHECKPOINT")
    store._rollup_states = None
    sets = InProcess(QueryRunner(store, rollups=True), site_info(manifest),
                     dashboard_set(site, manifest["end_date"], 28))  # fmt: skip

    def show(label: str) -> None:
        for _ in range(2):
            wall, times, _ = sets.parallel()
            print(
                f"set {label}: {wall:.2f} s wall, {sets.cpu[-1]:.1f} CPU s, slowest panel {max(times.values()):.2f} s",
                flush=True,
            )

    show("while pending")

    def seal() -> None:
        cur = con.cursor()
        cur.execute("BEGIN")
        upto = cur.execute("SELECT max(seq) FROM rollup_pending").fetchall()[0][0]
        duckdb_rollups.seal_site(TimedCursor(cur), site, tz, spec(), upto)
        cur.execute("DELETE FROM rollup_pending")
        cur.execute("COMMIT")

    timed("seal (one transaction)", seal)
    for key, cpu in sorted(CPU.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {cpu:6.2f} CPU s  {key}")
    show("after the seal")
    store.close()


if __name__ == "__main__":
    main()
