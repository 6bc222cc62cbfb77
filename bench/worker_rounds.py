"""Worker rounds benchmark: what a ``footfall worker`` round costs, in process, against the
ClickHouse stand-in, with the partitions it holds stored in one round (as it does) and,
as the baseline in the same run, in a round each (as it did before).

For rounds of ``--events`` events spread over ``--partitions`` partitions (one worker
holding them all; Redis at ``--redis``, keys under a prefix of the run's own): the wall
time of a round (median), and the CPU seconds of the worker and of the stand-in per
round, the figure least disturbed by other load on a shared machine. Then the ratio
baseline / shared. Prints figures and asserts nothing.

    .venv/bin/python bench/worker_rounds.py [--events 750] [--partitions 4] [--rounds 8]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))

from footfall.ingest.record import ENCODER, SpoolRecord  # noqa: E402
from footfall.queue.redis import RedisStreamQueue  # noqa: E402
from footfall.store.clickhouse.store import ClickHouseStore  # noqa: E402
from footfall.store.clickhouse.target import ClickHouseTarget  # noqa: E402
from footfall.worker.loop import Worker, WorkerConfig  # noqa: E402

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def records(rng: random.Random, n: int) -> list[bytes]:
    """``n`` pageviews of 5,000 visitors over the last 10 minutes, 3% of them bots."""
    now = int(time.time() * 1000)
    return [
        ENCODER.encode(
            SpoolRecord(
                str(uuid.UUID(int=rng.getrandbits(128))),
                "s1",
                now - rng.randint(0, 600_000),
                "pageview",
                "s.com",
                f"/p{rng.randint(0, 200)}",
                "",
                "",
                BOT if rng.random() < 0.03 else UA,
                rng.randint(1, 5000),
                0,
                "",
                "1920x1080",
                "en",
                "DE",
                "",
                "",
                "t",
                True,
                {},
            )
        )  # fmt: skip
        for _ in range(n)
    ]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    worker: Worker, queue: Any, standin: int, args: argparse.Namespace, shared: bool
) -> dict[str, float]:
    """Rounds of ``args.events`` events: stored in one shared round, or in a round each."""
    rng, walls = random.Random(5), []
    cpu0, stand0 = time.process_time(), cpu_seconds(standin)
    for _ in range(args.rounds):
        for _ in range(0, args.events, 50):
            queue.append_sync(records(rng, 50))
        started = time.perf_counter()
        worker.leases.rebalance()
        taken = []
        for k in sorted(worker.leases.held):
            batch = worker.streams[k].next_batch(100_000) or []
            lines = [(i, n, r) for i, p in batch for n, r in enumerate((p or b"").split(b"\n"))]
            if batch:
                taken.append((k, batch, lines))
        if shared:
            worker.round(taken)
        else:
            for one in taken:
                worker.round([one])
        walls.append(time.perf_counter() - started)
    return {
        "wall_ms": statistics.median(walls) * 1000,
        "worker_cpu_ms": (time.process_time() - cpu0) / args.rounds * 1000,
        "standin_cpu_ms": (cpu_seconds(standin) - stand0) / args.rounds * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=750, help="events per round")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    from tests.support.clickhouse import _stop, launch

    tmp = Path(tempfile.mkdtemp(prefix="footfall-rounds-"))
    proc, port = launch(tmp / "standin")
    prefix = f"footfall-bench:{uuid.uuid4().hex[:8]}:"
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/", data=b"CREATE DATABASE rounds", method="POST"
        )
        urllib.request.urlopen(request, timeout=60).read()
        store = ClickHouseStore(ClickHouseTarget(host="127.0.0.1", port=port, database="rounds"))
        store.open()
        store.migrate()
        queue = RedisStreamQueue(args.redis, prefix, partitions=args.partitions)
        queue.open()
        config = WorkerConfig(partitions=args.partitions)
        worker = Worker(args.redis, prefix, store, lambda s: ("s.com",), config, consumer="b")
        worker.enricher.warm()
        measure(worker, queue, proc.pid, argparse.Namespace(events=200, rounds=2), True)
        load = os.getloadavg()[0]
        got = {
            "a round each": measure(worker, queue, proc.pid, args, False),
            "one round": measure(worker, queue, proc.pid, args, True),
        }
        print(f"rounds of {args.events} events over {args.partitions} partitions "
              f"(load average {load:.1f} → {os.getloadavg()[0]:.1f})")  # fmt: skip
        print(f"{'':<14}{'wall ms':>9}{'worker CPU ms':>15}{'stand-in CPU ms':>17}")
        for name, r in got.items():
            print(f"{name:<14}{r['wall_ms']:>9.0f}{r['worker_cpu_ms']:>15.0f}"
                  f"{r['standin_cpu_ms']:>17.0f}")  # fmt: skip
        before, after = got["a round each"], got["one round"]
        cpu = (before["worker_cpu_ms"] + before["standin_cpu_ms"]) / (
            after["worker_cpu_ms"] + after["standin_cpu_ms"]
        )
        print(f"ratio a round each / one round: CPU {cpu:.2f}x, "
              f"wall {before['wall_ms'] / after['wall_ms']:.2f}x")  # fmt: skip
        worker.shutdown()
        store.close()
        queue.close_sync()
    finally:
        import redis

        client = redis.Redis.from_url(args.redis)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
