"""Start time of ``footfall serve`` on a full data directory (issue 25: within 2 s at 10M).

Alternates starts on an empty data directory (the baseline: Python, the app, an empty
store) and on ``--data`` (a data directory with a ``meta.sqlite3``, for example from
``bench/query.py --generate-only``: ``DIR/data``), timing each from exec to the first
``/api/health`` 200, and prints the medians and the file's size.

    .venv/bin/python bench/start_time.py --data DIR/data [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent))

from footprint import free_port, make_site, start  # noqa: E402
from query import stop_server  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    times: dict[str, list[float]] = {"empty": [], "full": []}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "data"
        empty.mkdir()
        make_site(empty)
        for _ in range(args.reps):
            for name, data in (("empty", empty), ("full", args.data)):
                proc, took = start(data, free_port(), {}, Path(tmp) / f"{name}.log")
                stop_server(proc, grace=600)
                times[name].append(took)
                print(f"{name}: {took:.2f} s", flush=True)
            load.append(os.getloadavg()[0])
    size = (args.data / "events.duckdb").stat().st_size
    print(f"\nload average {min(load):.1f}-{max(load):.1f}; events.duckdb {size / 1e6:,.0f} MB")
    for name, values in times.items():
        print(f"start to /api/health, {name}: median {statistics.median(values):.2f} s "
              f"(min {min(values):.2f}, max {max(values):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
