"""Pipeline benchmark: events/s from HTTP into the store, embedded shape against Redis shape.

Prints figures and ratios (it is not a test and asserts nothing). Each shape runs the
real processes: ``footfall serve`` (rate limits off) and, for the Redis shape, 1 or 2
``footfall worker`` processes, all writing to one ClickHouse stand-in (chdb behind
ClickHouse's HTTP interface, tests/support/), a database per shape:

  embedded   serve with its spool and its own writer (FOOTFALL_QUEUE_URL empty)
  redis-1    serve appending to Redis Streams, one worker storing
  redis-2    the same with two workers

For each: the events/s of a burst of N events from the first request until every event is
stored (queue empty), the accept rate (until the last 202), and the peak RSS of the
process tree (serve + workers; the stand-in is not counted). For the Redis shapes also
the queue lag (Redis's XADD time to the worker's commit, from the workers' own
histograms; the embedded writer has no per-event clock): of the burst (mostly the
backlog's wait) and, from fresh workers after the burst, at a steady ``--paced-eps`` the
workers keep up with (the freshness an operator sees). Both shapes' bursts start on the
same stored rows (the warm-up), with the stand-in idle; the CPU of each process
(serve with its forked worker, each ``footfall worker``, Redis, the stand-in, this load
generator) over the burst is printed per event. Ratios are against the embedded shape
of the same run. Targets: redis-1 >= 0.5x embedded, paced lag p95 <= 2 s.
``--repeat R``: medians of R runs. ``--trace DIR``: each worker's store requests timed
into DIR (bench/round_trace.py; ``--sum`` a file for the totals per kind).
``--paced-quiet``: the paced phase starts once the stand-in has merged the burst's parts
(the burst before it is what raised the paced lag: docs/benchmarks.md).

    .venv/bin/python bench/pipeline.py [--events N] [--senders N] [--redis URL] [--json F]

Needs Redis (default redis://127.0.0.1:6379/0; keys under a prefix of the run's own,
deleted afterwards) and the dev extra (chdb, clickhouse-connect, redis).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.append(str(ROOT))

from corpus import DOMAIN, Corpus  # noqa: E402
from ingest import ADMIN_TOKEN, Server, free_port, http, wait_up  # noqa: E402
from procs import die_with_parent, tree_rss_kb  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants, every thread (from /proc; a
    process gone meanwhile counts 0): serve forks a Granian worker, which does the work."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def self_cpu() -> float:
    """This process's CPU (the load generator: sender threads and depth polling)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def redis_pid(url: str) -> int | None:
    """The Redis server's pid, when it runs on this machine (its CPU is the queue's)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.info("server")["process_id"])
    except redis.RedisError:
        return None
    finally:
        client.close()


BATCH = 500
TARGETS = {"ratio_1_worker": 0.5, "lag_p95_s": 2.0}


def create_database(port: int, name: str) -> str:
    db = f"{name}_{uuid.uuid4().hex[:8]}"
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=f"CREATE DATABASE `{db}`".encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return f"clickhouse://default:@127.0.0.1:{port}/{db}"


def shape_env(data: Path, store_url: str, queue_url: str, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FOOTFALL_DATA_DIR=str(data), FOOTFALL_ADMIN_TOKEN=ADMIN_TOKEN, FOOTFALL_HOST="127.0.0.1",
        FOOTFALL_STORE_URL=store_url, FOOTFALL_QUEUE_URL=queue_url, FOOTFALL_REDIS_PREFIX=prefix,
        FOOTFALL_RATE_LIMIT_PER_IP="0", FOOTFALL_RATE_LIMIT_PER_KEY="0",
        FOOTFALL_LOG_LEVEL="warning",
    )  # fmt: skip
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    return env


class Depth:
    """How many accepted events are not stored yet, asked the cheapest way per shape."""

    def __init__(self, base: str, queue_url: str, prefix: str, partitions: int) -> None:
        self.base, self.queue = base, None
        if queue_url:
            from footfall.queue.redis import RedisStreamQueue

            self.queue = RedisStreamQueue(queue_url, prefix, partitions=partitions)

    def __call__(self) -> int:
        if self.queue is not None:
            return self.queue.depth()
        status, body = http("GET", self.base + "/api/health", timeout=30)
        return int(body["queue"]["depth"]) if status in (200, 503) else 1

    def close(self) -> None:
        if self.queue is not None:
            self.queue.close_sync()


def send(base: str, key: str, bodies: list[bytes], senders: int) -> None:
    """POST every body to /api/events from ``senders`` threads (keep-alive connections)."""
    import http.client

    def run(part: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=60)
        headers = {"content-type": "application/json", "x-api-key": key}
        for body in part:
            for _ in range(50):  # a 503 (queue full/unavailable) is retried, as clients do
                conn.request("POST", "/api/events", body, headers)
                r = conn.getresponse()
                r.read()
                if r.status == 202:
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError(f"POST /api/events kept failing: {r.status}")
        conn.close()

    threads = [threading.Thread(target=run, args=(bodies[i::senders],)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_shape(
    name: str, workers: int, args: argparse.Namespace, standin: int, tmp: Path,
    standin_pid: int,
) -> dict[str, Any]:  # fmt: skip
    run_id = uuid.uuid4().hex[:8]
    # A data directory and a database of its own per run: ``--repeat`` runs a shape again.
    data = tmp / f"{name}-{run_id}"
    prefix = f"footfall-bench:{run_id}:"
    queue_url = args.redis if workers else ""
    db = create_database(standin, f"{name.replace('-', '_')}_{run_id}")
    env = shape_env(data, db, queue_url, prefix)
    env["FOOTFALL_QUEUE_PARTITIONS"] = str(args.partitions)
    port = free_port()
    server = Server([sys.executable, "-m", "footfall.cli", "serve", "--port", str(port)],
                    env, tmp, tmp / f"{name}-serve.log")  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    runs = [0]  # worker generations: each phase's lag comes from fresh workers

    def start_workers() -> None:
        runs[0] += 1
        procs[:] = []
        for i in range(workers):
            log = (tmp / f"{name}-worker{i}-{runs[0]}.log").open("wb")
            cmd = [sys.executable, "-m", "footfall.cli", "worker"]
            if args.trace:  # each store request timed (bench/round_trace.py)
                out = args.trace / f"{name}-{run_id}-worker{i}-{runs[0]}.jsonl"
                cmd = [sys.executable, str(HERE / "round_trace.py"), str(out), "worker"]
            procs.append(subprocess.Popen(
                cmd, env=env, cwd=tmp, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
            ))  # fmt: skip

    start_workers()
    base = f"http://127.0.0.1:{port}"
    depth = Depth(base, queue_url, prefix, args.partitions)
    try:
        wait_up(base + "/api/health", server.proc, server.log, timeout=120)
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        status, site = http(
            "POST", base + "/api/site/create", {"name": "Bench", "domains": [DOMAIN]}, auth
        )
        assert status == 201, site
        corpus = Corpus(seed=11)
        warm = [b.encode() for b in corpus.batch_bodies(2, BATCH)]
        bodies = [b.encode() for b in corpus.batch_bodies(args.events // BATCH, BATCH)]
        send(base, site["api_key"], warm, 1)  # the first rounds load rule sets once
        wait_drained(depth, 300)
        # The burst comes first after the warm-up, in both shapes, so that both store it
        # on top of the same rows (the paced phase, Redis only, ran before it until
        # 2026-12-06 and left the Redis shape's burst 15,000 more stored rows to read
        # and rewrite); fresh workers, whose start-up is not what it measures.
        if procs:
            stop_workers(procs, tmp, name, runs[0])
            start_workers()
            workers_ready(queue_url, prefix, args.partitions, depth, base, site["api_key"], warm)
        else:
            send(base, site["api_key"], warm[:1], 1)  # what workers_ready adds
            wait_drained(depth, 120)
        standin_quiet(standin_pid)
        peak, done = 0, threading.Event()
        pids = [server.proc.pid] + [p.pid for p in procs]

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, sum(tree_rss_kb(p) for p in pids))
                done.wait(0.2)

        # Where the burst's CPU goes, per process: serve, each worker, Redis (the shared
        # server: other engineers' use lands here too), the stand-in, this load generator.
        who = {"serve": server.proc.pid, "standin": standin_pid}
        who.update({f"worker{i}": p.pid for i, p in enumerate(procs)})
        rpid = redis_pid(args.redis) if procs else None
        if rpid:
            who["redis"] = rpid
        cpu0 = {k: cpu_seconds(v) for k, v in who.items()} | {"loadgen": self_cpu()}
        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        send(base, site["api_key"], bodies, args.senders)
        accepted = time.perf_counter() - started
        wait_drained(depth, 600)
        stored = time.perf_counter() - started
        cpu1 = {k: cpu_seconds(v) for k, v in who.items()} | {"loadgen": self_cpu()}
        done.set()
        sampler.join()
        n = len(bodies) * BATCH
        cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
        result: dict[str, Any] = {
            "events": n, "eps": n / stored, "accept_eps": n / accepted, "seconds": stored,
            "peak_rss_mb": peak / 1024, "cpu_s": cpu,
            "cpu_us_per_event": {k: v / n * 1e6 for k, v in cpu.items()},
        }  # fmt: skip
        if procs:
            burst = stop_workers(procs, tmp, name, runs[0])
            result.update({f"burst_{k}": v for k, v in burst.items()})
            # Queue lag under a steady load the workers keep up with (the freshness an
            # operator sees), from fresh workers that did nothing else.
            start_workers()
            workers_ready(queue_url, prefix, args.partitions, depth, base, site["api_key"], warm)
            if args.paced_quiet:
                standin_quiet(standin_pid)
            pace(base, site["api_key"], corpus, args.paced_eps, args.paced_seconds)
            wait_drained(depth, 300)
            paced = stop_workers(procs, tmp, name, runs[0])
            result.update({f"paced_{k}": v for k, v in paced.items()})
        return result
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        depth.close()
        server.stop()
        if queue_url:
            import redis

            client = redis.Redis.from_url(queue_url)
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
            client.close()


def standin_quiet(pid: int, timeout: float = 60.0) -> None:
    """Until the stand-in's background work (merges, mutations) of earlier phases or
    shapes is done: it would be counted in the next burst's CPU and slow it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:  # under 10% of a core
            return


def wait_drained(depth: Depth, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(0.2)
    while depth():
        if time.monotonic() > deadline:
            sys.exit("the queue did not drain in time")
        time.sleep(0.05)


def workers_ready(
    url: str, prefix: str, partitions: int, depth: Depth, base: str, key: str, warm: list[bytes]
) -> None:
    """Until fresh workers hold every partition and have stored a first request (their
    start-up, imports and first round, is not what a phase measures)."""
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 120
    while not all(client.exists(f"{prefix}lease:{k}") for k in range(partitions)):
        if time.monotonic() > deadline:
            sys.exit("workers did not take the partitions")
        time.sleep(0.1)
    client.close()
    send(base, key, warm[:1], 1)
    wait_drained(depth, 120)


def pace(base: str, key: str, corpus: Corpus, eps: int, seconds: float) -> None:
    """Send ``eps`` events a second for ``seconds``, in 50-event requests on a clock."""
    per = 50
    bodies = [b.encode() for b in corpus.batch_bodies(int(eps * seconds) // per, per)]
    interval, start = per / eps, time.perf_counter()
    for i, body in enumerate(bodies):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send(base, key, [body], 1)


def stop_workers(
    procs: list[subprocess.Popen[bytes]], tmp: Path, name: str, run: int
) -> dict[str, Any]:
    """SIGTERM the workers; merge their lag histograms into p50/p95."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    hist: dict[int, int] = {}
    written, rounds = [], []
    for i, p in enumerate(procs):
        p.wait(120)
        lines = (tmp / f"{name}-worker{i}-{run}.log").read_text().splitlines()
        summary = json.loads(next(x for x in reversed(lines) if x.startswith("{")))
        written.append(summary["events_written"])
        rounds.append(summary["batches"])
        for bucket, n in summary["lag_ms"].items():
            hist[int(bucket)] = hist.get(int(bucket), 0) + n
    total, seen, out = sum(hist.values()), 0, {}
    for bucket in sorted(hist):
        seen += hist[bucket]
        for q in (0.5, 0.95):
            key = f"lag_p{int(q * 100)}_s"
            if key not in out and seen >= q * total:
                out[key] = (bucket + 50) / 1000
    return {**out, "written_per_worker": written, "rounds_per_worker": rounds}


def _median(values: Any) -> Any:
    """The median of runs' figures: of floats, of each key of dicts of floats; else the first."""
    values = list(values)
    if isinstance(values[0], float):
        return statistics.median(values)
    if isinstance(values[0], dict) and all(isinstance(v, float) for v in values[0].values()):
        return {k: statistics.median(v[k] for v in values) for k in values[0]}
    return values[0]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=100_000, help="events per shape")
    ap.add_argument("--senders", type=int, default=4, help="concurrent HTTP clients")
    ap.add_argument("--partitions", type=int, default=4, help="FOOTFALL_QUEUE_PARTITIONS")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--shapes", default="embedded,redis-1,redis-2")
    ap.add_argument("--paced-eps", type=int, default=1000, help="steady load for the lag")
    ap.add_argument("--paced-seconds", type=float, default=15.0)
    ap.add_argument(
        "--paced-quiet", action="store_true",
        help="before the paced phase, wait until the stand-in has merged the burst's parts",
    )  # fmt: skip
    ap.add_argument("--repeat", type=int, default=1, help="runs per shape (medians shown)")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--trace", type=Path, help="time each worker's store requests into DIR")
    args = ap.parse_args()
    from tests.support.clickhouse import _stop, launch

    tmp = Path(tempfile.mkdtemp(prefix="footfall-pipeline-"))
    standin, port = launch(tmp / "standin")
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in args.shapes.split(","):
            workers = 0 if name == "embedded" else int(name.split("-")[1])
            runs = []
            for i in range(args.repeat):
                print(f"{name}: {args.events} events (run {i + 1}) ...", flush=True)
                runs.append(run_shape(name, workers, args, port, tmp, standin.pid))
            results[name] = {k: _median(r[k] for r in runs) for k in runs[0]}
    finally:
        _stop(standin)
        shutil.rmtree(tmp, ignore_errors=True)
    base = results.get("embedded", {}).get("eps")
    print(f"\n{'shape':<10} {'events/s':>9} {'accept/s':>9} {'ratio':>6} {'lag p95':>8} "
          f"{'paced p50':>9} {'paced p95':>9} {'peak RSS':>9}")  # fmt: skip

    def secs(r: dict[str, Any], key: str) -> str:
        return f"{r[key]:.2f}s" if key in r else "-"

    for name, r in results.items():
        ratio = r["eps"] / base if base else float("nan")
        r["ratio"] = ratio
        print(f"{name:<10} {r['eps']:>9.0f} {r['accept_eps']:>9.0f} {ratio:>5.2f}x "
              f"{secs(r, 'burst_lag_p95_s'):>8} {secs(r, 'paced_lag_p50_s'):>9} "
              f"{secs(r, 'paced_lag_p95_s'):>9} {r['peak_rss_mb']:>7.0f}MB")  # fmt: skip
    print("\nCPU per event during the burst, µs (process CPU, every thread):")
    for name, r in results.items():
        parts = r["cpu_us_per_event"]
        total = sum(parts.values())
        print(f"{name:<10} total {total:>6.0f}  " + "  ".join(
            f"{k} {v:.0f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])
        ))  # fmt: skip
        if "burst_rounds_per_worker" in r:
            print(f"{'':<10} store rounds per worker in the burst: {r['burst_rounds_per_worker']}")
    if "redis-1" in results:
        r1 = results["redis-1"]
        lag = r1.get("paced_lag_p95_s", 99)
        print(
            f"\ntarget: redis-1 >= {TARGETS['ratio_1_worker']}x embedded: "
            f"{'met' if r1['ratio'] >= TARGETS['ratio_1_worker'] else 'MISSED'}; "
            f"lag p95 at {args.paced_eps} events/s <= {TARGETS['lag_p95_s']} s: "
            f"{'met' if lag <= TARGETS['lag_p95_s'] else 'MISSED'}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
