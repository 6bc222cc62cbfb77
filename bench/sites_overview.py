"""The all-sites page's figures (``footfall.query.overview.trends``) for many sites: this
tree against a baseline tree, in alternating child processes, on one DuckDB store.

    .venv/bin/python bench/sites_overview.py [--sites 20] [--events 100000] [--days 180]
        [--range 30d] [--reps 5] [--base DIR] [--keep]

``--base`` is a copy of the baseline's package (default: ``git archive main footfall``
into /tmp/quality-base, made here). The store (``--sites`` sites of ``--events`` events
each, ``bench/synth.py``, over ``--days`` days ending now) is generated once under
/tmp/quality-overview (``--keep`` reuses it) and its exact rollups are built, as the
rollups job would, so the baseline's per-site ``QueryRunner.answer`` calls get their fast
path. Each repetition runs the baseline and then this tree, each in a fresh process that
opens the store, answers the page once to warm up and then ``--inner`` times, and prints
process CPU seconds (every thread: ``getrusage``), wall seconds and calls of the store's
``query`` (the baseline's rollup reads go through ``snapshot``, uncounted); the figures
are medians over repetitions, with the ratio this tree / baseline.
Both trees' answers are compared (they must be equal).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STORE = Path("/tmp/quality-overview")


def _prepare(args: argparse.Namespace) -> None:
    """The store: ``--sites`` synthetic sites in a few time zones, rollups built."""
    sys.path.insert(0, str(ROOT / "bench"))
    from synth import Spec, generate

    from footfall.meta.repo import Metadata
    from footfall.query.rollup import spec
    from footfall.store.duckdb import DuckDBStore

    if args.keep and (STORE / "sites.json").exists():
        return
    shutil.rmtree(STORE, ignore_errors=True)
    STORE.mkdir(parents=True)
    meta = Metadata(f"sqlite:///{STORE / 'meta.sqlite3'}")
    meta.migrate()
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    sites = [meta.create_site(f"Site {i}", [f"s{i}.example"], zones[i % len(zones)])[0]
             for i in range(args.sites)]  # fmt: skip
    meta.close()
    store = DuckDBStore(STORE / "events.duckdb", memory_limit="4GiB")
    store.open()
    t = time.perf_counter()
    for i, site in enumerate(sites):
        generate(store.con, Spec(site.id, args.events, args.days, seed=i + 1), log=lambda *_: None)
    store.maintain_rollups({s.id: s.timezone for s in sites}, spec())
    store.close()
    listing = [[s.id, s.name, s.timezone] for s in sites]
    (STORE / "sites.json").write_text(json.dumps(listing))
    print(f"generated {args.sites} x {args.events:,} events and built rollups in "
          f"{time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip


def _measure(args: argparse.Namespace) -> None:
    """Child: open the store, answer the page ``--inner`` times, print one JSON line."""
    from footfall.meta.repo import SiteInfo
    from footfall.query import overview
    from footfall.query.runner import QueryRunner
    from footfall.store.duckdb import DuckDBStore

    store = DuckDBStore(STORE / "events.duckdb")
    store.open()
    sent = [0]
    real = store.query

    def counted(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        sent[0] += 1
        return real(sql, params)

    store.query = counted  # type: ignore[method-assign]
    sites = [SiteInfo(i, n, (), tz, datetime(2024, 1, 1))
             for i, n, tz in json.loads((STORE / "sites.json").read_text())]  # fmt: skip
    runner = QueryRunner(store)
    now = datetime.now(UTC)
    first = overview.trends(runner, sites, args.range, now)  # warm-up, and the answer
    sent[0] = 0
    cpu0, wall0 = _cpu(), time.perf_counter()
    for _ in range(args.inner):
        overview.trends(runner, sites, args.range, now)
    cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    answer = {k: [t.visitors, t.previous, t.change, list(t.series)] for k, t in first.items()}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"cpu_s": cpu / args.inner, "wall_s": wall / args.inner,
                      "query_calls": sent[0] / args.inner, "peak_rss": peak,
                      "answer": answer}))  # fmt: skip
    store.close()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return r.ru_utime + r.ru_stime


def _child(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--measure", "--range", args.range, "--inner", str(args.inner)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sites", type=int, default=20)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--days", type=int, default=180)
    p.add_argument("--range", default="30d")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--inner", type=int, default=5)
    p.add_argument("--base", type=Path, default=Path("/tmp/quality-base"))
    p.add_argument("--keep", action="store_true")
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        return _measure(args)
    if not (args.base / "footfall").exists():
        args.base.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "main", "footfall"],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(args.base)], input=archive, check=True)
    _prepare(args)
    runs: dict[str, list[dict[str, Any]]] = {"base": [], "this": []}
    for _ in range(args.reps):  # alternate, so both see the same machine
        runs["base"].append(_child(args.base, args))
        runs["this"].append(_child(ROOT, args))
    assert runs["base"][0]["answer"] == runs["this"][0]["answer"], "the trees disagree"
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("cpu_s", "wall_s",
               "query_calls", "peak_rss")} for k, v in runs.items()}  # fmt: skip
    print(
        f"{args.sites} sites x {args.events:,} events, range {args.range}, "
        f"medians of {args.reps} runs x {args.inner}; load {os.getloadavg()[0]:.1f}"
    )
    for k in ("base", "this"):
        m = med[k]
        print(f"  {k:5} cpu {m['cpu_s'] * 1000:8.1f} ms  wall {m['wall_s'] * 1000:8.1f} ms  "
              f"query() calls {m['query_calls']:4.0f}  "
              f"peak RSS {m['peak_rss'] / 2**20:6.0f} MiB")  # fmt: skip
    b, t = med["base"], med["this"]
    print(f"  this/base: cpu {t['cpu_s'] / b['cpu_s']:.2f}x  wall {t['wall_s'] / b['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
