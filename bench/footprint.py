# ruff: noqa: E501  (tables read better unwrapped)
"""Footprint benchmark (issue 25): what a site of N events costs a small server.

For each variant (by default ``baseline`` — the settings of before issue 25, passed as
environment variables — then ``default`` — today's defaults) in one run:

1. start ``footfall serve`` on an empty data directory (a subprocess, one site);
2. load ``--events`` events through the real path: ``POST /api/events`` batches of 500
   from ``--senders`` sender processes (their timestamps spread over ``--days`` days
   ending now, ~1 visitor per 10 events), while a thread reads the RSS of the server's
   whole process tree from /proc every second;
3. from the last acknowledged event: the time until every event is visible (writer lag
   0), and until the whole dashboard set (bench/query.py's ``dashboard_set``) loads with
   every panel within 1 s ("fast dashboard", polled back to back, capped);
4. the dashboard set ``--reps`` times in parallel (6 at a time): p50/p95 of the set's wall
   and the slowest panel's p95;
5. bytes on disk (the data directory's file sizes, spool included, and the DuckDB file
   alone) per stored event, before and after the server's own idle work;
6. stop, start again on the full directory: time to the first ``/api/health`` 200.

Peak RSS is the maximum over the load and the dashboard sets; the table also shows the
median RSS after the load. Medians over ``--repeat`` runs of each variant are printed.

    .venv/bin/python bench/footprint.py [--events 10000000] [--days 28] [--repeat 1]
                                        [--variants baseline,default] [--dir D] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.append(str(ROOT))

from procs import compile_trees, die_with_parent  # noqa: E402
from query import ADMIN_TOKEN, HttpSet, dashboard_set, pct, stop_server  # noqa: E402

HOST = "shop.example.com"
RAM = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
# The settings of before issue 25 (DuckDB's own defaults: 80% of RAM, a thread per core;
# 64 MiB of recent spool rounds), so the baseline is measured in the same run.
BASELINE_ENV = {
    "FOOTFALL_DUCKDB_MEMORY_LIMIT": f"{int(RAM * 0.8) // (1 << 20)}MiB",
    "FOOTFALL_DUCKDB_THREADS": str(os.cpu_count() or 1),
    "FOOTFALL_SPOOL_RECENT_BYTES": str(64 << 20),
    "FOOTFALL_COMPACT_FREE_RATIO": "0",
}
VARIANTS: dict[str, dict[str, str]] = {"baseline": BASELINE_ENV, "default": {}}
FAST_S = 1.0
# Servers this bench starts listen in this range (one engineer's share of the machine's
# ports, so parallel benches never collide); FOOTFALL_BENCH_PORTS="lo-hi" moves it.
PORTS = tuple(int(p) for p in os.environ.get("FOOTFALL_BENCH_PORTS", "18400-18499").split("-"))


def free_port() -> int:
    """The first port of PORTS nothing listens on."""
    import socket

    for port in range(PORTS[0], PORTS[1] + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    sys.exit(f"no free port in {PORTS[0]}-{PORTS[1]}")


# The sampled phases, in order, and how the report's table names them.
PHASES = (
    ("load", "the load"),
    ("after", "until a fast dashboard"),
    ("set", "the dashboard sets"),
    ("idle", "upkeep and idle"),
)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------ /proc


def own_rss(pid: int) -> int:
    """Resident bytes of ``pid`` alone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError):
        return 0


def _proc_stats() -> dict[int, list[str]]:
    """Each live process's /proc/PID/stat fields after the command name (ppid is [1])."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        stats[int(entry)] = stat[stat.rindex(")") + 2 :].split()
    return stats


def _tree(pid: int, stats: dict[int, list[str]]) -> list[int]:
    """``pid`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for p, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_rss(pid: int, proportional: bool = False) -> int:
    """Resident bytes of ``pid`` and all its descendants (from /proc/*/stat and statm).

    ``proportional``: their PSS instead (smaps_rollup), where a page shared by n of them
    counts 1/n in each: ``footfall serve``'s supervisor forks its worker, and the RSS sum
    counts the modules both hold (about 130 MB) twice."""
    total, page = 0, os.sysconf("SC_PAGE_SIZE")
    for p in _tree(pid, _proc_stats()):
        try:
            if proportional:
                rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
                total += int(rollup.split("\nPss:")[1].split()[0]) * 1024
            else:
                total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
        except (OSError, IndexError):
            continue
    return total


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) the live processes of ``pid``'s tree have used: where the
    load's and the fold's time goes, beside the wall figures."""
    stats = _proc_stats()
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) for p in _tree(pid, stats) if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")  # utime + stime, in clock ticks


class Sampler(threading.Thread):
    """RSS of the process tree each ``every`` seconds, tagged with the current phase."""

    def __init__(self, pid: int, data: Path | None = None, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.data, self.every, self.phase = pid, data, every, "start"
        self.samples: list[tuple[str, int]] = []
        self.pss: list[int] = []
        self.root: list[int] = []  # ``footfall serve`` itself: the supervisor of its worker
        # The data directory's bytes by part (disk_parts), each second: the transient
        # peaks (spill files, WAL, a compaction's copy) that the point readings miss.
        self.disk: list[tuple[str, float, dict[str, int]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((self.phase, tree_rss(self.pid)))
            self.pss.append(tree_rss(self.pid, proportional=True))
            self.root.append(own_rss(self.pid))
            if self.data is not None:
                self.disk.append((self.phase, time.time(), disk_parts(self.data)))
            self.stop.wait(self.every)

    def disk_peak(self) -> tuple[str, float, dict[str, int]]:
        """The sample with the most bytes on disk: its phase, time and parts."""
        return max(self.disk, key=lambda s: sum(s[2].values()), default=("", 0.0, {}))

    def peak(self, phase: str | None = None) -> int:
        return max((b for p, b in self.samples if phase in (None, p)), default=0)

    def peak_pss(self) -> int:
        return max(self.pss, default=0)

    def median(self, phase: str) -> float:
        vals = [b for p, b in self.samples if p == phase]
        return statistics.median(vals) if vals else float("nan")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def disk_parts(data: Path) -> dict[str, int]:
    """Bytes (allocated blocks, not apparent sizes: a sparse spill file counts what it
    holds) of each part of the data directory: the DuckDB file, its WAL, its spill
    directory (``.tmp``), a compaction's new file, the spool, the rest."""
    parts: dict[str, int] = {}
    for p in data.rglob("*"):
        try:
            st = p.stat()
        except OSError:  # removed while we walked
            continue
        if not p.is_file():
            continue
        rel = p.relative_to(data).parts
        name = rel[0]
        if name.startswith("events.duckdb"):
            key = name.removeprefix("events.duckdb") or ".duckdb"
        else:
            key = name if len(rel) > 1 else "other"
        parts[key] = parts.get(key, 0) + st.st_blocks * 512
    return parts


# ------------------------------------------------------------------------------ server


def start(
    data: Path, port: int, env_extra: dict[str, str], logf: Path
) -> tuple[subprocess.Popen[bytes], float]:
    """``footfall serve`` on ``data``; returns it and the seconds to the first health 200."""
    env = dict(os.environ)
    env.update(
        FOOTFALL_DATA_DIR=str(data), FOOTFALL_ADMIN_TOKEN=ADMIN_TOKEN, FOOTFALL_PORT=str(port),
        FOOTFALL_HOST="127.0.0.1", FOOTFALL_RATE_LIMIT_PER_IP="0", FOOTFALL_RATE_LIMIT_PER_KEY="0",
        FOOTFALL_LOG_LEVEL=getattr(globals().get("ARGS"), "log_level", "warning"),
    )  # fmt: skip
    env.update(env_extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    compile_trees(env["PYTHONPATH"], ROOT)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "footfall.cli", "serve", "--port", str(port)],
        env=env, cwd=data.parent, stdout=logf.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=die_with_parent,
    )  # fmt: skip
    while time.perf_counter() - t0 < 600:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}:\n{logf.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
                if r.status == 200:
                    return proc, time.perf_counter() - t0
        except OSError:
            time.sleep(0.05)
    stop_server(proc)
    sys.exit("server did not come up")


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=120) as r:
        body: dict[str, Any] = json.loads(r.read())
    return body


def run_job(port: int, name: str) -> dict[str, Any]:
    """Run one of the server's jobs now (``POST /api/admin/jobs/{name}``)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/admin/jobs/{name}", data=b"", method="POST",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=3600) as r:
            body: dict[str, Any] = json.loads(r.read())
            return dict(body.get("result") or {})
    except urllib.error.HTTPError as exc:  # no such job (a build from before it)
        return {"error": exc.code}


def make_site(data: Path) -> tuple[str, str]:
    from footfall.meta.repo import Metadata

    meta = Metadata(f"sqlite:///{data / 'meta.sqlite3'}")
    meta.migrate()
    site, key = meta.create_site("Footprint", [HOST], "UTC")
    meta.close()
    return site.id, key


# ------------------------------------------------------------------------------ sender


def child_sender(args: argparse.Namespace) -> None:
    """(In its own process.) Sends its share of the events, in time order, as batches."""
    import http.client

    import msgspec
    from synth import _paths, _referrers, _user_agents

    rng = random.Random(args.part)
    paths, refs = _paths(random.Random(1)), _referrers(random.Random(1))
    uas = [ua for ua, _ in _user_agents()]
    visitors = max(1, args.events // 10)
    end_ms = int(time.time() * 1000) - 60_000
    span_ms = args.days * 86_400_000 - 3_600_000
    share = range(args.part, args.events, args.parts)
    step = span_ms / max(1, args.events)
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=300)
    headers = {"x-api-key": args.key, "content-type": "application/json"}
    enc = msgspec.json.Encoder()
    sent = retries = 0
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal retries
        body = enc.encode({"events": batch})
        while True:
            conn.request("POST", "/api/events", body, headers)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status == 202:
                return
            if resp.status == 503:  # spool full: the writer is behind; wait as told
                retries += 1
                time.sleep(0.5)
                continue
            raise SystemExit(f"/api/events answered {resp.status}: {raw[:300]!r}")

    for i in share:
        v = min(visitors - 1, int(visitors * rng.random() ** 1.5))
        path = paths[min(len(paths) - 1, int(len(paths) * rng.random() ** 2.5))]
        ev: dict[str, Any] = {
            "event_type": "pageview", "path": path, "url": f"https://{HOST}{path}",
            "referrer": refs[min(len(refs) - 1, int(len(refs) * rng.random() ** 3))],
            "user_agent": uas[v % len(uas)], "screen": "1920x1080", "language": "en-US",
            "ip": f"10.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}",
            "timestamp": end_ms - span_ms + int(i * step),
        }  # fmt: skip
        if rng.random() < 0.1:
            ev["event_type"] = "Signup"
            ev["metadata"] = {"plan": rng.choice(["free", "pro"])}
        batch.append(ev)
        if len(batch) == args.batch:
            flush()
            sent += len(batch)
            batch = []
    if batch:
        flush()
        sent += len(batch)
    print("BENCHJSON " + json.dumps({"sent": sent, "retries": retries}), flush=True)


def load(args: argparse.Namespace, port: int, key: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                "--port",
                str(port),
                "--key",
                key,
                "--events",
                str(args.events),
                "--days",
                str(args.days),
                "--part",
                str(i),
                "--parts",
                str(args.senders),
                "--batch",
                "500",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        for i in range(args.senders)
    ]
    sent = retries = 0
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            sys.exit(f"sender failed ({p.returncode})")
        got = json.loads(next(ln for ln in out.splitlines() if ln.startswith("BENCHJSON "))[10:])
        sent += got["sent"]
        retries += got["retries"]
    took = time.perf_counter() - t0
    return {"sent": sent, "load_s": took, "accepted_eps": sent / took, "retries_503": retries}


# ------------------------------------------------------------------------------ a variant


def one_variant(args: argparse.Namespace, name: str, root: Path) -> dict[str, Any]:
    env = VARIANTS[name]
    work = root / name
    if work.exists():
        shutil.rmtree(work)
    data = work / "data"
    data.mkdir(parents=True)
    site_id, key = make_site(data)
    logf = work / "server.log"
    port = free_port()
    res: dict[str, Any] = {"variant": name, "env": env}
    proc, res["start_empty_s"] = start(data, port, env, logf)
    sampler = Sampler(proc.pid, data)
    sampler.start()
    try:
        sampler.phase = "load"
        log(f"{name}: loading {args.events:,} events over {args.days} days ...")
        cpu0 = tree_cpu(proc.pid)
        res.update(load(args, port, key))
        last_ack = time.perf_counter()
        cpu_ack = tree_cpu(proc.pid)
        res["load_cpu_s"] = cpu_ack - cpu0
        res["load_cpu_us_event"] = res["load_cpu_s"] / max(1, args.events) * 1e6
        log(
            f"{name}: acknowledged in {res['load_s']:.0f} s ({res['accepted_eps']:,.0f}/s); waiting for the writer"
        )
        sampler.phase = "after"
        while health(port)["writer"]["lag_events"] > 0:
            time.sleep(0.2)
        res["visible_s"] = time.perf_counter() - last_ack
        today = (datetime.now() - timedelta(minutes=1)).date().isoformat()
        qs = HttpSet(port, dashboard_set(site_id, today, min(30, args.days)))
        first: dict[str, float] | None = None
        fast_at = float("nan")
        while time.perf_counter() - last_ack < args.fast_cap:
            try:
                _, times = qs.parallel()
            except (OSError, RuntimeError) as exc:  # a panel timed out (120 s) or failed
                log(f"{name}: dashboard set failed while folding in: {exc!r}")
                qs.close()
                qs = HttpSet(port, dashboard_set(site_id, today, min(30, args.days)))
                continue
            first = first or times
            if max(times.values()) <= FAST_S:
                fast_at = time.perf_counter() - last_ack
                break
        res["fast_dashboard_s"] = fast_at
        res["after_cpu_s"] = tree_cpu(proc.pid) - cpu_ack
        res["first_set_slowest_s"] = max(first.values()) if first else float("nan")
        sampler.phase = "set"
        walls, panels = [], []
        for _ in range(args.reps):
            wall, times = qs.parallel()
            walls.append(wall)
            panels.append(max(times.values()))
        qs.close()
        res.update(set_p50=pct(walls, 0.5), set_p95=pct(walls, 0.95), panel_p95=pct(panels, 0.95))
        h = health(port)["writer"]
        stored = int(h["events_written"])
        res["stored"] = stored
        res["disk_bytes"] = dir_bytes(data)
        res["duckdb_bytes"] = (data / "events.duckdb").stat().st_size
        res["bytes_per_event"] = res["disk_bytes"] / max(1, stored)
        # The server's own upkeep: its compaction job now rather than at its first hourly
        # run (a no-op when not due or turned off, as in the baseline), then whatever else
        # it does while idle (rollup runs, checkpoints).
        sampler.phase = "idle"
        t = time.perf_counter()
        res["compaction"] = run_job(port, "compact")
        res["compact_s"] = time.perf_counter() - t
        time.sleep(max(0.0, args.idle - res["compact_s"]))
        res["disk_bytes_idle"] = dir_bytes(data)
        res["bytes_per_event_idle"] = res["disk_bytes_idle"] / max(1, stored)
        qs = HttpSet(port, dashboard_set(site_id, today, min(30, args.days)))
        walls, panels = [], []
        for _ in range(args.reps):
            wall, times = qs.parallel()
            walls.append(wall)
            panels.append(max(times.values()))
        qs.close()
        res.update(set_p95_idle=pct(walls, 0.95), panel_p95_idle=pct(panels, 0.95))
    finally:
        sampler.stop.set()
        stop_server(proc, grace=600)
    res["peak_rss"] = sampler.peak()
    res["peak_pss"] = sampler.peak_pss()
    res["peak_rss_supervisor"] = max(sampler.root, default=0)
    for phase, _ in PHASES:  # where the peak is
        res[f"peak_rss_{phase}"] = sampler.peak(phase)
    res["rss_after_median"] = sampler.median("set")
    res["rss_load_median"] = sampler.median("load")
    phase, at, parts = sampler.disk_peak()
    res["disk_peak"] = sum(parts.values())
    res["disk_peak_where"] = {"phase": phase, "at": time.strftime("%H:%M:%S", time.localtime(at)),
                              **{k: round(v / 1e6, 1) for k, v in sorted(parts.items())}}  # fmt: skip
    for ph, _ in PHASES:
        res[f"disk_peak_{ph}"] = max(
            (sum(p.values()) for f, _, p in sampler.disk if f == ph), default=0
        )
    if args.disk_log:  # every sample, to see what grew when
        with open(args.disk_log, "a") as f:
            for ph, t, p in sampler.disk:
                f.write(json.dumps({"variant": name, "phase": ph, "t": round(t, 1), **p}) + "\n")
    res["disk_bytes_stopped"] = dir_bytes(data)
    res["bytes_per_event_stopped"] = res["disk_bytes_stopped"] / max(1, res["stored"])
    proc, res["start_full_s"] = start(data, free_port(), env, logf)
    stop_server(proc, grace=600)
    if args.keep:  # the other benches open a kept store by its manifest (bench/procs.open_copy)
        manifest = {"site_id": site_id, "tz": "UTC", "events": res["stored"],
                    "end_date": datetime.now().date().isoformat()}  # fmt: skip
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1))
    else:
        shutil.rmtree(work)
    log(
        f"{name}: "
        + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()})
    )
    return res


def report(runs: dict[str, list[dict[str, Any]]], events: int) -> None:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    rows = [
        ("peak RSS of the server's tree (MiB)", "peak_rss", lambda v: f"{v / 2**20:,.0f}"),
        ("peak PSS of the server's tree (MiB)", "peak_pss", lambda v: f"{v / 2**20:,.0f}"),
        (
            "peak RSS of the supervisor alone (MiB)",
            "peak_rss_supervisor",
            lambda v: f"{v / 2**20:,.0f}",
        ),
        *(
            (f"peak RSS: {label} (MiB)", f"peak_rss_{phase}", lambda v: f"{v / 2**20:,.0f}")
            for phase, label in PHASES
        ),  # fmt: skip
        ("median RSS during the load (MiB)", "rss_load_median", lambda v: f"{v / 2**20:,.0f}"),
        (
            "median RSS during the dashboard sets (MiB)",
            "rss_after_median",
            lambda v: f"{v / 2**20:,.0f}",
        ),
        ("bytes/event on disk after the load", "bytes_per_event", lambda v: f"{v:,.1f}"),
        *(
            (
                f"peak bytes on disk: {label} (MB, sampled each second)",
                f"disk_peak_{phase}",
                lambda v: f"{v / 1e6:,.0f}",
            )
            for phase, label in PHASES
        ),  # fmt: skip
        (
            f"bytes/event after {ARGS.idle:.0f} s idle",
            "bytes_per_event_idle",
            lambda v: f"{v:,.1f}",
        ),
        ("compaction job (s)", "compact_s", lambda v: f"{v:.1f}"),
        ("bytes/event after stopping", "bytes_per_event_stopped", lambda v: f"{v:,.1f}"),
        ("start to /api/health, empty (s)", "start_empty_s", lambda v: f"{v:.2f}"),
        ("start to /api/health, full (s)", "start_full_s", lambda v: f"{v:.2f}"),
        ("load: accepted events/s", "accepted_eps", lambda v: f"{v:,.0f}"),
        ("last ack -> all visible (s)", "visible_s", lambda v: f"{v:.1f}"),
        ("last ack -> every panel <= 1 s (s)", "fast_dashboard_s", lambda v: f"{v:.1f}"),
        ("server tree CPU during the load (s)", "load_cpu_s", lambda v: f"{v:,.1f}"),
        (
            "server tree CPU an event during the load (us)",
            "load_cpu_us_event",
            lambda v: f"{v:,.0f}",
        ),
        ("server tree CPU, last ack -> fast dashboard (s)", "after_cpu_s", lambda v: f"{v:,.1f}"),
        (
            "first set after the load: slowest panel (ms)",
            "first_set_slowest_s",
            lambda v: f"{v * 1000:,.0f}",
        ),
        ("dashboard set wall p50 (ms)", "set_p50", lambda v: f"{v * 1000:,.0f}"),
        ("dashboard set wall p95 (ms)", "set_p95", lambda v: f"{v * 1000:,.0f}"),
        ("slowest panel p95 (ms)", "panel_p95", lambda v: f"{v * 1000:,.0f}"),
        ("after the upkeep: set wall p95 (ms)", "set_p95_idle", lambda v: f"{v * 1000:,.0f}"),
        (
            "after the upkeep: slowest panel p95 (ms)",
            "panel_p95_idle",
            lambda v: f"{v * 1000:,.0f}",
        ),
    ]
    names = list(runs)
    print(f"\n{events:,} events; medians of {len(runs[names[0]])} run(s) per variant\n")
    head = "| figure | " + " | ".join(names) + (" | ratio |" if len(names) == 2 else " |")
    print(head)
    print("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for label, key, fmt in rows:
        vals = [med(n, key) for n in names]
        cells = " | ".join(fmt(v) for v in vals)
        ratio = f" | {vals[1] / vals[0]:.2f}× |" if len(names) == 2 and vals[0] else " |"
        print(f"| {label} | {cells}{ratio if len(names) == 2 else ' |'}")


ARGS: argparse.Namespace


def main() -> None:
    global ARGS
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=28, help="at most FOOTFALL_MAX_PAST_DAYS (30)")
    ap.add_argument("--variants", default="baseline,default")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument(
        "--idle", type=float, default=90, help="seconds left to the server's own upkeep"
    )
    ap.add_argument(
        "--fast-cap", type=float, default=600, help="give up waiting for a fast dashboard"
    )
    ap.add_argument("--dir", default="/tmp/footfall-bench-footprint")
    ap.add_argument("--keep", action="store_true", help="keep the data directories")
    ap.add_argument(
        "--code-baseline",
        default=None,
        help="a checkout whose footfall package the 'code' variant's server runs "
        "(today's defaults, the code of before): --variants code,default; other variants: "
        "limit=384MiB (DuckDB's limit), env:K=V+K2=V2 (the server's environment)",
    )
    ap.add_argument("--json", default=None)
    ap.add_argument("--log-level", default="warning", help="the server's (info: its jobs' runs)")
    ap.add_argument("--disk-log", default=None, help="append every disk sample (JSON lines) here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--parts", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=500, help=argparse.SUPPRESS)
    ARGS = args = ap.parse_args()
    if args.child:
        child_sender(args)
        return
    for name in args.variants.split(","):  # "limit=384MiB": today's code under that limit
        if name.startswith("limit="):
            VARIANTS[name] = {"FOOTFALL_DUCKDB_MEMORY_LIMIT": name.removeprefix("limit=")}
        elif name.startswith("env:"):  # "env:K=V+K2=V2": today's code with those variables
            VARIANTS[name] = dict(kv.split("=", 1) for kv in name[4:].split("+"))
    if args.code_baseline:
        VARIANTS["code"] = {"PYTHONPATH": str(Path(args.code_baseline).resolve())}
    root = Path(args.dir) / str(args.events)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in args.variants.split(",")}
    for _ in range(args.repeat):
        for name in runs:  # alternating, so drift of the machine hits both alike
            runs[name].append(one_variant(args, name, root))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    report(runs, args.events)
    for name, rs in runs.items():  # what the largest sampled disk use was made of (MB)
        for r in rs:
            print(
                f"{name}: peak on disk {r['disk_peak'] / 1e6:,.0f} MB: {json.dumps(r['disk_peak_where'])}"
            )


if __name__ == "__main__":
    main()
