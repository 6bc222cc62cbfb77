"""Export memory benchmark: the real ``footfall serve`` streams N events as CSV and Parquet
while the RSS of its whole process tree (Granian runs the app in a worker child) is sampled.

    .venv/bin/python bench/export_memory.py [--events 10000000] [--data-dir D] [--keep]

Steps: start the server once to create a site and a read token over the admin API, stop
it, generate N events straight into the DuckDB file with SQL (range() and random
functions, the schema of footfall/store/duckdb/schema.sql; no HTTP), start the server
again, then GET /api/v1/export?format=csv and ?format=parquet, reading the stream to the
end. Prints RSS before, peak, growth, rows/bytes and time per format. Target: growth
< 300 MB for 10M events. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procs import tree_rss_kb  # noqa: E402

from footfall.store.duckdb.store import DuckDBStore  # noqa: E402
from tests.serverproc import Server  # noqa: E402

TARGET_MB = 300
CHUNK = 1_000_000
GENERATE = """
INSERT INTO events
SELECT uuid(), ?, make_timestamp(CAST(? + i * ? AS BIGINT)),
       CASE WHEN r1 < 0.8 THEN 'pageview' WHEN r1 < 0.95 THEN 'click' ELSE 'engagement' END,
       'example.com', '/p/' || CAST(floor(pow(r2, 3) * 500) AS BIGINT), '',
       ['', 'https://www.google.com/', 'https://t.co/x', 'https://news.ycombinator.com/']
           [1 + i % 4],
       ['Direct / None', 'Google', 'Twitter', 'Hacker News'][1 + i % 4],
       '', '', '', '', '',
       CAST(hash(i // 4 % 1000000) AS UBIGINT), CAST(hash(i // 4) AS UBIGINT), '',
       ['Chrome', 'Firefox', 'Safari', 'Edge'][1 + CAST(r2 * 4 AS INT) % 4], '120.0',
       ['Windows', 'Mac', 'Linux', 'iOS', 'Android'][1 + i % 5], '10',
       ['Desktop', 'Mobile', 'Tablet'][1 + i % 3], '1920x1080', 'en-US',
       ['US', 'GB', 'DE', 'FR', 'IN', 'BR'][1 + i % 6], '', '', 'Page title', '/',
       CASE WHEN r1 >= 0.8 AND r1 < 0.95 THEN MAP(['plan'], ['pro']) ELSE MAP([], []) END,
       NULL, NULL, CASE WHEN r1 < 0.8 THEN CAST(r2 * 3000 AS BIGINT) END, NULL, r1 < 0.95
FROM (SELECT range AS i, random() AS r1, random() AS r2 FROM range(?, ?))
"""


def generate(store: Path, site_id: str, n: int) -> float:
    started = time.perf_counter()
    schema = DuckDBStore(store)  # the store's own schema, as the server will find it
    schema.open()
    schema.close()
    con = duckdb.connect(str(store))
    now_us = int(time.time() * 1_000_000)
    span_us = 25 * 86_400_000_000  # the last 25 days
    step = span_us // max(n, 1)
    for lo in range(0, n, CHUNK):
        con.execute(GENERATE, [site_id, now_us - span_us, step, lo, min(lo + CHUNK, n)])
    count = con.execute("SELECT count(*) FROM events").fetchone()
    con.close()
    assert count is not None and count[0] == n, count
    return time.perf_counter() - started


def export(server: Server, site_id: str, token: str, fmt: str) -> dict[str, float]:
    assert server.proc is not None
    pid = server.proc.pid
    before = tree_rss_kb(pid)
    peak, done = before, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    url = server.url(f"/api/v1/export?site_id={site_id}&format={fmt}&period=all")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    started, size, lines = time.perf_counter(), 0, 0
    with urllib.request.urlopen(req, timeout=3600) as r:  # noqa: S310 - our own server
        while chunk := r.read(1 << 20):
            size += len(chunk)
            if fmt == "csv":
                lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return {"before_mb": before / 1024, "peak_mb": peak / 1024, "growth_mb": (peak - before) / 1024,
            "bytes": size, "seconds": elapsed, "csv_rows": max(lines - 1, 0)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--data-dir", type=Path, help="default: a temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    base = (
        Path(tempfile.mkdtemp(prefix="footfall-export-"))
        if args.data_dir is None
        else args.data_dir
    )
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    try:
        server = Server(data).start()
        status, site = server.admin_post(
            "/api/site/create", {"name": "Bench", "domains": ["example.com"]}
        )
        assert status == 201, site
        status, tok = server.admin_post("/api/tokens", {"site_id": site["site_id"]})
        assert status == 201, tok
        server.stop()
        took = generate(data / "events.duckdb", site["site_id"], args.events)
        size_mb = (data / "events.duckdb").stat().st_size / 1e6
        print(f"generated {args.events:,} events in {took:.1f}s (DuckDB file {size_mb:.0f} MB)")
        # The first rollups build (a one-off on an existing store) runs before the server
        # starts, so the figures below are the export's own and not that build's.
        t = time.perf_counter()
        cmd = [sys.executable, "-m", "footfall.cli", "jobs", "run", "rollups"]
        env = {**os.environ, "FOOTFALL_DATA_DIR": str(data)}
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        print(f"rollups built in {time.perf_counter() - t:.1f}s (footfall jobs run rollups)")
        server = Server(data).start()
        try:
            for fmt in ("csv", "parquet"):
                r = export(server, site["site_id"], tok["token"], fmt)
                ok = "ok" if r["growth_mb"] < TARGET_MB else "OVER TARGET"
                rows = f", {int(r['csv_rows']):,} rows" if fmt == "csv" else ""
                print(f"{fmt:8} RSS before {r['before_mb']:.0f} MB, peak {r['peak_mb']:.0f} MB, "
                      f"growth {r['growth_mb']:.0f} MB (target < {TARGET_MB} MB: {ok}); "
                      f"{r['bytes'] / 1e6:.0f} MB{rows} in {r['seconds']:.1f}s "
                      f"({args.events / r['seconds']:,.0f} events/s)")  # fmt: skip
        finally:
            server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"data kept in {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
