# ruff: noqa: E501  (commands read better unwrapped)
"""What one rollups seal costs: this tree's ``seal_site`` against a baseline's, on copies
of the same store, alternated (issue 25).

The store must have built rollups and rows in ``rollup_pending`` (a DuckDB file kept from
``bench/footprint.py --keep`` while a load was still pending, say). ``--rows N`` seals
only the first N pending rows, in the order the writer listed them: in a load in time
order, that is a fold of N events' visits; without it, every pending row. Each seal runs
in a child process (DuckDB at ``--memory-limit``, 512 MiB by default, 2 threads, as a
small server's) inside a transaction it rolls back; the figure is that process's CPU
seconds, the reach rows it appended, and the ratio to the baseline's median. A seal that
runs out of the limit is reported as such (lower the limit to find what a seal needs).

    python bench/seal_fold.py --store STORE.duckdb --baseline /tmp/fold-main [--rows 80000] [--reps 2]
                              [--memory-limit 256MiB]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

from procs import on_copy

CHILD = """
import json, os, sys, time, duckdb
from footfall.query.rollup import spec
from footfall.store.duckdb import rollups
path, rows = sys.argv[1], int(sys.argv[2])
limit = os.environ.get("SEAL_MEMORY_LIMIT", "512MiB")
con = duckdb.connect(path, config={"memory_limit": limit, "threads": "2"})
cur = con.cursor()
cur.execute("BEGIN")
site, tz = cur.execute("SELECT site_id, timezone FROM rollup_state LIMIT 1").fetchall()[0]
lo, hi = cur.execute("SELECT min(seq), max(seq) FROM rollup_pending").fetchall()[0]
upto = hi if rows <= 0 else min(hi, lo + rows - 1)
wall, cpu = time.perf_counter(), time.process_time()
try:
    visitors, appended = rollups.seal_site(cur, site, tz, spec(), upto)
except duckdb.OutOfMemoryException:
    print("BENCHJSON " + json.dumps({"oom": limit, "code": rollups.__file__}))
    sys.exit(0)
out = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
       "visitors": visitors, "appended": appended, "code": rollups.__file__}
cur.execute("ROLLBACK")
print("BENCHJSON " + json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--baseline", required=True, help="a tree with main's footfall/ package")
    ap.add_argument("--rows", type=int, default=0, help="pending rows to seal (0: all)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--memory-limit", default="512MiB", help="DuckDB's limit for each seal")
    args = ap.parse_args()
    os.environ["SEAL_MEMORY_LIMIT"] = args.memory_limit
    runs: dict[str, list[dict[str, Any]]] = {"branch": [], "baseline": []}
    for rep in range(args.reps):
        # This tree's package, whichever footfall the interpreter has installed.
        for name, code in (
            ("branch", str(Path(__file__).resolve().parent.parent)),
            ("baseline", args.baseline),
        ):
            r = on_copy(CHILD, args.store, args.rows, code)
            if "oom" in r:
                print(f"rep {rep} {name}: out of memory at {r['oom']} ({r['code']})", flush=True)
                continue
            runs[name].append(r)
            print(f"rep {rep} {name}: {r['cpu']:.2f} s CPU, {r['wall']:.2f} s wall, "
                  f"{int(r['visitors']):,} visitors, {int(r['appended']):,} reach rows written ({r['code']})", flush=True)  # fmt: skip
    if not all(runs.values()):
        return
    cpu = {n: statistics.median(r["cpu"] for r in rs) for n, rs in runs.items()}
    rows = {n: statistics.median(r["appended"] for r in rs) for n, rs in runs.items()}
    print(f"seal CPU median: branch {cpu['branch']:.2f} s, baseline {cpu['baseline']:.2f} s, "
          f"ratio {cpu['branch'] / cpu['baseline']:.2f}x; reach rows written {rows['branch']:,.0f} "
          f"against {rows['baseline']:,.0f}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
