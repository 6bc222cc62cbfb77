"""What a full rollups build costs on a large store (issue 25): wall and CPU seconds.

On a copy of a ``bench/query.py`` store (``--generate-only``), in this process with the
server's defaults (DuckDB 448 MiB, 2 threads): the rollups are dropped and built again as
the rollups job builds a site after a bulk load. Run it under two trees (``PYTHONPATH``)
alternately to compare them; printed: the tree, the build's wall and CPU seconds, the
file's size after a checkpoint.

    PYTHONPATH=<tree> python bench/build_time.py [--store /tmp/footfall-bench-query/10000000-28d]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import open_copy  # noqa: E402

import footfall  # noqa: E402
from footfall.query.rollup import spec  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="/tmp/footfall-bench-query/10000000-28d", type=Path)
    ap.add_argument("--copy", default="/tmp/build-time.duckdb", type=Path)
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
