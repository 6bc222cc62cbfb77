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


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants."""
    tick, total, todo = os.sysconf("SC_CLK_TCK"), 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        todo.extend(int(k) for k in kids)
    return total / tick


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--code-baseline", type=Path, default=None,
        help="a checkout whose footfall package is also started (alternated) on both",
    )  # fmt: skip
    args = ap.parse_args()
    runs: list[tuple[str, dict[str, str]]] = [("", {})]
    if args.code_baseline:
        runs.append((" (code)", {"PYTHONPATH": str(args.code_baseline.resolve())}))
    times: dict[str, list[float]] = {f"{k}{s}": [] for s, _ in runs for k in ("empty", "full")}
    load = [os.getloadavg()[0]]
    cpu: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "data"
        empty.mkdir()
        make_site(empty)
        for _ in range(args.reps):
            for suffix, env in runs:
                for kind, data in (("empty", empty), ("full", args.data)):
                    name = kind + suffix
                    proc, took = start(data, free_port(), env, Path(tmp) / f"{kind}.log")
                    used = tree_cpu(proc.pid)  # less distorted by the machine's load
                    stop_server(proc, grace=600)
                    times[name].append(took)
                    cpu.setdefault(name, []).append(used)
                    print(f"{name}: {took:.2f} s, {used:.2f} s CPU", flush=True)
            load.append(os.getloadavg()[0])
    size = (args.data / "events.duckdb").stat().st_size
    print(f"\nload average {min(load):.1f}-{max(load):.1f}; events.duckdb {size / 1e6:,.0f} MB")
    for name, values in times.items():
        print(f"start to /api/health, {name}: median {statistics.median(values):.2f} s "
              f"(min {min(values):.2f}, max {max(values):.2f}); CPU of the server's "
              f"processes by then: median {statistics.median(cpu[name]):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
