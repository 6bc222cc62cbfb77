# ruff: noqa: E501  (SQL and data tables read better unwrapped, as in footfall/query/builder.py)
"""Query benchmark: the dashboard's queries on a realistic synthetic site, warm and cold,
in process and over HTTP, against a plain scan, checked against raw SQL, with ingestion
running alongside.

    .venv/bin/python bench/query.py [--events N | --quick] [--days D] [--keep] [--reps R]
                                    [--range-days 30] [--tz ZONE] [--no-http] [--proto]
                                    [--duckdb-threads N] [--explain] [--json F]
    .venv/bin/python bench/query_summary.py RUN.json ...   # medians over --json runs

A 10M run takes about 6 minutes here (generation ~1.5-2 min, skipped with --keep).

Steps (each prints as it goes; a table at the end):

1. generate  a fresh store (``bench/synth.py``: DuckDB SQL straight into the store, the
             sessions table folded from the events the way the writer folds it) in
             ``--dir`` (default /tmp/footfall-bench-query/<events>-<days>d); ``--keep``
             reuses it when it exists.
2. warm      the dashboard set (``dashboard_set``: top stats with comparison, time series,
             pages, entry pages, sources, countries, devices, browsers, custom events, and
             top stats filtered by source and page) through ``QueryRunner`` in this
             process: per query p50/p95 run one after another, and the wall-clock of the
             whole set loaded in parallel on a pool of 6 threads as the dashboard loads it.
             No result cache exists; nothing is cached between repetitions except by
             DuckDB itself (its buffer pool) and the OS page cache.
3. scan      a plain scan of the same rows (count and distinct visitors over the range)
             and of the whole table, in the same process: the ratio set / scan.
4. check     every answer of the set against SQL written separately over the raw events
             (local days from ICU time zones, visits from each session's first event, ...).
5. cold      a freshly started process opens the store and loads the set once (x3). The
             OS page cache stays warm: nothing here drops the machine's caches.
6. http      the real ``footfall serve`` on the same store (DuckDB allows one process per
             file, so this process lets go of it first): the set over ``POST /api/v2/query``,
             then ingestion (``POST /api/events`` batches to a second site, from a sender
             process) alone, while dashboards load back to back (6 at a time), and while
             they load one query at a time; events/s accepted and written; then the same
             sender against a server on an empty store. The ingested site's rows are
             deleted again at the end, so a --keep rerun sees the same store.
7. --proto   (optional) the set answered from prototype exact rollups
             (``bench/rollup_proto.py``), compared with the query layer's answers and timed
             the same way, to size the proposal in the closing notes of issue 3.

Targets (issue 3, this 2-core machine): the parallel 30-day set p95 <= 300 ms warm at 10M
events, <= 1.5 s at 100M. Numbers are noisy on a shared machine: compare medians of runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import http.client
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.append(str(ROOT))

from procs import die_with_parent  # noqa: E402

ADMIN_TOKEN = "bench-admin-token"
SITE_NAME = "Bench Shop"
INGEST_SITE_NAME = "Ingest Bench"
INGEST_HOST = "ingest.shop.example.com"
POOL = 6  # parallel requests of one dashboard load (a browser's connections per host)
TARGET_MS = {10_000_000: 300.0, 100_000_000: 1500.0}


# ------------------------------------------------------------------------------ helpers


def pct(values: list[float], q: float) -> float:
    """Percentile with linear interpolation (p95 of 10 samples lies between the top two)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(seconds: float) -> str:
    return (
        "-"
        if seconds != seconds
        else f"{seconds * 1000:,.0f}"
        if seconds >= 0.1
        else f"{seconds * 1000:,.1f}"
    )


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def half_up(value: Decimal | float | int, places: int) -> float:
    return float(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------------------ the set


def dashboard_set(site_id: str, today: str, range_days: int) -> list[tuple[str, dict[str, Any]]]:
    """What one dashboard load asks for (see footfall/dashboard/static/js/dash), plus the
    top stats again under a source + page filter (a dashboard with two filters applied)."""
    base = {"site_id": site_id, "date_range": f"{range_days}d", "date": today}
    top = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]

    def panel(dim: str, metrics: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        return {**base, "metrics": metrics or ["visitors"], "dimensions": [dim], "limit": 10,
                "include": {"total_rows": True}, **extra}  # fmt: skip

    return [
        ("top_stats", {**base, "metrics": top, "compare": "previous_period"}),
        ("timeseries", {**base, "metrics": ["visitors", "pageviews"], "dimensions": ["time:day"],
                        "include": {"time_labels": True}}),  # fmt: skip
        ("pages", panel("event:page", ["visitors", "pageviews"])),
        ("entry_pages", panel("visit:entry_page", ["visitors", "visits"])),
        ("sources", panel("visit:source")),
        ("countries", panel("visit:country")),
        ("devices", panel("visit:device")),
        ("browsers", panel("visit:browser")),
        ("custom_events", panel("event:name", ["visitors", "events"],
                                filters=[["is_not", "event:name", ["pageview", "engagement"]]])),
        # Plausible's dashboard leaves views per visit out under a page filter (refused).
        ("top_stats_filtered", {**base, "metrics": [m for m in top if m != "views_per_visit"],
                                "compare": "previous_period",
                                "filters": [["is", "visit:source", ["Google"]],
                                            ["contains", "event:page", ["/blog"]]]}),
    ]  # fmt: skip


# ------------------------------------------------------------------------------ store


def store_dir(args: argparse.Namespace) -> Path:
    if args.dir:
        return Path(args.dir)
    return Path("/tmp/footfall-bench-query") / f"{args.events}-{args.days}d"


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the store (or reuse it with --keep); returns the manifest."""
    from synth import HOSTNAME, Spec, generate

    from footfall.meta.repo import Metadata
    from footfall.store.duckdb import DuckDBStore

    root = store_dir(args)
    manifest_path = root / "manifest.json"
    if args.keep and manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        log(f"reusing {root} ({manifest['events']:,} events generated {manifest['now']})")
        manifest["reused"] = True
        return manifest
    if root.exists():
        shutil.rmtree(root)
    data = root / "data"
    data.mkdir(parents=True)
    free_gb = shutil.disk_usage(root).free / 1e9
    need_gb = args.events * 80 / 1e9  # ~62 bytes/event stored, plus temp space
    if need_gb > free_gb * 0.8:
        sys.exit(f"need about {need_gb:.0f} GB, {free_gb:.0f} GB free under {root}")
    meta = Metadata(f"sqlite:///{data / 'meta.sqlite3'}")
    meta.migrate()
    site, _ = meta.create_site(SITE_NAME, [HOSTNAME], args.tz)
    # A domain belongs to one site: the ingest site takes the shop's events by a subdomain.
    ingest_site, ingest_key = meta.create_site(INGEST_SITE_NAME, [INGEST_HOST], "UTC")
    meta.close()
    log(f"generating {args.events:,} events over {args.days} days into {data} ...")
    # Generating folds 10M events into visits in one statement: more than a small server's
    # default limit (footfall/store/duckdb/sizing.py), and not what is measured here.
    store = DuckDBStore(data / "events.duckdb", memory_limit="8GiB")
    store.open()
    try:
        spec = Spec(site.id, args.events, args.days, args.visitors, args.seed)
        info = generate(store.con, spec, log=log)
        visitors = store.con.execute(
            "SELECT count(DISTINCT visitor_id) FROM events WHERE site_id = ?", [site.id]
        ).fetchone()[0]  # type: ignore[index]
    finally:
        store.close()
    size = (data / "events.duckdb").stat().st_size
    log(f"generated in {info['seconds']:.0f} s: {info['events']:,} events, {info['sessions']:,} "
        f"visits, {visitors:,} visitors, {size / 1e6:,.0f} MB")  # fmt: skip
    end_local = datetime.fromisoformat(info["now"]).astimezone(_zone(args.tz)).date()
    manifest = {
        **info, "visitors": int(visitors), "site_id": site.id, "tz": args.tz,
        "ingest_site_id": ingest_site.id, "ingest_key": ingest_key, "days": args.days,
        "end_date": end_local.isoformat(), "bytes": size, "generate_seconds": info["seconds"],
    }  # fmt: skip
    manifest_path.write_text(json.dumps(manifest, indent=1))
    manifest["reused"] = False
    return manifest


def _zone(tz: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)


def site_info(manifest: dict[str, Any]) -> Any:
    from footfall.meta.repo import SiteInfo

    return SiteInfo(manifest["site_id"], SITE_NAME, ("shop.example.com",), manifest["tz"],
                    datetime(2024, 1, 1))  # fmt: skip


def open_runner(manifest: dict[str, Any], root: Path, threads: int = 0,
                rollups: bool = True) -> tuple[Any, Any]:  # fmt: skip
    from footfall.query.runner import QueryRunner
    from footfall.store.duckdb import DuckDBStore

    store = DuckDBStore(root / "data" / "events.duckdb", threads=threads)
    store.open()
    return store, QueryRunner(store, rollups=rollups)


# ------------------------------------------------------------------------------ rollups


PENDING_MINUTES = 5  # touched since the last seal: 5x the default seal interval


def measure_rollups(
    args: argparse.Namespace, manifest: dict[str, Any], root: Path
) -> dict[str, Any]:
    """Build the exact rollups (footfall/store/duckdb/rollups.py) as ``footfall serve``'s
    rollups job would on first start and time the seals of the last day's visitors, in
    hourly turns (which leaves reach with the tail of appended rows a live site has, up to
    the point where the job re-sorts it). Then, as
    on a live site between two seals (every 60 s by default), mark the visitors active in
    the data's last ``PENDING_MINUTES`` as touched: the set reads their days from raw
    events, and today's sums (pageviews, events, visitors by day) from raw events too."""
    from footfall.query.period import local_midnight_utc
    from footfall.query.rollup import spec
    from footfall.store.duckdb import DuckDBStore

    store = DuckDBStore(root / "data" / "events.duckdb", threads=args.duckdb_threads)
    store.open()
    sites = {manifest["site_id"]: manifest["tz"], manifest["ingest_site_id"]: "UTC"}
    site = manifest["site_id"]
    try:
        t = time.perf_counter()
        built = store.maintain_rollups(sites, spec())["built"]
        build_s = time.perf_counter() - t
        last = date.fromisoformat(manifest["end_date"])
        today = local_midnight_utc(last, _zone(manifest["tz"]))

        # The last day's visitors sealed as the rollups job seals them through a day: in
        # turns (one per hour of their last event here, where the job runs every minute),
        # each turn's rows appended after the last one's.
        store.query("DELETE FROM rollup_pending WHERE site_id = ?", [site])
        hours = [h for (h,) in store.query("SELECT DISTINCT date_trunc('hour', ts) AS h FROM events "
                                           "WHERE site_id = ? AND ts >= ? ORDER BY h", [site, today])]  # fmt: skip
        touched, seal_s, resorted = 0, 0.0, False
        for h in hours:
            store.query("INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) "
                        "SELECT site_id, visitor_id, min(ts), max(ts) FROM events WHERE site_id = ? "
                        "AND ts >= ? GROUP BY ALL HAVING max(ts) >= ? AND max(ts) < ?",
                        [site, today, h, h + timedelta(hours=1)])  # fmt: skip
            touched += int(
                store.query("SELECT count(*) FROM rollup_pending WHERE site_id = ?", [site])[0][0]
            )
            t = time.perf_counter()
            resorted |= bool(store.maintain_rollups(sites, spec()).get("resorted"))
            seal_s += time.perf_counter() - t
        # Seals append their rows after the built ones; the rollups job re-sorts the current
        # windows once those are 1% of them (rollups_upkeep.py). Say which state the
        # set is measured in: just re-sorted, or with that many appended rows to scan too.
        tail = int(
            store.query("SELECT sealed_rows FROM rollup_state WHERE site_id = ?", [site])[0][0]
        )
        store.query("INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) "
                    "SELECT site_id, visitor_id, min(ts), max(ts) FROM events WHERE site_id = ? "
                    "AND visitor_id IN (SELECT visitor_id FROM events WHERE site_id = ? AND ts >= "
                    "(SELECT max(ts) FROM events WHERE site_id = ?) - to_minutes(?)) "
                    "AND ts >= ? GROUP BY ALL", [site, site, site, PENDING_MINUTES, today])  # fmt: skip
        pending = int(
            store.query("SELECT count(*) FROM rollup_pending WHERE site_id = ?", [site])[0][0]
        )
        reach_rows = int(store.query("SELECT count(*) FROM reach WHERE site_id = ?", [site])[0][0])
        daily_rows = int(store.query("SELECT count(*) FROM daily WHERE site_id = ?", [site])[0][0])
        store.idle()
    finally:
        store.close()
    size = (root / "data" / "events.duckdb").stat().st_size
    if built:
        log(f"rollups built in {build_s:.0f} s: reach {reach_rows:,} rows, daily {daily_rows:,} rows; "
            f"store now {size / 1e6:,.0f} MB")  # fmt: skip
    else:
        log(f"rollups already built: reach {reach_rows:,} rows, daily {daily_rows:,} rows")
    log(f"seals of the last day's {touched:,} visitors in {len(hours)} turns: {seal_s:.2f} s"
        f"{' (with a re-sort of the current windows)' if resorted else ''}; reach rows appended "
        f"since the last re-sort: {tail:,}; {pending:,} visitors of the last {PENDING_MINUTES} "
        "minutes left pending")  # fmt: skip
    return {"built": bool(built), "build_s": build_s if built else None, "seal_s": seal_s,
            "touched_visitors": touched, "resorted": resorted, "appended_rows": tail, "pending_visitors": pending, "reach_rows": reach_rows, "daily_rows": daily_rows,
            "bytes": size}  # fmt: skip


# ------------------------------------------------------------------------------ in process


class InProcess:
    """Runs the set through QueryRunner, one query after another or on a thread pool."""

    def __init__(self, runner: Any, site: Any, queries: list[tuple[str, dict[str, Any]]]):
        from footfall.query.model import parse_query

        self.runner, self.site = runner, site
        self.queries = queries
        self.parse = parse_query
        self.pool = cf.ThreadPoolExecutor(POOL)
        self.cpu: list[float] = []  # process CPU seconds per set (all threads)

    def one(self, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        t = time.perf_counter()
        result = self.runner.run(self.parse(body), self.site)
        return time.perf_counter() - t, result

    def sequential(self) -> tuple[float, dict[str, float], dict[str, Any]]:
        times, results = {}, {}
        t, c = time.perf_counter(), time.process_time()
        for name, body in self.queries:
            times[name], results[name] = self.one(body)
        self.cpu.append(time.process_time() - c)
        return time.perf_counter() - t, times, results

    def parallel(self) -> tuple[float, dict[str, float], dict[str, Any]]:
        t, c = time.perf_counter(), time.process_time()
        futures = {name: self.pool.submit(self.one, body) for name, body in self.queries}
        done = {name: f.result() for name, f in futures.items()}
        wall = time.perf_counter() - t
        self.cpu.append(time.process_time() - c)
        return wall, {n: d[0] for n, d in done.items()}, {n: d[1] for n, d in done.items()}

    def close(self) -> None:
        self.pool.shutdown()


def measure_in_process(args: argparse.Namespace, manifest: dict[str, Any], root: Path,
                       queries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:  # fmt: skip
    from footfall.query.period import period

    store, runner = open_runner(manifest, root, args.duckdb_threads, rollups=not args.no_rollups)
    bench = InProcess(runner, site_info(manifest), queries)
    out: dict[str, Any] = {}
    try:
        t = time.perf_counter()
        first_wall, _, _ = bench.parallel()  # this process's first load: warms DuckDB's cache
        out["first_set_s"] = first_wall
        log(f"first (warming) parallel set: {ms(first_wall)} ms")
        seq_walls: list[float] = []
        per_query: dict[str, list[float]] = {name: [] for name, _ in queries}
        bench.cpu.clear()
        for _ in range(args.reps):
            wall, times, results = bench.sequential()
            seq_walls.append(wall)
            for name, s in times.items():
                per_query[name].append(s)
        seq_cpu = list(bench.cpu)
        bench.cpu.clear()
        par_walls: list[float] = []
        par_query: dict[str, list[float]] = {name: [] for name, _ in queries}
        for _ in range(args.reps):
            wall, times, results = bench.parallel()
            par_walls.append(wall)
            for name, s in times.items():
                par_query[name].append(s)
        out.update(seq_walls=seq_walls, par_walls=par_walls, per_query=per_query,
                   par_query=par_query, results=results, seq_cpu=seq_cpu,
                   par_cpu=list(bench.cpu))  # fmt: skip
        log(f"warm: sequential set p50 {ms(pct(seq_walls, .5))} ms, parallel set p50 "
            f"{ms(pct(par_walls, .5))} / p95 {ms(pct(par_walls, .95))} ms "
            f"({time.perf_counter() - t:.0f} s)")  # fmt: skip

        # Plain scans of the same rows, in the same process and the same conditions.
        first = date.fromisoformat(manifest["end_date"]) - timedelta(days=args.range_days - 1)
        p = period(first, date.fromisoformat(manifest["end_date"]), manifest["tz"])
        scans = {
            "scan_range": ("SELECT count(*), count(DISTINCT visitor_id) FROM events "
                           "WHERE site_id = ? AND ts >= ? AND ts < ?",
                           [manifest["site_id"], p.start_utc, p.end_utc]),
            "scan_range_visits": ("SELECT count(*) FILTER (WHERE name = 'pageview'), "
                                  "count(DISTINCT session_id) FROM events "
                                  "WHERE site_id = ? AND ts >= ? AND ts < ?",
                                  [manifest["site_id"], p.start_utc, p.end_utc]),
            "scan_all": ("SELECT count(*), count(DISTINCT visitor_id), count(DISTINCT session_id) "
                         "FROM events WHERE site_id = ?", [manifest["site_id"]]),
        }  # fmt: skip
        out["scans"] = {}
        out["scan_rows"] = {}
        for name, (sql, params) in scans.items():
            scan_times: list[float] = []
            for _ in range(max(3, args.reps // 2)):
                t = time.perf_counter()
                row = store.query(sql, params)[0]
                scan_times.append(time.perf_counter() - t)
            out["scans"][name] = scan_times
            out["scan_rows"][name] = [int(v or 0) for v in row]
        out["range_rows"] = out["scan_rows"]["scan_range"][0]
        log("scans: " + ", ".join(f"{k} p50 {ms(pct(v, 0.5))} ms" for k, v in out["scans"].items()))

        t = time.perf_counter()
        out["checks"] = check(store, manifest, args.range_days, out["results"])
        log(f"checks: {sum(ok for _, ok, _ in out['checks'])}/{len(out['checks'])} OK "
            f"({time.perf_counter() - t:.0f} s)")  # fmt: skip
        if args.explain:
            out["explain"] = explain(store, runner, manifest, queries)
        if args.proto:
            out["proto"] = measure_proto(args, manifest, root, store, bench, out["results"])
    finally:
        bench.close()
        store.close()
    return out


# ------------------------------------------------------------------------------ checks


def check(store: Any, manifest: dict[str, Any], range_days: int,
          results: dict[str, Any]) -> list[tuple[str, bool, str]]:  # fmt: skip
    """The set's answers against SQL written separately over the raw events: local days
    from DuckDB's ICU time zones (not the query layer's offset arithmetic), visits and their
    entry page, source, duration and bounce from each session's own events."""
    con = store.con.cursor()
    site, tz = manifest["site_id"], manifest["tz"]
    last = date.fromisoformat(manifest["end_date"])
    first = last - timedelta(days=range_days - 1)
    prev_first, prev_last = first - timedelta(days=range_days), first - timedelta(days=1)
    # Big stores: only the events from two days before the compared ranges (visits here
    # last minutes, so none is cut), to keep the temporary tables in memory.
    cut = datetime(1970, 1, 1)
    if manifest["events"] > 20_000_000:
        cut = datetime.combine(prev_first - timedelta(days=2), datetime.min.time())
    cut_next = cut + timedelta(days=1)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _chk AS SELECT session_id, visitor_id, name, pathname, "
        "referrer_source, country, device, browser, interactive, ts, "
        "CAST(timezone(?, ts AT TIME ZONE 'UTC') AS DATE) AS day FROM events "
        "WHERE site_id = ? AND ts >= ?",
        [tz, site, cut],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _chk_s AS SELECT session_id, min(ts) AS st, max(ts) AS en, "
        "arg_min(day, ts) AS sday, arg_min(pathname, ts) FILTER (WHERE name = 'pageview') AS entry, "
        "arg_min(referrer_source, ts) AS src, count(*) FILTER (WHERE name = 'pageview') AS pv, "
        "count(*) FILTER (WHERE interactive) AS ia FROM _chk GROUP BY session_id"
    )
    out: list[tuple[str, bool, str]] = []
    asked = {
        name: body.get("metrics", [])
        for name, body in dashboard_set(site, manifest["end_date"], range_days)
    }

    def q(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = con.execute(sql, params).fetchall()
        return rows

    def top_stats(
        a: date, b: date, event_filter: str = "TRUE", entered: str = "TRUE"
    ) -> dict[str, Any]:
        """``entered``: the page filter read on the entry page (``s.entry``), which is
        what bounce rate is over under an event:page filter (docs/design.md, metrics)."""
        ev = (f"FROM _chk e JOIN _chk_s s USING (session_id) WHERE e.day BETWEEN ? AND ? "
              f"AND {event_filter}")  # fmt: skip
        visitors, pageviews = q(
            f"SELECT count(DISTINCT e.visitor_id), count(*) FILTER (WHERE e.name = 'pageview') {ev}",
            [a, b],
        )[0]
        visits, dur = q(
            "SELECT count(*), sum(epoch_ms(en) - epoch_ms(st)) FROM _chk_s WHERE sday BETWEEN ? AND ? "
            f"AND session_id IN (SELECT e.session_id {ev})",
            [a, b, a, b],
        )[0]
        entries, bounces = q(
            "SELECT count(*), count(*) FILTER (WHERE pv = 1 AND ia = 1) FROM _chk_s s WHERE sday BETWEEN ? AND ? "
            f"AND {entered} AND session_id IN (SELECT e.session_id {ev})",
            [a, b, a, b],
        )[0]
        dur = int(dur or 0)
        return {
            "visitors": visitors, "visits": visits, "pageviews": pageviews,
            "views_per_visit": half_up(Decimal(pageviews) / visits, 2) if visits else 0.0,
            "bounce_rate": half_up(Decimal(100 * bounces) / entries, 1) if entries else 0.0,
            "visit_duration": int(half_up(Decimal(dur) / (1000 * visits), 0)) if visits else 0,
        }  # fmt: skip

    def change(c: Any, p: Any) -> float | None:
        return (
            None
            if not p
            else half_up((Decimal(str(c)) - Decimal(str(p))) / Decimal(str(p)) * 100, 1)
        )

    def compare_top(name: str, event_filter: str, entered: str = "TRUE") -> None:
        res = results[name]["results"]
        now, prev = (
            top_stats(first, last, event_filter, entered),
            top_stats(prev_first, prev_last, event_filter, entered),
        )
        metrics = [m for m in now if m in asked[name]]
        got = res[0]["metrics"] if res else None
        got_prev = res[0]["comparison"]["metrics"] if res else None
        got_change = res[0]["comparison"]["change"] if res else None
        want, want_prev = [now[m] for m in metrics], [prev[m] for m in metrics]
        want_change = [change(now[m], prev[m]) for m in metrics]
        ok = got == want and got_prev == want_prev and got_change == want_change
        detail = f"{dict(zip(metrics, got or [], strict=False))}"
        if not ok:
            detail = (
                f"got {got} / {got_prev} / {got_change}, raw {want} / {want_prev} / {want_change}"
            )
        out.append((name, ok, detail))

    compare_top("top_stats", "TRUE")
    compare_top(
        "top_stats_filtered",
        "s.src = 'Google' AND contains(e.pathname, '/blog')",
        "contains(s.entry, '/blog')",
    )

    # time series: every day of the range, visitors and pageviews
    raw = {
        d.isoformat(): [v, p]
        for d, v, p in q(
            "SELECT day, count(DISTINCT visitor_id), count(*) FILTER (WHERE name = 'pageview') "
            "FROM _chk WHERE day BETWEEN ? AND ? GROUP BY day",
            [first, last],
        )  # fmt: skip
    }
    got = {r["dimensions"][0]: r["metrics"] for r in results["timeseries"]["results"]}
    labels = results["timeseries"]["meta"].get("time_labels", [])
    ok = got == raw and labels == [
        (first + timedelta(days=i)).isoformat() for i in range(range_days)
    ]
    out.append(("timeseries", ok, f"{len(got)} days" if ok else f"got {got}, raw {raw}"))

    def breakdown(name: str, sql: str, params: list[Any]) -> None:
        want = [[r[0], list(r[1:])] for r in q(sql, params)]
        got = [[r["dimensions"][0], r["metrics"]] for r in results[name]["results"]]
        ok = got == want
        out.append(
            (name, ok, f"top {got[0][0]!r} {got[0][1]}" if ok and got else f"got {got}, raw {want}")
        )

    none = "coalesce(nullif({}, ''), '{}')"
    rng = "e.day BETWEEN ? AND ?"
    breakdown("pages",
              f"SELECT {none.format('e.pathname', '(none)')} AS d, count(DISTINCT e.visitor_id) AS v, "
              f"count(*) FILTER (WHERE e.name = 'pageview') FROM _chk e WHERE {rng} "
              "GROUP BY d ORDER BY v DESC, d LIMIT 10", [first, last])  # fmt: skip
    breakdown("entry_pages",
              f"WITH v AS (SELECT {none.format('s.entry', '(none)')} AS d, count(DISTINCT e.visitor_id) AS v "
              f"FROM _chk e JOIN _chk_s s USING (session_id) WHERE {rng} GROUP BY d), "
              f"n AS (SELECT {none.format('entry', '(none)')} AS d, count(*) AS n FROM _chk_s "
              "WHERE sday BETWEEN ? AND ? GROUP BY d) "
              "SELECT d, coalesce(v.v, 0) AS vv, coalesce(n.n, 0) FROM v FULL JOIN n USING (d) "
              "ORDER BY vv DESC, d LIMIT 10", [first, last, first, last])  # fmt: skip
    breakdown("sources",
              f"SELECT {none.format('s.src', 'Direct / None')} AS d, count(DISTINCT e.visitor_id) AS v "
              f"FROM _chk e JOIN _chk_s s USING (session_id) WHERE {rng} "
              "GROUP BY d ORDER BY v DESC, d LIMIT 10", [first, last])  # fmt: skip
    for name, col in (("countries", "country"), ("devices", "device"), ("browsers", "browser")):
        breakdown(name,
                  f"SELECT {none.format('e.' + col, '(none)')} AS d, count(DISTINCT e.visitor_id) AS v "
                  f"FROM _chk e WHERE {rng} GROUP BY d ORDER BY v DESC, d LIMIT 10", [first, last])  # fmt: skip
    breakdown("custom_events",
              "SELECT e.name AS d, count(DISTINCT e.visitor_id) AS v, count(*) FROM _chk e "
              f"WHERE {rng} AND e.name NOT IN ('pageview', 'engagement') "
              "GROUP BY d ORDER BY v DESC, d LIMIT 10", [first, last])  # fmt: skip

    # the sessions table against a fold of the raw events (what the writer maintains)
    bad = q(
        "SELECT count(*) FROM (SELECT * FROM sessions WHERE site_id = ?) t "
        "FULL JOIN _chk_s s USING (session_id) "
        "WHERE (t.site_id IS DISTINCT FROM ? OR t.start_ts IS DISTINCT FROM s.st "
        "OR t.end_ts IS DISTINCT FROM s.en OR t.entry_page IS DISTINCT FROM s.entry "
        "OR t.pageviews IS DISTINCT FROM s.pv OR t.interactive_events IS DISTINCT FROM s.ia "
        "OR t.referrer_source IS DISTINCT FROM s.src) "
        "AND coalesce(s.st, t.start_ts) >= ?",
        [site, site, cut_next],
    )[0][0]
    out.append(("sessions table", bad == 0, f"{bad} visits differ from the raw events"))
    # every event carries its visit's attributes (the first event's) and entry page
    unstamped = q(
        "WITH f AS (SELECT session_id, arg_min(referrer_source, ts) AS src, arg_min(device, ts) AS dev, "
        "arg_min(country, ts) AS co, arg_min(visitor_id, ts) AS vis, "
        "coalesce(arg_min(pathname, ts) FILTER (WHERE name = 'pageview'), '') AS entry "
        "FROM events WHERE site_id = ? AND ts >= ? GROUP BY session_id) "
        "SELECT count(*) FROM events e JOIN f USING (session_id) WHERE e.site_id = ? AND "
        "e.ts >= ? AND (e.referrer_source <> f.src OR e.device <> f.dev OR e.country <> f.co "
        "OR e.visitor_id <> f.vis OR e.entry_page <> f.entry)",
        [site, cut, site, cut_next],
    )[0][0]
    out.append(("visit attributes stamped", unstamped == 0, f"{unstamped} events differ"))
    # a visitor's visits are more than 30 minutes apart (the writer would have joined them)
    close_visits = q(
        "SELECT count(*) FROM (SELECT start_ts, lag(end_ts) OVER (PARTITION BY visitor_id "
        "ORDER BY start_ts) AS prev FROM sessions WHERE site_id = ?) "
        "WHERE start_ts <= prev + INTERVAL 30 MINUTE",
        [site],
    )[0][0]
    out.append(("visits 30 min apart", close_visits == 0, f"{close_visits} visits too close"))
    con.execute("DROP TABLE _chk")
    con.execute("DROP TABLE _chk_s")
    con.close()
    return out


# ------------------------------------------------------------------------------ profile


def explain(store: Any, runner: Any, manifest: dict[str, Any],
            queries: list[tuple[str, dict[str, Any]]]) -> dict[str, list[tuple[str, float]]]:  # fmt: skip
    """Time every statement the runner issues (and keep DuckDB's EXPLAIN ANALYZE of each)."""
    from footfall.query.model import parse_query

    site = site_info(manifest)
    seen: dict[str, list[tuple[str, float]]] = {}
    real_query = store.query
    current: list[str] = []

    def spy(sql: str, params: Any = ()) -> Any:
        t = time.perf_counter()
        rows = real_query(sql, params)
        seen.setdefault(current[0], []).append((sql, time.perf_counter() - t))
        plan = store.con.cursor().execute("EXPLAIN ANALYZE " + sql, list(params)).fetchall()
        plans.append((current[0], sql, plan[0][1]))
        return rows

    plans: list[tuple[str, str, str]] = []
    store.query = spy
    try:
        for name, body in queries:
            current[:] = [name]
            runner.run(parse_query(body), site)
    finally:
        store.query = real_query
    path = Path(store.path).parent.parent / "explain.txt"
    with path.open("w") as f:
        for name, sql, plan in plans:
            f.write(f"=== {name}\n{sql}\n{plan}\n\n")
    log(f"EXPLAIN ANALYZE of every statement written to {path}")
    return seen


# ------------------------------------------------------------------------------ proto


def measure_proto(args: argparse.Namespace, manifest: dict[str, Any], root: Path, store: Any,
                  bench: InProcess, results: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The set answered from prototype reach rollups (bench/rollup_proto.py): same answers?
    how fast? Everything runs in this process on the same store connection."""
    import rollup_proto as rp

    last = date.fromisoformat(manifest["end_date"])
    first = last - timedelta(days=args.range_days - 1)
    sealed = last  # every day before the data's last day is sealed; the last comes raw
    path = root / "rollups.duckdb"
    marker = root / "rollups.json"
    prev_first = first - timedelta(days=args.range_days)
    # Only what this benchmark's two ranges read: their windows, daily rows from prev_first.
    windows = sorted({rp.day_number(first) // 32, rp.day_number(prev_first) // 32})
    want = {"generated": manifest["now"], "sealed": sealed.isoformat(), "kinds": list(rp.KINDS),
            "windows": windows, "since": prev_first.isoformat()}  # fmt: skip
    out: dict[str, Any] = {}
    if not (args.keep and marker.exists() and json.loads(marker.read_text()) == want):
        path.unlink(missing_ok=True)
        store.con.execute(f"ATTACH '{path}' AS r")
        out["build"] = rp.build(store.con, manifest["site_id"], manifest["tz"], sealed,
                                windows, prev_first, log=log)  # fmt: skip
        marker.write_text(json.dumps(want))
    else:
        store.con.execute(f"ATTACH '{path}' AS r")
        out["build"] = None
    proto = rp.Proto(store, bench.site, first, last, sealed, args.range_days)
    names = [n for n, _ in bench.queries]
    bodies = dict(bench.queries)

    def one(name: str) -> tuple[float, dict[str, Any]]:
        t = time.perf_counter()
        if name == "top_stats_filtered":  # filters: the raw path, as today
            r = bench.runner.run(bench.parse(bodies[name]), bench.site)
        else:
            r = proto.run(name)
        return time.perf_counter() - t, r

    # same answers as the query layer (which the checks compared with raw SQL)
    def norm(rows: list[dict[str, Any]]) -> list[Any]:
        return [(r["dimensions"], r["metrics"], r.get("comparison", {}).get("metrics"),
                 r.get("comparison", {}).get("change")) for r in rows]  # fmt: skip

    checks = [(n, norm(one(n)[1]["results"]) == norm(results[n]["results"])) for n in names]
    out["checks"] = checks
    seq_walls: list[float] = []
    per_query: dict[str, list[float]] = {n: [] for n in names}
    cpu: list[float] = []
    for _ in range(args.reps):
        t, c = time.perf_counter(), time.process_time()
        for n in names:
            per_query[n].append(one(n)[0])
        seq_walls.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    par_walls, par_cpu = [], []
    for _ in range(args.reps):
        t, c = time.perf_counter(), time.process_time()
        futures = [bench.pool.submit(one, n) for n in names]
        for f in futures:
            f.result()
        par_walls.append(time.perf_counter() - t)
        par_cpu.append(time.process_time() - c)
    out.update(seq_walls=seq_walls, par_walls=par_walls, per_query=per_query, seq_cpu=cpu,
               par_cpu=par_cpu)  # fmt: skip
    # what sealing one more day would cost: an idempotent OR-merge of the last sealed day
    day = sealed - timedelta(days=1)
    dn = rp.local_day_sql(manifest["tz"])
    parts = " UNION ALL ".join(
        f"SELECT '{k}' AS kind, {v} AS value, visitor_id, {dn} AS dn FROM events "
        f"WHERE site_id = '{manifest['site_id']}' AND ts >= ? AND ts < ?"
        for k, v in rp.KINDS.items()
    )
    from footfall.query.period import period

    p = period(day, day, manifest["tz"])
    t = time.perf_counter()
    store.con.execute("BEGIN TRANSACTION")  # measured, then rolled back: reruns see the same table
    store.con.execute(
        f"""MERGE INTO r.reach t USING (
              SELECT '{manifest["site_id"]}' AS site_id, kind, win, value, visitor_id,
                     bit_or((1::UBIGINT) << (dn - 32 * win)::UBIGINT) AS days
              FROM (SELECT kind, value, visitor_id, dn, unnest([dn // 32, dn // 32 - 1]) AS win FROM ({parts}))
              GROUP BY ALL) s
            ON t.site_id = s.site_id AND t.kind = s.kind AND t.win = s.win AND t.value = s.value
               AND t.visitor_id = s.visitor_id
            WHEN MATCHED THEN UPDATE SET days = t.days | s.days
            WHEN NOT MATCHED THEN INSERT VALUES (s.site_id, s.kind, s.win, s.value, s.visitor_id, s.days)""",
        [p.start_utc, p.end_utc] * len(rp.KINDS),
    )
    out["seal_day_s"] = time.perf_counter() - t
    store.con.execute("ROLLBACK")
    out["reach_bytes"] = path.stat().st_size
    log(f"proto: parallel set p50 {ms(pct(par_walls, .5))} / p95 {ms(pct(par_walls, .95))} ms, "
        f"same answers {sum(ok for _, ok in checks)}/{len(checks)}, "
        f"sealing one day {out['seal_day_s']:.1f} s")  # fmt: skip
    store.con.execute("DETACH r")
    return out


# ------------------------------------------------------------------------------ cold


def child_cold(args: argparse.Namespace) -> None:
    """(In a fresh process.) Open the store and load the set once, in parallel."""
    t0 = time.perf_counter()
    root = Path(args.dir)
    manifest = json.loads((root / "manifest.json").read_text())
    queries = dashboard_set(manifest["site_id"], manifest["end_date"], args.range_days)
    store, runner = open_runner(manifest, root, args.duckdb_threads, rollups=not args.no_rollups)
    t1 = time.perf_counter()
    bench = InProcess(runner, site_info(manifest), queries)
    wall, times, _ = bench.parallel()
    bench.close()
    store.close()
    print("BENCHJSON " + json.dumps({"import_open_s": t1 - t0, "set_s": wall, "per_query": times}))


def measure_cold(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    runs = []
    for _ in range(args.cold_reps):
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", "cold", "--dir", str(root),
             "--range-days", str(args.range_days), "--duckdb-threads", str(args.duckdb_threads),
             *(["--no-rollups"] if args.no_rollups else [])],
            capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        total = time.perf_counter() - t
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
        if line is None:
            sys.exit(f"cold child failed:\n{proc.stdout}\n{proc.stderr}")
        r = json.loads(line[len("BENCHJSON ") :])
        r["process_s"] = total
        runs.append(r)
        log(
            f"cold: process {ms(total)} ms, open {ms(r['import_open_s'])} ms, set {ms(r['set_s'])} ms"
        )
    return runs


# ------------------------------------------------------------------------------ http


class Http:
    """Keep-alive connections, one per thread (the browser's connection pool)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
        for attempt in (0, 1):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=120
                )
            try:
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError


class HttpSet:
    def __init__(self, port: int, queries: list[tuple[str, dict[str, Any]]]) -> None:
        self.http = Http(port)
        self.bodies = [(n, json.dumps(b).encode()) for n, b in queries]
        self.pool = cf.ThreadPoolExecutor(POOL)
        self.headers = {
            "authorization": f"Bearer {ADMIN_TOKEN}",
            "content-type": "application/json",
        }

    def one(self, body: bytes) -> float:
        t = time.perf_counter()
        status, raw = self.http.request("POST", "/api/v2/query", body, self.headers)
        if status != 200:
            raise RuntimeError(f"query answered {status}: {raw[:500]!r}")
        return time.perf_counter() - t

    def parallel(self) -> tuple[float, dict[str, float]]:
        t = time.perf_counter()
        futures = {n: self.pool.submit(self.one, b) for n, b in self.bodies}
        times = {n: f.result() for n, f in futures.items()}
        return time.perf_counter() - t, times

    def serial(self) -> float:
        """The set one query at a time: what a server-side limit of one query would do."""
        t = time.perf_counter()
        for _, b in self.bodies:
            self.one(b)
        return time.perf_counter() - t

    def close(self) -> None:
        self.pool.shutdown()


def start_server(
    data_dir: Path, port: int, log_path: Path, threads: int = 0
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if threads:
        env["FOOTFALL_DUCKDB_THREADS"] = str(threads)
    env.update(
        FOOTFALL_DATA_DIR=str(data_dir), FOOTFALL_ADMIN_TOKEN=ADMIN_TOKEN,
        FOOTFALL_PORT=str(port), FOOTFALL_HOST="127.0.0.1",
        FOOTFALL_RATE_LIMIT_PER_IP="0", FOOTFALL_RATE_LIMIT_PER_KEY="0",
        FOOTFALL_LOG_LEVEL="warning",
    )  # fmt: skip
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "footfall.cli", "serve", "--port", str(port)],
        env=env, cwd=data_dir.parent, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=die_with_parent,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    sys.exit(f"server did not come up:\n{log_path.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen[bytes], grace: float = 120) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def writer_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=60) as r:
        body = json.loads(r.read())
    w = body["writer"]
    return {"written": int(w["events_written"]) + int(w["dropped"]) + int(w["duplicates_skipped"]),
            "lag": int(w["lag_events"]), "at": time.perf_counter()}  # fmt: skip


def child_sender(args: argparse.Namespace) -> None:
    """(In its own process.) Closed-loop batches of events to /api/events for --seconds."""
    from synth import _paths, _referrers, _user_agents

    rng = random.Random(5)
    paths, refs = _paths(rng), _referrers(rng)
    uas = [ua for ua, _ in _user_agents()]
    bodies = []
    for _ in range(64):
        events = []
        for _ in range(args.batch):
            path = paths[min(len(paths) - 1, int(len(paths) * rng.random() ** 2.5))]
            ev: dict[str, Any] = {
                "event_type": "pageview", "path": path, "url": f"https://{INGEST_HOST}{path}",
                "referrer": refs[min(len(refs) - 1, int(len(refs) * rng.random() ** 3))],
                "user_agent": rng.choice(uas), "screen": "1920x1080", "language": "en-US",
                "ip": f"{rng.randint(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}",
            }  # fmt: skip
            if rng.random() < 0.1:
                ev["event_type"] = "Signup"
                ev["metadata"] = {"plan": rng.choice(["free", "pro"])}
            events.append(ev)
        bodies.append(json.dumps({"events": events}).encode())
    client = Http(args.port)
    headers = {"x-api-key": args.key, "content-type": "application/json"}
    stop = time.perf_counter() + args.seconds
    counts: dict[str, float] = {"requests": 0, "accepted": 0, "errors": 0}
    lock = threading.Lock()

    def loop(i: int) -> None:
        j = i
        while time.perf_counter() < stop:
            status, raw = client.request("POST", "/api/events", bodies[j % len(bodies)], headers)
            j += 1
            with lock:
                counts["requests"] += 1
                if status == 202:
                    counts["accepted"] += int(json.loads(raw).get("accepted", 0))
                else:
                    counts["errors"] += 1

    t = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(args.conns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    counts["seconds"] = time.perf_counter() - t
    print("BENCHJSON " + json.dumps(counts), flush=True)


def ingest_phase(args: argparse.Namespace, port: int, key: str, queries: HttpSet | None,
                 serial: bool = False) -> dict[str, Any]:  # fmt: skip
    """Sender for --ingest-seconds; with ``queries``, dashboards load back to back meanwhile."""
    wait_drained(port)
    before = writer_stats(port)
    sender = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", "sender", "--port", str(port),
         "--key", key, "--seconds", str(args.ingest_seconds), "--conns", "2", "--batch", "200"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    walls: list[float] = []
    if queries is not None:
        time.sleep(0.5)
        stop = time.perf_counter() + args.ingest_seconds - 1
        while time.perf_counter() < stop:
            walls.append(queries.serial() if serial else queries.parallel()[0])
    out, _ = sender.communicate(timeout=args.ingest_seconds + 120)
    after = writer_stats(port)
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCHJSON "))
    sent = json.loads(line[len("BENCHJSON ") :])
    drained = wait_drained(port)
    return {
        "accepted_eps": sent["accepted"] / sent["seconds"],
        "written_eps": (after["written"] - before["written"]) / (after["at"] - before["at"]),
        "lag_at_end": after["lag"],
        "drain_s": drained,
        "errors": sent["errors"],
        "set_walls": walls,
        "accepted": sent["accepted"],
    }


def wait_drained(port: int, cap: float = 300) -> float:
    t = time.perf_counter()
    while writer_stats(port)["lag"] > 0 and time.perf_counter() - t < cap:
        time.sleep(0.2)
    return time.perf_counter() - t


def measure_http(args: argparse.Namespace, manifest: dict[str, Any], root: Path,
                 queries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:  # fmt: skip
    port = free_port()
    t = time.perf_counter()
    proc = start_server(root / "data", port, root / "server.log", args.duckdb_threads)
    out: dict[str, Any] = {"server_start_s": time.perf_counter() - t}
    hs = HttpSet(port, queries)
    try:
        out["first_set_s"] = hs.parallel()[0]  # the first dashboard after the server started
        walls: list[float] = []
        per_query: dict[str, list[float]] = {n: [] for n, _ in queries}
        for _ in range(args.reps):
            wall, times = hs.parallel()
            walls.append(wall)
            for n, s in times.items():
                per_query[n].append(s)
        out.update(walls=walls, per_query=per_query)
        log(f"http: first set {ms(out['first_set_s'])} ms, warm set p50 {ms(pct(walls, .5))} / "
            f"p95 {ms(pct(walls, .95))} ms")  # fmt: skip
        if args.ingest_seconds > 0:
            key = manifest["ingest_key"]
            out["ingest_idle"] = ingest_phase(args, port, key, None)
            log(f"ingest alone: {out['ingest_idle']['accepted_eps']:,.0f} accepted/s, "
                f"{out['ingest_idle']['written_eps']:,.0f} written/s")  # fmt: skip
            out["ingest_busy"] = ingest_phase(args, port, key, hs)
            b = out["ingest_busy"]
            log(f"ingest with dashboards loading: {b['accepted_eps']:,.0f} accepted/s, "
                f"{b['written_eps']:,.0f} written/s; sets meanwhile p50 "
                f"{ms(pct(b['set_walls'], .5))} / p95 {ms(pct(b['set_walls'], .95))} ms "
                f"(n={len(b['set_walls'])})")  # fmt: skip
            out["ingest_serial"] = ingest_phase(args, port, key, hs, serial=True)
            b = out["ingest_serial"]
            log(f"ingest with dashboards loading one query at a time: {b['accepted_eps']:,.0f} "
                f"accepted/s, {b['written_eps']:,.0f} written/s; sets meanwhile p50 "
                f"{ms(pct(b['set_walls'], .5))} ms (n={len(b['set_walls'])})")  # fmt: skip
    finally:
        hs.close()
        stop_server(proc)
    # The ingested site's events go again, so that a --keep rerun sees the same store.
    import duckdb

    con = duckdb.connect(str(root / "data" / "events.duckdb"))
    for table in ("events", "sessions", "dropped_events", "reach", "daily", "rollup_pending"):
        con.execute(f"DELETE FROM {table} WHERE site_id = ?", [manifest["ingest_site_id"]])
    con.execute("CHECKPOINT")
    con.close()
    return out


def measure_empty_ingest(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """The same sender against a server on an empty store: ingest's ceiling here."""
    from footfall.meta.repo import Metadata

    data = root / "empty-data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    meta = Metadata(f"sqlite:///{data / 'meta.sqlite3'}")
    meta.migrate()
    _, key = meta.create_site(INGEST_SITE_NAME, [INGEST_HOST], "UTC")
    meta.close()
    port = free_port()
    proc = start_server(data, port, root / "server-empty.log")
    try:
        r = ingest_phase(args, port, key, None)
    finally:
        stop_server(proc)
        shutil.rmtree(data, ignore_errors=True)
    log(
        f"ingest on an empty store: {r['accepted_eps']:,.0f} accepted/s, {r['written_eps']:,.0f} written/s"
    )
    return r


# ------------------------------------------------------------------------------ report


def report(args: argparse.Namespace, manifest: dict[str, Any], res: dict[str, Any]) -> None:
    import duckdb

    ip, names = res["in_process"], [n for n, _ in res["queries"]]
    target = TARGET_MS.get(args.events)
    line = "-" * 92
    print("\n" + line)
    print(f"Footfall query benchmark: {manifest['events']:,} events, {manifest['sessions']:,} visits, "
          f"{manifest['visitors']:,} visitors over {manifest['days']} days "
          f"({manifest['bytes'] / 1e6:,.0f} MB); range {args.range_days}d to {manifest['end_date']} "
          f"({manifest['tz']}): {ip['range_rows']:,} events")  # fmt: skip
    print(
        f"load average {res['load'][0]:.1f} at start, {res['load'][1]:.1f} at end (other work on the machine)"
    )
    print(f"DuckDB {duckdb.__version__}, {os.cpu_count()} CPUs; generation "
          + ("reused (--keep)" if manifest["reused"] else f"{manifest['generate_seconds']:.0f} s")
          + f"; warm n={args.reps}, cold n={args.cold_reps}")  # fmt: skip
    ro = res.get("rollups")
    if ro:
        print("exact rollups: " + (f"built in {ro['build_s']:.0f} s" if ro["built"] else "reused")
              + f", reach {ro['reach_rows']:,} rows, daily {ro['daily_rows']:,} rows, store "
              f"{ro['bytes'] / 1e6:,.0f} MB; seals of the last day ({ro['touched_visitors']:,} visitors, hourly) "
              f"{ro['seal_s']:.2f} s{' with a re-sort' if ro.get('resorted') else ''}, "
              f"{ro.get('appended_rows', 0):,} reach rows appended since the last re-sort; "
              f"then {ro.get('pending_visitors', 0):,} visitors of the last "
              f"{PENDING_MINUTES} min pending (read raw, with today's sums), as between seals")  # fmt: skip
    else:
        print("rollups OFF (--no-rollups): every query on raw events")
    print(line)
    print(
        f"{'query (in process, warm)':<28}{'seq p50':>9}{'seq p95':>9}{'par p50':>9}{'par p95':>9}  rows"
    )
    for n in names:
        seq, par = ip["per_query"][n], ip["par_query"][n]
        rows = len(ip["results"][n]["results"])
        print(
            f"  {n:<26}{ms(pct(seq, 0.5)):>9}{ms(pct(seq, 0.95)):>9}{ms(pct(par, 0.5)):>9}{ms(pct(par, 0.95)):>9}  {rows}"
        )
    print(line)
    print(f"{'whole set (ms)':<44}{'p50':>9}{'p95':>9}{'n':>5}")

    def row(label: str, values: list[float], extra: str = "") -> None:
        print(
            f"  {label:<42}{ms(pct(values, 0.5)):>9}{ms(pct(values, 0.95)):>9}{len(values):>5}  {extra}"
        )

    def cpu(values: list[float]) -> str:
        return f"cpu {ms(pct(values, 0.5))} ms/set"

    def verdict(walls: list[float]) -> str:
        if not target:
            return ""
        return f"target p95 <= {target:,.0f}: " + (
            "MET" if pct(walls, 0.95) * 1000 <= target else "MISSED"
        )

    row("in process, one after another", ip["seq_walls"], cpu(ip["seq_cpu"]))
    row(f"in process, parallel x{POOL} (dashboard load)", ip["par_walls"],
        cpu(ip["par_cpu"]) + "  " + verdict(ip["par_walls"]))  # fmt: skip
    row("  first load in this process", [ip["first_set_s"]])
    if res.get("cold"):
        row("cold: fresh process, parallel set", [r["set_s"] for r in res["cold"]])
        row("cold: fresh process incl. start+open", [r["process_s"] for r in res["cold"]])
    if res.get("http"):
        h = res["http"]
        row("HTTP /api/v2/query, parallel set, warm", h["walls"])
        row("HTTP first set after server start", [h["first_set_s"]])
        if "ingest_busy" in h:
            row("HTTP parallel set while ingesting", h["ingest_busy"]["set_walls"])
        if "ingest_serial" in h:
            row("HTTP set, 1 query at a time, while ingesting", h["ingest_serial"]["set_walls"])
    if ip.get("proto"):
        pr = ip["proto"]
        row("PROTO reach rollups, one after another", pr["seq_walls"], cpu(pr["seq_cpu"]))
        row(f"PROTO reach rollups, parallel x{POOL}", pr["par_walls"],
            cpu(pr["par_cpu"]) + "  " + verdict(pr["par_walls"]))  # fmt: skip
    print(line)
    if ip.get("proto"):
        pr = ip["proto"]
        print("PROTO per query p50 ms (one after another): " + ", ".join(
            f"{n} {ms(pct(v, .5))}" for n, v in pr["per_query"].items()))  # fmt: skip
        b = pr["build"]
        print(f"PROTO answers equal the query layer's: {sum(ok for _, ok in pr['checks'])}/{len(pr['checks'])}"
              + "".join(f" MISMATCH:{n}" for n, ok in pr["checks"] if not ok)
              + (f"; build {b['build_s']:.0f} s, {b['reach_rows']:,} reach rows" if b else "; reused")
              + f", {pr['reach_bytes'] / 1e6:,.0f} MB; sealing one day {pr['seal_day_s']:.1f} s")  # fmt: skip
        print(line)
    scans = ip["scans"]
    par50 = pct(ip["par_walls"], 0.5)
    print(f"{'plain scans, same process (ms)':<44}{'p50':>9}{'p95':>9}{'n':>5}  set p50 / scan p50")
    for n, v in scans.items():
        print(
            f"  {n:<42}{ms(pct(v, 0.5)):>9}{ms(pct(v, 0.95)):>9}{len(v):>5}  {par50 / pct(v, 0.5):.1f}x"
        )
    if res.get("http") and "ingest_idle" in res["http"]:
        print(line)
        print(
            f"{'ingest (POST /api/events, 200/batch, 2 conns)':<44}{'accepted/s':>12}{'written/s':>12}{'drain s':>9}"
        )
        ingest_rows = [("server on this store, alone", res["http"]["ingest_idle"]),
                ("  ... while dashboards load back to back", res["http"]["ingest_busy"])]  # fmt: skip
        if "ingest_serial" in res["http"]:
            ingest_rows.append(("  ... same, one query at a time", res["http"]["ingest_serial"]))
        if res.get("empty_ingest"):
            ingest_rows.append(("server on an empty store", res["empty_ingest"]))
        for label, r in ingest_rows:
            print(
                f"  {label:<42}{r['accepted_eps']:>12,.0f}{r['written_eps']:>12,.0f}{r['drain_s']:>9.1f}"
            )
    print(line)
    print("checks against raw SQL over the events:")
    for name, ok, detail in ip["checks"]:
        print(f"  {'OK      ' if ok else 'MISMATCH'} {name:<26} {detail[:140]}")
    print(line)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="1M events")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--visitors", type=int, default=None, help="default: events / 10")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tz", default="Europe/Berlin", help="the site's time zone")
    ap.add_argument("--keep", action="store_true", help="reuse the generated store if present")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--range-days", type=int, default=30)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--cold-reps", type=int, default=3)
    ap.add_argument("--ingest-seconds", type=float, default=15)
    ap.add_argument("--no-http", action="store_true", help="skip the server, HTTP and ingest parts")
    ap.add_argument("--no-empty-ingest", action="store_true")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE every statement")
    ap.add_argument(
        "--duckdb-threads",
        type=int,
        default=0,
        help="DuckDB threads in process and in the server (FOOTFALL_DUCKDB_THREADS); 0: per core",
    )
    ap.add_argument(
        "--proto",
        action="store_true",
        help="also build the prototype reach rollups (bench/rollup_proto.py) and time the set on them",
    )
    ap.add_argument("--no-rollups", action="store_true",
                    help="the in-process set on raw events only (the query layer without rollups)")  # fmt: skip
    ap.add_argument("--store", choices=("duckdb", "chdb", "http"), default="duckdb",
                    help="chdb/http: the set on the ClickHouse store (in process / through the "
                    "HTTP stand-in) beside DuckDB's, alternated, answers compared (bench/stores.py)")  # fmt: skip
    ap.add_argument("--json", default=None, help="write all measurements to this file")
    ap.add_argument("--generate-only", action="store_true")
    # internal: child processes
    ap.add_argument("--child", choices=["cold", "sender"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--conns", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=200, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "cold":
        return child_cold(args)
    if args.child == "sender":
        return child_sender(args)
    if args.quick:
        args.events = 1_000_000

    manifest = prepare(args)
    if args.generate_only:
        return
    root = store_dir(args)
    queries = dashboard_set(manifest["site_id"], manifest["end_date"], args.range_days)
    res: dict[str, Any] = {"queries": queries, "args": vars(args), "manifest": manifest}
    load0 = os.getloadavg()[0]
    if not args.no_rollups:
        res["rollups"] = measure_rollups(args, manifest, root)
    if args.store != "duckdb":
        import stores

        res["stores"] = stores.compare(args, manifest, root, queries, open_runner, InProcess,
                                       site_info(manifest), pct, log)  # fmt: skip
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1, default=str))
        return
    res["in_process"] = measure_in_process(args, manifest, root, queries)
    res["cold"] = measure_cold(args, root) if args.cold_reps else []
    if not args.no_http:
        res["http"] = measure_http(args, manifest, root, queries)
        if args.ingest_seconds > 0 and not args.no_empty_ingest:
            res["empty_ingest"] = measure_empty_ingest(args, root)
    res["load"] = (load0, os.getloadavg()[0])
    report(args, manifest, res)
    if args.json:
        res["in_process"].pop("results", None)
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
