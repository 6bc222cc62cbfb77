"""Where a ``footfall worker`` round's wall time goes: a bench-only hook.

Run a worker as ``python bench/round_trace.py OUT.jsonl worker [args]``: it patches the
ClickHouse HTTP transport and the worker's round in this process only, then runs the
ordinary command line. Each store request (its kind: the statement's first words, or the
table of an insert) and each whole round is written to ``OUT.jsonl`` as one JSON line
``{"what", "ms", "cpu_ms", "round"}``; ``python bench/round_trace.py --sum OUT.jsonl``
sums them per kind. Nothing of the product changes: the hook wraps methods from outside.
``ROUND_TRACE_NO_RENEW=1`` also turns off the lease renewal thread of a round (an A/B of
its cost; rounds must then stay shorter than a lease).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_round = [0]


def _kind(sql: str) -> str:
    words = re.sub(r"\s+", " ", sql.strip())
    head = words[:60]
    for key in ("DELETE FROM", "TRUNCATE TABLE", "INSERT INTO"):
        if head.upper().startswith(key):
            return " ".join(words.split(" ")[:3])
    match = re.search(r"\bFROM (\w+)", words)
    return f"SELECT .. FROM {match.group(1) if match else '?'}"


def install(out: Path) -> None:
    from footfall.store.clickhouse import transport
    from footfall.worker import loop

    sink = out.open("a", buffering=1)

    def note(what: str, t0: float, c0: float) -> None:
        line = {
            "what": what,
            "ms": (time.perf_counter() - t0) * 1000,
            "cpu_ms": (time.thread_time() - c0) * 1000,
            "round": _round[0],
        }
        with _lock:
            sink.write(json.dumps(line) + "\n")

    def wrap(name: str, kind: Any) -> None:
        original = getattr(transport.HttpTransport, name)

        @functools.wraps(original)
        def timed(self: Any, first: Any, *args: Any, **kw: Any) -> Any:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(self, first, *args, **kw)
            finally:
                note(kind(first), t0, c0)

        setattr(transport.HttpTransport, name, timed)

    wrap("command", _kind)
    wrap("arrow", _kind)
    wrap("insert", lambda table: f"insert {table}")
    store = loop.Worker._store

    @functools.wraps(store)
    def timed_store(self: Any, parts: Any) -> None:
        _round[0] += 1
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            store(self, parts)
        finally:
            note(f"ROUND ({sum(len(r) for *_, r in parts)} records)", t0, c0)

    loop.Worker._store = timed_store  # type: ignore[method-assign]
    if os.environ.get("ROUND_TRACE_NO_RENEW"):
        # The renewal thread's effect on a round, measured apart (leases then last
        # FOOTFALL's lease_ms from the last renewal: keep rounds shorter than that).
        from footfall.worker import lease

        lease.Leases.renewing = lambda self, fence: contextlib.nullcontext()  # type: ignore[method-assign,assignment,return-value]


def summarise(path: Path) -> None:
    ms: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    n: dict[str, int] = defaultdict(int)
    rounds: list[float] = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        what = row["what"]
        if what.startswith("ROUND"):
            rounds.append(row["ms"])
            what = "ROUND"
        ms[what] += row["ms"]
        cpu[what] += row["cpu_ms"]
        n[what] += 1
    print(f"{'what':<48} {'n':>5} {'wall ms':>9} {'per call':>9} {'thread cpu':>10}")
    for what in sorted(ms, key=lambda w: -ms[w]):
        print(f"{what[:48]:<48} {n[what]:>5} {ms[what]:>9.0f} {ms[what] / n[what]:>9.1f} "
              f"{cpu[what]:>10.0f}")  # fmt: skip
    if rounds:
        rounds.sort()
        print(f"rounds: {len(rounds)}, median {rounds[len(rounds) // 2]:.0f} ms, "
              f"max {rounds[-1]:.0f} ms")  # fmt: skip


def main() -> None:
    if sys.argv[1] == "--sum":
        summarise(Path(sys.argv[2]))
        return
    install(Path(sys.argv[1]))
    from footfall.cli import main as cli

    sys.exit(cli(sys.argv[2:]))


if __name__ == "__main__":
    main()
