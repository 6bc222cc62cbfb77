"""Ingest benchmark: the real ``footfall serve`` under wrk, against a bare ASGI ceiling.

Prints figures and ratios (it is not a test and asserts nothing):

  single   POST /api/event req/s and p50/p99 latency, bare Granian+ASGI app vs Footfall
           (rate limits off) and Footfall with its default rate limits (429s counted)
  batch    POST /api/events with 500 events per body, events/s
  drain    how fast the server's writer empties the backlog after the load stops, and an
           in-process drain of N records appended straight into a fresh spool, compared
           with a raw DuckDB Arrow insert of the same rows
  fresh    time from a marker event's 202 until /api/stats counts it, under moderate load
  cpu      CPU per POST /api/event with the ASGI app driven in process (no server, no
           wrk): the least noisy figure on a shared machine

    .venv/bin/python bench/ingest.py [--duration S] [--connections N] [--quick] [--json F]
                                     [--phases bare,single,batch,fresh,limits,drain] [--cold]

Each Footfall server gets 200 events and waits until they are stored before the timed
runs (``--cold`` skips this): the writer's first batch loads its rule sets once per
process, a start-up cost that would otherwise decide the first run's p99.

Needs ``wrk`` (installed with apt-get when missing). A default run takes 1.5-3 min (the
in-process drain dominates); ``--quick`` about 30 s. Numbers depend heavily on the machine:
wrk shares its cores. PYTHONPATH=/path/to/a/checkout benches that copy of ``footfall``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.append(str(ROOT))  # after PYTHONPATH: PYTHONPATH=/some/snapshot benches that copy

from corpus import DOMAIN, Corpus  # noqa: E402
from procs import die_with_parent  # noqa: E402

LUA = HERE / "wrk" / "post_bodies.lua"
ADMIN_TOKEN = "bench-admin-token"
BATCH_SIZE = 500
ALL_PHASES = {"bare", "single", "batch", "fresh", "limits", "drain", "cpu"}
TARGETS = {
    "single_rps": 8000.0,
    "single_ratio": 0.7,
    "single_p99_ms": 20.0,
    "batch_eps": 150_000.0,
    "drain_eps": 200_000.0,
    "fresh_p95_s": 2.0,
}


# ------------------------------------------------------------------------------ helpers


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found; installing with apt-get ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        sys.exit("could not install wrk")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            status, _ = http("GET", url, timeout=1)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"server did not come up at {url}; log:\n{log.read_text()[-3000:]}")


class Server:
    """A server subprocess in its own process group (Granian forks a worker)."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )  # fmt: skip

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def stop(self, grace: float = 15.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log_file.close()


def start_bare(port: int, tmp: Path) -> Server:
    # Same Granian settings as `footfall serve` (footfall/cli.py), minus the factory.
    code = (
        "from granian import Granian\n"
        "from granian.constants import Interfaces\n"
        f"Granian('bare_app:app', address='127.0.0.1', port={port}, interface=Interfaces.ASGI,"
        " workers=1, log_access=False, log_level='info').serve()\n"
    )
    server = Server([sys.executable, "-c", code], dict(os.environ), HERE, tmp / "bare.log")
    wait_up(f"http://127.0.0.1:{port}/", server.proc, server.log)
    return server


def start_footfall(port: int, data_dir: Path, limits_off: bool) -> Server:
    env = dict(os.environ)
    env.update(
        FOOTFALL_DATA_DIR=str(data_dir),
        FOOTFALL_ADMIN_TOKEN=ADMIN_TOKEN,
        FOOTFALL_PORT=str(port),
        FOOTFALL_HOST="127.0.0.1",
    )
    for name in ("RATE_LIMIT_PER_IP", "RATE_LIMIT_PER_KEY"):
        if limits_off:
            env[f"FOOTFALL_{name}"] = "0"
        else:
            env.pop(f"FOOTFALL_{name}", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    cmd = [sys.executable, "-m", "footfall.cli", "serve", "--port", str(port)]
    server = Server(cmd, env, data_dir.parent, data_dir.parent / f"{data_dir.name}.log")
    wait_up(f"http://127.0.0.1:{port}/api/health", server.proc, server.log)
    return server


def site_host(name: str) -> str:
    """The domain of a bench site: the corpus's own for the load, a subdomain of it for the
    freshness markers' sites beside it (a domain belongs to one site)."""
    return f"{name}.{DOMAIN}" if name.startswith("markers") else DOMAIN


def create_site(base: str, name: str) -> tuple[str, str, str]:
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    status, body = http(
        "POST", f"{base}/api/site/create", {"name": name, "domains": [site_host(name)]}, admin
    )
    if status != 201:
        sys.exit(f"site create failed: {status} {body}")
    site_id, key = body["site_id"], body["api_key"]
    status, tok = http("POST", f"{base}/api/tokens", {"site_id": site_id}, admin)
    if status != 201:
        sys.exit(f"token create failed: {status} {tok}")
    return site_id, key, tok["token"]


def health(base: str) -> dict[str, Any]:
    _, body = http("GET", f"{base}/api/health", timeout=30)
    return body if isinstance(body, dict) else {}


def consumed(h: dict[str, Any]) -> int:
    w = h.get("writer", {})
    return int(w.get("events_written", 0) + w.get("dropped", 0) + w.get("duplicates_skipped", 0))


def warm_up(base: str, key: str, bodies: Path, n: int = 200) -> dict[str, Any]:
    """Send ``n`` events and wait until the writer has stored them, before any timed run.

    The writer's first batch loads the user-agent and crawler rule sets (about half a
    second holding the GIL, once per process); without this, that one-off start-up stall
    lands inside the first timed run and decides its p99. Returns how long the first
    batch took to become visible, so the stall is still reported. Then the rollups job is
    run once: a new site's first rollups build (some 30 small transactions, once per site)
    would otherwise land in whichever timed run the job's minute falls on.
    """
    lines = bodies.read_text().splitlines()[:n]
    headers = {"x-api-key": key, "content-type": "application/json"}
    began = time.perf_counter()
    for line in lines:
        req = urllib.request.Request(f"{base}/api/event", data=line.encode(), headers=headers)
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
    sent = time.perf_counter()
    deadline = sent + 30
    while time.perf_counter() < deadline:
        if int(health(base).get("writer", {}).get("lag_events", 1)) == 0:
            break
        time.sleep(0.05)
    stored = time.perf_counter() - sent
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    status, body = http("POST", f"{base}/api/admin/jobs/rollups", None, admin, timeout=120)
    if status != 200:
        sys.exit(f"rollups job failed: {status} {body}")
    return {"events": len(lines), "send_s": sent - began, "stored_s": stored}


# ------------------------------------------------------------------------------ wrk


def wrk_cmd(wrk: str, url: str, duration: float, conns: int, threads: int) -> list[str]:
    threads = max(1, min(threads, conns))
    return [
        wrk, f"-t{threads}", f"-c{conns}", f"-d{duration:g}s", "--timeout", "10s", "--latency",
        "-s", str(LUA), url,
    ]  # fmt: skip


def wrk_env(bodies: Path, key: str, path: str, delay_ms: int = 0) -> dict[str, str]:
    return dict(
        os.environ,
        BENCH_BODIES=str(bodies),
        BENCH_KEY=key,
        BENCH_PATH=path,
        BENCH_COUNT_STATUS="1",
        BENCH_DELAY_MS=str(delay_ms),
    )


def parse_wrk(out: str) -> dict[str, Any]:
    for line in out.splitlines():
        if line.startswith("BENCHJSON "):
            r: dict[str, Any] = json.loads(line[len("BENCHJSON ") :])
            break
    else:
        raise RuntimeError(f"no BENCHJSON line in wrk output:\n{out}")
    secs = r["duration_us"] / 1e6
    codes = {int(k): v for k, v in r["statuses"].items()}
    ok = sum(v for k, v in codes.items() if 200 <= k < 300)
    r.update(
        seconds=secs,
        rps=r["requests"] / secs,
        ok=ok,
        ok_rps=ok / secs,
        non2xx=r["requests"] - ok,
        n429=codes.get(429, 0),
        codes=codes,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
    )
    return r


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (all their threads) so far."""
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _thread_kind(pid: int, tid: int, comm: str) -> str:
    if tid == pid:
        return "loop"  # the worker's main thread runs the event loop (and every handler)
    if comm.startswith("tokio"):
        return "granian"  # Granian's Rust I/O threads
    if comm.startswith("footfall-"):
        return comm.removeprefix("footfall-")  # footfall/threadnames.py names them
    return "other"  # DuckDB's worker threads, Granian's helper thread, AnyIO's


def thread_ticks(pids: list[int]) -> dict[str, int]:
    """CPU clock ticks so far of these processes' live threads, summed per kind of thread."""
    out: dict[str, int] = {}
    for pid in pids:
        tasks: list[Path] = []  # none if the process has gone
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        for task in tasks:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                stat = (task / "stat").read_text()
                comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                kind = _thread_kind(pid, int(task.name), comm)
                out[kind] = out.get(kind, 0) + int(fields[11]) + int(fields[12])
    return out


def run_wrk(
    wrk: str,
    url: str,
    env: dict[str, str],
    duration: float,
    conns: int,
    threads: int,
    server: Server | None = None,
) -> dict[str, Any]:
    """One wrk run; with ``server``, also the server's CPU per request (its worker
    processes, every thread): on a shared machine a steadier figure than req/s, since
    what the other tenants take changes the rate far more than the cost."""
    pids = server.worker_pids() if server is not None else []
    cpu0, ticks0 = cpu_seconds(pids), thread_ticks(pids)
    out = subprocess.run(
        wrk_cmd(wrk, url, duration, conns, threads), env=env, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    r = parse_wrk(out)
    if pids and r["requests"]:
        r["cpu_us"] = (cpu_seconds(pids) - cpu0) / r["requests"] * 1e6
        per_tick = 1e6 / os.sysconf("SC_CLK_TCK") / r["requests"]
        spent = {k: (v - ticks0.get(k, 0)) * per_tick for k, v in thread_ticks(pids).items()}
        r["cpu_threads_us"] = dict(sorted(spent.items(), key=lambda kv: -kv[1]))
    return r


def describe(label: str, r: dict[str, Any], per: int = 1) -> None:
    """Print one wrk run; ``per``: events per request (the CPU by thread is per event)."""
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(r["codes"].items()))
    errs = {k: v for k, v in r["errors"].items() if v and k != "status"}
    print(
        f"  {label:<34} {r['rps']:>9,.0f} req/s  2xx {r['ok_rps']:>9,.0f}/s  "
        f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  [{codes}]"
        + (f"  server CPU {r['cpu_us']:.0f} us/req" if "cpu_us" in r else "")
        + (f" socket errors {errs}" if errs else ""),
        flush=True,
    )
    if r.get("cpu_threads_us"):
        unit = "us/event" if per > 1 else "us/req"
        shares = [(k, v / per) for k, v in r["cpu_threads_us"].items()]
        by = " | ".join(f"{k} {v:.1f}" for k, v in shares if v >= 0.05)
        print(f"    server CPU by thread, {unit}: {by}", flush=True)


# ------------------------------------------------------------------------------ phases


def measure_drain(base: str, cap: float) -> dict[str, Any]:
    """After the load stops: poll /api/health until the writer lag is 0 (or ``cap`` s)."""
    samples: list[tuple[float, int, int]] = []
    start = time.perf_counter()
    while True:
        h = health(base)
        now = time.perf_counter()
        lag = int(h.get("writer", {}).get("lag_events", 0))
        samples.append((now, consumed(h), lag))
        if lag == 0 or now - start > cap:
            break
        time.sleep(0.25)
    t0, c0, lag0 = samples[0]
    t1, c1, lag1 = samples[-1]
    # The rate over the draining part only: up to the first sample that saw lag 0.
    rate = (c1 - c0) / (t1 - t0) if t1 > t0 else float("nan")
    return {"backlog": lag0, "left": lag1, "seconds": t1 - t0, "records": c1 - c0, "eps": rate}


def measure_freshness(
    base: str, site_id: str, key: str, token: str, markers: int, spacing: float,
    host: str = f"markers.{DOMAIN}",
) -> dict[str, Any]:  # fmt: skip
    """Markers go to a site of their own, sent one at a time; the writer commits in spool
    order, so marker i is visible once that site's pageview count reaches i + 1."""
    visible: dict[int, float] = {}
    stop = threading.Event()
    auth = {"authorization": f"Bearer {token}"}
    polls: list[float] = []

    def poll() -> None:
        seen = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            status, body = http("GET", f"{base}/api/stats?site_id={site_id}", headers=auth)
            t1 = time.perf_counter()
            polls.append(t1 - t0)
            if status == 200:
                pv = int(body["data"]["pageviews"])
                for k in range(seen + 1, pv + 1):
                    visible[k] = t1
                seen = max(seen, pv)
            stop.wait(max(0.0, 0.05 - (t1 - t0)))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    acks: list[float] = []
    headers = {"x-api-key": key}
    rng = random.Random(3)
    ua = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    )
    for i in range(markers):
        ev = {
            "event_type": "pageview", "path": f"/marker/{i}", "url": f"https://{host}/marker/{i}",
            "ip": f"10.9.{rng.randrange(256)}.{rng.randint(1, 254)}", "user_agent": ua,
        }  # fmt: skip
        status, body = http("POST", f"{base}/api/event", ev, headers)
        acks.append(time.perf_counter())
        if status != 202:
            print(f"  marker {i} answered {status}: {body}")
        time.sleep(spacing * rng.uniform(0.5, 1.5))
    deadline = time.perf_counter() + 20
    while len(visible) < markers and time.perf_counter() < deadline:
        time.sleep(0.05)
    stop.set()
    poller.join()
    lat = sorted(visible[i + 1] - acks[i] for i in range(markers) if i + 1 in visible)
    missing = markers - len(lat)
    lat += [float("inf")] * missing
    return {
        "markers": markers,
        "missing": missing,
        "p50_s": statistics.median(lat),
        "p95_s": lat[min(len(lat) - 1, int(0.95 * len(lat)))],
        "max_s": lat[-1],
        "poll_ms": statistics.median(polls) * 1000 if polls else float("nan"),
    }


def inprocess_drain(tmp: Path, n: int, corpus: Corpus) -> dict[str, Any]:
    """Append ``n`` records to a fresh spool, time the writer's run_once() until empty,
    then two ceilings for the same rows (an Arrow table): DuckDB's fastest bulk load, and
    DuckDB appending them as the writer's rounds do."""
    from footfall.config import Settings
    from footfall.ingest.pipeline import Dropped
    from footfall.ingest.record import ENCODER, SpoolRecord
    from footfall.ingest.validate import decode_event
    from footfall.runtime import Services

    settings = Settings(data_dir=tmp / "drain")
    svc = Services.build(settings)
    try:
        _, key = svc.meta.create_site("drain", [DOMAIN], "UTC")
        site = svc.pipeline.authenticate(key)
        templates: list[SpoolRecord] = []
        for _ in range(5000):
            ev = corpus.event()
            ev.pop("timestamp", None)
            rec = svc.pipeline.build(decode_event(ev), site, ev["ip"], ev["user_agent"])
            if not isinstance(rec, Dropped):
                templates.append(rec)
        rng = random.Random(11)
        visitors = [rng.getrandbits(63) for _ in range(50_000)]
        span_ms = 2 * 3600_000
        t_start = int(time.time() * 1000) - span_ms - 60_000
        run = rng.getrandbits(32)
        chunk: list[bytes] = []
        replace = msgspec.structs.replace
        began = time.perf_counter()
        for i in range(n):
            rec = replace(
                templates[i % len(templates)],
                event_id=f"{run:08x}-0000-4000-8000-{i:012x}",
                ts=t_start + i * span_ms // n,
                visitor_id=visitors[rng.randrange(len(visitors))],
            )
            chunk.append(ENCODER.encode(rec))
            if len(chunk) == 10_000:
                svc.queue.append_sync(chunk)
                chunk = []
        svc.queue.append_sync(chunk)
        append_s = time.perf_counter() - began
        writer = svc.writer
        writer.enricher.warm()  # as Writer.start() does when the server starts
        rounds, total = 0, 0
        began = time.perf_counter()
        while True:
            got = writer.run_once()
            if not got:
                break
            rounds += 1
            total += got
        # The WAL folded into the file, as the writer's next idle round does: part of the
        # cost of every event written, so it counts.
        checkpoint_began = time.perf_counter()
        svc.store.idle()
        checkpoint_s = time.perf_counter() - checkpoint_began
        drain_s = time.perf_counter() - began
        written = writer.stats.events_written
        table = svc.store.con.sql("SELECT * FROM events").to_arrow_table()
    finally:
        svc.store.close()
        svc.meta.close()
        svc.queue.close_sync()
    raw_s = _raw_insert(tmp / "raw.duckdb", table)
    rounds_s = _append_like_writer(tmp / "rounds.duckdb", table, writer.batch_size)
    return {
        "records": total,
        "written": written,
        "rounds": rounds,
        "append_s": append_s,
        "drain_s": drain_s,
        "checkpoint_s": checkpoint_s,
        "eps": total / drain_s,
        "raw_rows": table.num_rows,
        "raw_s": raw_s,
        "raw_eps": table.num_rows / raw_s,
        "rounds_batch": writer.batch_size,
        "rounds_eps": table.num_rows / rounds_s,
    }


def _raw_insert(path: Path, table: Any) -> float:
    """Seconds for DuckDB's fastest bulk load of ``table``: one INSERT from Arrow into a
    new table without constraints (its row groups go straight to the file)."""
    import duckdb

    raw = duckdb.connect(str(path))
    try:
        raw.register("arrow_table", table)
        raw.execute("CREATE TABLE t AS SELECT * FROM arrow_table LIMIT 0")
        began = time.perf_counter()
        raw.execute("INSERT INTO t SELECT * FROM arrow_table")
        return time.perf_counter() - began
    finally:
        raw.close()


def _append_like_writer(path: Path, table: Any, batch_size: int) -> float:
    """Seconds for DuckDB alone to do the writer's storing: ``table`` appended from Arrow
    to a fresh store (``DuckDBStore``: its schema and settings), ``batch_size`` rows per
    transaction, then the checkpoint the drain also pays. A round's rows that do not fill
    a whole row group go through the WAL and are written again by the checkpoint, which the
    bulk load above never pays. This is the drain's ceiling into a fresh store (as the drain
    writes); a store already holding rows appends slower still (docs/benchmarks.md)."""
    from footfall.store.duckdb import DuckDBStore

    store = DuckDBStore(path)
    store.open()
    try:
        con = store.con
        began = time.perf_counter()
        for start in range(0, table.num_rows, batch_size):
            con.register("part", table.slice(start, batch_size))
            con.execute("BEGIN")
            con.execute("INSERT INTO events BY NAME SELECT * FROM part")
            con.execute("COMMIT")
        con.execute("CHECKPOINT")
        return time.perf_counter() - began
    finally:
        store.close()


def inprocess_requests(
    tmp: Path, corpus: Corpus, requests: int, concurrency: int, writer: bool
) -> dict[str, Any]:
    """CPU per POST /api/event with no server and no wrk: the ASGI app driven directly on
    one event loop (real lifespan, spool with fsync, pipeline), ``concurrency`` requests
    in flight. Far less noisy than req/s on a shared machine: ``loop_us`` is the request
    path's own CPU; ``process_us`` adds the spool thread and, with ``writer``, the writer
    draining the same events concurrently."""
    import asyncio

    from footfall.app import create_app
    from footfall.config import Settings

    async def run() -> dict[str, Any]:
        settings = Settings(
            data_dir=tmp / f"inproc-{int(writer)}", rate_limit_per_ip=0, rate_limit_per_key=0
        )
        app = create_app(settings)
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def lifespan_send(message: dict[str, Any]) -> None:
            await outbox.put(message)

        lifespan = asyncio.create_task(
            app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get,
                lifespan_send)
        )  # fmt: skip
        await inbox.put({"type": "lifespan.startup"})
        started = await outbox.get()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {started}")
        svc = app.state.services
        if not writer:
            svc.writer.stop()  # drains (nothing yet) and leaves the spool to us
        _, key = svc.meta.create_site("inproc", [DOMAIN], "UTC")
        bodies = [b.encode() for b in corpus.bodies(4000)]
        base_headers = [
            (b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
            (b"x-api-key", key.encode()), (b"user-agent", b"footfall-bench (in process)"),
        ]  # fmt: skip
        statuses: dict[int, int] = {}

        async def one(i: int) -> None:
            body = bodies[i % len(bodies)]
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": "POST", "scheme": "http", "path": "/api/event",
                "raw_path": b"/api/event", "query_string": b"", "root_path": "",
                "headers": [*base_headers, (b"content-length", b"%d" % len(body))],
                "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000),
            }  # fmt: skip
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive() -> dict[str, Any]:
                return messages.pop() if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] = statuses.get(message["status"], 0) + 1

            await app(scope, receive, send)

        async def client(first: int, count: int) -> None:
            for i in range(first, count, concurrency):
                await one(i)

        await asyncio.gather(*(client(c, 500) for c in range(concurrency)))  # warm-up
        statuses.clear()
        wall, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        await asyncio.gather(*(client(c, requests) for c in range(concurrency)))
        wall = time.perf_counter() - wall
        cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan
        return {
            "requests": requests,
            "statuses": statuses,
            "rps": requests / wall,
            "loop_us": loop_cpu / requests * 1e6,
            "process_us": cpu / requests * 1e6,
        }

    try:  # the loop `footfall serve` runs on (granian picks uvloop when it is installed)
        import uvloop
    except ImportError:
        return asyncio.run(run())
    return uvloop.run(run())


# ------------------------------------------------------------------------------ main


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (10)")
    ap.add_argument(
        "--connections", type=int, default=64, help="wrk connections, single events (64)"
    )
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    ap.add_argument("--batch-connections", type=int, default=8, help="wrk connections, batches (8)")
    ap.add_argument("--drain-records", type=int, default=300_000, help="in-process drain size")
    ap.add_argument(
        "--cpu-requests", type=int, default=20_000, help="requests per in-process CPU run"
    )
    ap.add_argument("--quick", action="store_true", help="~30 s smoke run")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up: the writer's one-off first batch falls inside the first timed run",
    )
    ap.add_argument(
        "--phases",
        default="all",
        help="comma list of bare,single,batch,fresh,limits,drain,cpu, or all (default)",
    )
    args = ap.parse_args()
    if args.quick:
        args.duration = min(args.duration, 3.0)
        args.drain_records = min(args.drain_records, 100_000)
        args.cpu_requests = min(args.cpu_requests, 10_000)
    dur, conns, threads = args.duration, args.connections, args.threads
    drain_cap = 8.0 if args.quick else 25.0
    markers, spacing = (20, 0.08) if args.quick else (50, 0.08)

    phases = ALL_PHASES if args.phases == "all" else set(args.phases.split(","))
    if phases - ALL_PHASES:
        ap.error(f"unknown phases: {', '.join(sorted(phases - ALL_PHASES))}")

    wrk = ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="footfall-bench-"))
    results: dict[str, Any] = {"cores": os.cpu_count(), "duration": dur, "connections": conns}
    print(f"cores: {os.cpu_count()}  wrk: -t{threads} -c{conns} -d{dur:g}s  tmp: {tmp}", flush=True)
    try:
        # corpus ---------------------------------------------------------------
        began = time.perf_counter()
        corpus = Corpus()
        single = tmp / "single.txt"
        single.write_text("\n".join(corpus.bodies(4000)) + "\n")
        batch = tmp / "batch.txt"
        batch.write_text("\n".join(corpus.batch_bodies(40, BATCH_SIZE)) + "\n")
        sizes = [len(b) for b in single.read_text().splitlines()]
        print(
            f"corpus: 4000 single bodies (mean {statistics.mean(sizes):.0f} B), 40 batch bodies "
            f"of {BATCH_SIZE} events ({batch.stat().st_size / 40 / 1024:.0f} KiB each); "
            f"{len(corpus.paths)} paths, {len(corpus.referrers)} referrers, "
            f"{len(corpus.user_agents) + len(corpus.bots)} UAs, {len(corpus.ips)} IPs "
            f"({time.perf_counter() - began:.1f} s)",
            flush=True,
        )

        # bare ceiling ------------------------------------------------------------
        if "bare" in phases:
            port = free_port()
            with running(start_bare(port, tmp)) as bare:
                env = wrk_env(single, "bench", "/api/event")
                r = run_wrk(wrk, f"http://127.0.0.1:{port}", env, dur, conns, threads, bare)
                describe("bare ASGI app (Granian, 1 worker)", r)
                results["bare"] = r

        # footfall, limits off ---------------------------------------------------
        if phases & {"single", "batch", "fresh"}:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            with running(start_footfall(port, tmp / "data-off", limits_off=True)) as server:
                site_id, key, _token = create_site(base, "bench")
                m_site, m_key, m_token = create_site(base, "markers")
                if not args.cold:
                    w = warm_up(base, key, single)
                    print(
                        f"  warm-up: {w['events']} events, stored {w['stored_s']:.2f} s after "
                        "the last ack (first writer batch: rule sets load once per process)",
                        flush=True,
                    )
                    results["warm_up"] = w
                if "single" in phases:
                    h0 = health(base)
                    env = wrk_env(single, key, "/api/event")
                    r = run_wrk(wrk, base, env, dur, conns, threads, server)
                    h1 = health(base)
                    describe("footfall /api/event, limits off", r)
                    r["writer_eps_during"] = (consumed(h1) - consumed(h0)) / r["seconds"]
                    r["lag_after"] = h1.get("writer", {}).get("lag_events")
                    results["single_off"] = r
                    d = measure_drain(base, drain_cap)
                    print(
                        f"  after single load: writer consumed {r['writer_eps_during']:,.0f} "
                        f"rec/s during load; backlog {d['backlog']:,} drained at "
                        f"{d['eps']:,.0f} rec/s ({d['left']:,} left after {d['seconds']:.1f} s)",
                        flush=True,
                    )
                    results["drain_after_single"] = d

                if "batch" in phases:
                    h0 = health(base)
                    rb = run_wrk(
                        wrk, base, wrk_env(batch, key, "/api/events"), dur,
                        args.batch_connections, threads, server,
                    )  # fmt: skip
                    h1 = health(base)
                    rb["events_per_s"] = rb["ok_rps"] * BATCH_SIZE
                    rb["writer_eps_during"] = (consumed(h1) - consumed(h0)) / rb["seconds"]
                    describe(
                        f"footfall /api/events x{BATCH_SIZE} (c={args.batch_connections})", rb,
                        BATCH_SIZE,
                    )  # fmt: skip
                    print(f"  batch: {rb['events_per_s']:,.0f} events/s accepted", flush=True)
                    results["batch"] = rb
                    d = measure_drain(base, drain_cap)
                    print(
                        f"  after batch load: writer consumed {rb['writer_eps_during']:,.0f} "
                        f"rec/s during load; backlog {d['backlog']:,} drained at "
                        f"{d['eps']:,.0f} rec/s ({d['left']:,} left after {d['seconds']:.1f} s)",
                        flush=True,
                    )
                    results["drain_after_batch"] = d

                if "fresh" in phases:
                    # freshness under moderate load (8 connections, <= ~1000 req/s)
                    load = subprocess.Popen(
                        wrk_cmd(wrk, base, dur + 30, 8, 1),
                        env=wrk_env(single, key, "/api/event", delay_ms=8),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    )  # fmt: skip
                    try:
                        time.sleep(1.0)
                        f = measure_freshness(base, m_site, m_key, m_token, markers, spacing)
                    finally:
                        load.send_signal(signal.SIGINT)
                        out, _ = load.communicate()
                    with contextlib.suppress(RuntimeError):
                        bg = parse_wrk(out)
                        f["load_rps"] = bg["ok_rps"]
                    print(
                        f"  freshness ({markers} markers, load "
                        f"{f.get('load_rps', float('nan')):,.0f} req/s): p50 {f['p50_s']:.3f} s"
                        f"  p95 {f['p95_s']:.3f} s  max {f['max_s']:.3f} s  (stats poll "
                        f"{f['poll_ms']:.0f} ms, missing {f['missing']})",
                        flush=True,
                    )
                    results["fresh"] = f

        # footfall, default limits --------------------------------------------------
        if "limits" in phases:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            with running(start_footfall(port, tmp / "data-default", limits_off=False)):
                site_id, key, _ = create_site(base, "bench")
                if not args.cold:
                    warm_up(base, key, single)
                r = run_wrk(wrk, base, wrk_env(single, key, "/api/event"), dur, conns, threads)
                describe("footfall /api/event, default limits", r)
                results["single_default"] = r

        # in-process CPU per request ----------------------------------------------------
        if "cpu" in phases:
            for writer in (False, True):
                c = inprocess_requests(tmp, corpus, args.cpu_requests, conns, writer)
                label = "writer draining too" if writer else "writer stopped"
                print(
                    f"  in-process POST /api/event ({label}): {c['loop_us']:.0f} us CPU per "
                    f"request on the loop thread, {c['process_us']:.0f} us in the whole "
                    f"process; {c['rps']:,.0f} req/s  {c['statuses']}",
                    flush=True,
                )
                results["cpu_writer" if writer else "cpu"] = c

        # in-process drain ---------------------------------------------------------
        if "drain" in phases:
            dr = inprocess_drain(tmp, args.drain_records, corpus)
            print(
                f"  in-process drain: {dr['records']:,} records in {dr['drain_s']:.2f} s "
                f"({dr['rounds']} rounds, then a checkpoint of {dr['checkpoint_s']:.2f} s) = "
                f"{dr['eps']:,.0f} rec/s; raw DuckDB Arrow insert of "
                f"{dr['raw_rows']:,} rows: {dr['raw_eps']:,.0f} rows/s; appended to the "
                f"store's schema {dr['rounds_batch']:,} per transaction, with the checkpoint: "
                f"{dr['rounds_eps']:,.0f} rows/s",
                flush=True,
            )
            results["inproc"] = dr
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


def print_table(res: dict[str, Any]) -> None:
    """The summary table; rows of phases that did not run are left out."""

    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    rows: list[tuple[str, str, str, str]] = []
    bare, off = res.get("bare"), res.get("single_off")
    if bare:
        rows += [
            ("bare ASGI ceiling, req/s", f"{bare['ok_rps']:,.0f}", "", ""),
            ("bare p50 / p99, ms", f"{bare['p50_ms']:.2f} / {bare['p99_ms']:.2f}", "", ""),
        ]
    if off:
        rows.append(("single events/s (limits off)", f"{off['ok_rps']:,.0f}", ">= 8,000",
                     mark(off["ok_rps"] >= TARGETS["single_rps"])))  # fmt: skip
        if bare:
            ratio = off["ok_rps"] / bare["ok_rps"]
            rows.append(("  ratio to bare", f"{ratio:.2f}x", ">= 0.70x",
                         mark(ratio >= TARGETS["single_ratio"])))  # fmt: skip
        rows.append(("  p50 / p99, ms", f"{off['p50_ms']:.2f} / {off['p99_ms']:.2f}", "p99 <= 20",
                     mark(off["p99_ms"] <= TARGETS["single_p99_ms"])))  # fmt: skip
        if bare and "cpu_us" in off and "cpu_us" in bare:
            rows.append(("  server CPU us/request (bare | footfall)",
                         f"{bare['cpu_us']:.0f} | {off['cpu_us']:.0f}", "", ""))  # fmt: skip
            rows.append(("  CPU ratio bare / footfall", f"{bare['cpu_us'] / off['cpu_us']:.2f}x",
                         "", ""))  # fmt: skip
    if dflt := res.get("single_default"):
        rows += [
            ("single, default limits: req/s", f"{dflt['rps']:,.0f}", "", ""),
            ("  of which 2xx/s | 429s", f"{dflt['ok_rps']:,.0f} | {dflt['n429']:,}", "",
             "(one IP)"),
            ("  p50 / p99, ms", f"{dflt['p50_ms']:.2f} / {dflt['p99_ms']:.2f}", "", ""),
        ]  # fmt: skip
    if b := res.get("batch"):
        server_drain = res["drain_after_batch"]
        rows += [
            (f"batch events/s ({BATCH_SIZE}/body)", f"{b['events_per_s']:,.0f}", ">= 150,000",
             mark(b["events_per_s"] >= TARGETS["batch_eps"])),
            ("  batch p50 / p99, ms", f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f}", "", ""),
            ("  server CPU us/event (requests and writer)",
             f"{b.get('cpu_us', float('nan')) / BATCH_SIZE:.1f}", "", ""),
            ("server writer rec/s during batch load", f"{b['writer_eps_during']:,.0f}", "", ""),
            ("server drain rec/s after batch load", f"{server_drain['eps']:,.0f}", "",
             f"backlog {server_drain['backlog']:,}"),
        ]  # fmt: skip
    for key, label in (("cpu", "writer stopped"), ("cpu_writer", "writer draining")):
        if c := res.get(key):
            value = f"{c['loop_us']:.0f} loop / {c['process_us']:.0f} all"
            rows.append((f"in-process CPU us/request ({label})", value, "", ""))
    if dr := res.get("inproc"):
        rows += [
            ("in-process drain rec/s", f"{dr['eps']:,.0f}", ">= 200,000",
             mark(dr["eps"] >= TARGETS["drain_eps"])),
            ("  raw DuckDB Arrow insert rows/s", f"{dr['raw_eps']:,.0f}", "", ""),
            ("  drain / raw insert", f"{dr['eps'] / dr['raw_eps']:.3f}x", "", ""),
            ("  DuckDB appending in rounds rows/s", f"{dr['rounds_eps']:,.0f}", "", ""),
            ("  drain / appending in rounds", f"{dr['eps'] / dr['rounds_eps']:.3f}x", "", ""),
        ]  # fmt: skip
    if f := res.get("fresh"):
        rows.append(("freshness p50 / p95, s", f"{f['p50_s']:.3f} / {f['p95_s']:.3f}", "p95 <= 2",
                     mark(f["p95_s"] <= TARGETS["fresh_p95_s"])))  # fmt: skip
    if not rows:
        return
    print()
    print(
        f"Footfall ingest benchmark - {res['cores']} cores, wrk -c{res['connections']} "
        f"-d{res['duration']:g}s (wrk runs on the same cores)"
    )
    w = max(len(r[0]) for r in rows)
    print(f"{'metric':<{w}}  {'value':>18}  {'target':>10}  status")
    print("-" * (w + 42))
    for name, value, target, status in rows:
        print(f"{name:<{w}}  {value:>18}  {target:>10}  {status}")


if __name__ == "__main__":
    main()
