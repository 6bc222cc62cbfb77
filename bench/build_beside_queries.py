# ruff: noqa: E501  (commands read better unwrapped)
"""A site's first rollups build with a dashboard polled back to back beside it (issue 25):
this tree's store against a baseline's, on copies of the same store, alternated.

Right after a bulk load a site is read from raw events until its first build ends, and
a dashboard loaded meanwhile shares DuckDB's threads with that build. Each run, in a
child process (DuckDB at 448 MiB, 2 threads, as a small server's): open the store with
its rollups dropped, start ``--readers`` threads that run raw statements like the
dashboard's panels (top stats, pages, entry pages, sources, devices) back to back through
the store's ``query``, and run the rollups job; when its build ends, the readers stop.
Printed: the build's wall seconds, the process's CPU seconds meanwhile, how many raw
statements ran, their median wall; and the build's wall as a ratio of the baseline's.

    python bench/build_beside_queries.py --store STORE.duckdb --baseline /tmp/base [--reps 3] [--readers 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

from procs import on_copy

CHILD = """
import json, statistics, sys, threading, time
from footfall.query.rollup import spec
from footfall.store.duckdb import DuckDBStore
path, readers = sys.argv[1], int(sys.argv[2])
store = DuckDBStore(path, threads=2, memory_limit="448MiB")
store.open()
site, tz = store.query("SELECT site_id, timezone FROM rollup_state LIMIT 1")[0]
store.query("DELETE FROM rollup_state")
store._rollup_states = None
lo = store.query("SELECT max(ts) - INTERVAL 28 DAY FROM events")[0][0]
panels = [
    "SELECT count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') FROM events WHERE site_id = ? AND ts >= ?",
    "SELECT pathname, count(DISTINCT visitor_id) AS v FROM events WHERE site_id = ? AND ts >= ? GROUP BY 1 ORDER BY v DESC LIMIT 10",
    "SELECT entry_page, count(DISTINCT visitor_id) AS v, count(*) FROM sessions WHERE site_id = ? AND start_ts >= ? GROUP BY 1 ORDER BY v DESC LIMIT 10",
    "SELECT referrer_source, count(DISTINCT visitor_id) AS v FROM sessions WHERE site_id = ? AND start_ts >= ? GROUP BY 1 ORDER BY v DESC LIMIT 10",
    "SELECT device, count(DISTINCT visitor_id) AS v FROM events WHERE site_id = ? AND ts >= ? GROUP BY 1 ORDER BY v DESC LIMIT 10",
    "SELECT ts::DATE, count(DISTINCT visitor_id) FROM events WHERE site_id = ? AND ts >= ? GROUP BY 1",
]
done, walls = threading.Event(), []
def reader(i):
    k = i
    while not done.is_set():
        t = time.perf_counter()
        store.query(panels[k % len(panels)], [site, lo])
        walls.append(time.perf_counter() - t)
        k += 1
threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
for t in threads:
    t.start()
wall, cpu = time.perf_counter(), time.process_time()
result = store.maintain_rollups({site: tz}, spec())
out = {"build_wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
       "queries": len(walls), "query_p50": statistics.median(walls) if walls else 0.0,
       "built": result["built"], "code": __import__("footfall").__file__}
done.set()
for t in threads:
    t.join()
print("BENCHJSON " + json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True, type=Path, help="a DuckDB file with built rollups")
    ap.add_argument("--baseline", required=True, help="a tree with main's footfall/ package")
    ap.add_argument("--readers", type=int, default=6)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"branch": [], "baseline": []}
    for rep in range(args.reps):
        for name, code in (("branch", None), ("baseline", args.baseline)):
            r = on_copy(CHILD, args.store, args.readers, code)
            runs[name].append(r)
            print(f"rep {rep} {name}: build {r['build_wall']:.1f} s wall, {r['cpu']:.1f} CPU s, "
                  f"{r['queries']} raw statements beside it (p50 {r['query_p50']:.2f} s) ({r['code']})", flush=True)  # fmt: skip
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("build_wall", "cpu", "queries", "query_p50")}
           for n, rs in runs.items()}  # fmt: skip
    b, s = med["branch"], med["baseline"]
    print(f"medians: build wall {b['build_wall']:.1f} s against {s['build_wall']:.1f} s "
          f"({b['build_wall'] / s['build_wall']:.2f}x); CPU {b['cpu']:.1f} against {s['cpu']:.1f} s; "
          f"raw statements {b['queries']:.0f} against {s['queries']:.0f} (p50 {b['query_p50']:.2f} against "
          f"{s['query_p50']:.2f} s); load average {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
