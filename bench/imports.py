"""Access-log import benchmark: lines/s of ``footfall import access-log``, against parsing alone.

Generates a combined-format log (``--lines``, default 300,000) of the mix a real site's log
has: about 55% page views by 20,000 visitors (IP + browser user agent) over two days, 20%
static assets, 12% bots, 8% non-2xx, 5% other methods. Then, ``--repeat`` times each:

- baseline: the same file read and every line parsed by the format's parser, nothing else
  (in this process);
- import: ``footfall import access-log`` as a subprocess into a fresh data directory
  (DuckDB store), the whole path to stored events and visits (the bulk load of
  ``footfall/imports/bulk.py``; the queue only in the Redis shape).

Prints medians of lines/s (the import's own figure, from its JSON summary, and the whole
process's wall time including start-up), the ratio import/baseline, the peak RSS of the
import process and the data directory's bytes on disk. With ``--before`` it also checks that
both trees stored the same thing (the summary's counts, and the stored events and visits
by :func:`stored`), and stops if not.

    .venv/bin/python bench/imports.py [--lines 300000] [--repeat 3] [--format combined]
        [--before DIR]  # DIR: an earlier tree (git archive COMMIT footfall | tar -x -C DIR)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from footfall.imports.accesslog.formats import BadLine, parser_for  # noqa: E402

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{v} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0",
    "python-requests/2.31.0",
]
REFS = ["-", "https://www.google.com/", "https://news.ycombinator.com/", "https://shop.example/"]


def make_log(path: Path, lines: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    agents = [b.format(v=v) for b in BROWSERS for v in range(100, 130)]
    visitors = [
        (
            f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
            rnd.choice(agents),
        )
        for _ in range(20_000)
    ]
    pages = [f"/p/{i}" for i in range(2000)] + ["/", "/pricing", "/blog/post.html"]
    start = 1_717_200_000  # 2024-06-01 UTC
    step = 2 * 86_400 / lines
    with path.open("w") as out:
        for i in range(lines):
            t = time.gmtime(start + int(i * step))
            when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", t)
            ip, ua = rnd.choice(visitors)
            roll = rnd.random()
            method, status, target = "GET", 200, rnd.choice(pages)
            if roll < 0.20:
                target = f"/static/app.{rnd.randrange(50)}.{rnd.choice(['js', 'css', 'png'])}"
            elif roll < 0.32:
                ua = rnd.choice(BOTS)
            elif roll < 0.40:
                status = rnd.choice([301, 304, 404, 500])
            elif roll < 0.45:
                method = rnd.choice(["POST", "HEAD"])
            if rnd.random() < 0.1:
                target += "?utm_source=newsletter&id=4"
            out.write(
                f'{ip} - - [{when}] "{method} {target} HTTP/1.1" {status} 512 '
                f'"{rnd.choice(REFS)}" "{ua}"\n'
            )


def parse_only(path: Path, fmt: str) -> tuple[float, float]:
    parse = parser_for(fmt)
    started, cpu = time.perf_counter(), time.process_time()
    n = 0
    with path.open(encoding="utf-8", errors="replace", newline="\n") as f:
        for line in f:
            n += 1
            with contextlib.suppress(BadLine):
                parse(line.rstrip("\r\n"))
    return n / (time.perf_counter() - started), n / (time.process_time() - cpu)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# What an import stored, independent of the random salts (visitor and visit ids differ from
# one data directory to the next): events by id, path and time; visits by their pages,
# times, software and place.
_STORED = (
    "SELECT count(*), count(DISTINCT visitor_id), count(DISTINCT session_id), "
    "sum(hash(event_id, pathname, ts)) FROM events",
    "SELECT count(*), sum(pageviews), sum(hash(start_ts, end_ts, entry_page, exit_page, "
    "browser, os, device, country, referrer_source)) FROM sessions",
)


def stored(data: Path) -> tuple[object, ...]:
    import duckdb

    with duckdb.connect(str(data / "events.duckdb"), read_only=True) as con:
        return tuple(con.execute(q).fetchone() for q in _STORED)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# Runs the CLI of the footfall package found first on PYTHONPATH (this tree, or --before's),
# and reports the process's own peak RSS (DuckDB's threads included).
_CLI = (
    "import resource, sys; import footfall; from footfall.cli import main; rc = main(); "
    "print('tree', footfall.__file__, file=sys.stderr); "
    "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
    "sys.exit(rc)"
)


Run = tuple[float, float, float, int, int, tuple[object, ...]]


def run_import(path: Path, fmt: str, work: Path, src: Path = ROOT) -> Run:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    env = {**os.environ, "FOOTFALL_DATA_DIR": str(data), "PYTHONPATH": str(src)}
    env.pop("FOOTFALL_STORE_URL", None)
    env.pop("FOOTFALL_QUEUE_URL", None)
    # An installed package has its bytecode compiled; with PYTHONDONTWRITEBYTECODE (set on
    # some machines) every start would compile footfall's modules again (0.16-0.22 CPU s).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cli = [sys.executable, "-c", _CLI]
    # Run in the work directory: "python -c" puts the current directory first on sys.path,
    # so a run from a tree holding footfall/ would import that tree, not PYTHONPATH's (every
    # --before comparison made from the repository measured this tree twice).
    subprocess.run(
        [*cli, "sites", "create", "Shop", "--domain", "shop.example"],
        env=env,
        check=True,
        capture_output=True,
        cwd=work,
    )
    began, cpu = time.perf_counter(), _cpu()
    out = subprocess.run(
        [*cli, "import", "access-log", str(path), "--site", "shop", "--format", fmt],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=work,
    )
    wall, cpu = time.perf_counter() - began, _cpu() - cpu
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    rss = int(out.stderr.rsplit("maxrss", 1)[1].split()[0]) * 1024
    tree = Path(out.stderr.rsplit("tree ", 1)[1].split()[0]).resolve()
    if not tree.is_relative_to(src.resolve()):
        raise SystemExit(f"the import ran {tree}, not the tree under {src}")
    lines = summary["lines"]
    kept = (summary["imported"], sorted(summary["skipped"].items()), *stored(data))
    return summary["lines_per_second"], lines / wall, lines / cpu, rss, du(data), kept


def _report(label: str, runs: list[Run], base: float) -> None:
    own = statistics.median(r[0] for r in runs)
    whole, cpu = statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs)
    rss, disk = max(r[3] for r in runs), runs[-1][4]
    print(f"{label}: {own:>10,.0f} lines/s wall (its own figure; {own / base:.2f}x baseline), "
          f"{whole:>10,.0f} whole process, {cpu:>10,.0f} per CPU s; "
          f"peak RSS {rss / 2**20:.0f} MiB, data dir {disk / 1e6:.1f} MB")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--format", default="combined")
    ap.add_argument(
        "--before",
        type=Path,
        help="an earlier footfall tree (git archive COMMIT footfall | tar -x -C DIR): its import "
        "runs on the same log in the same rounds, for a before/after in one run",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="footfall-bench-imports-"))
    try:
        log = work / "access.log"
        make_log(log, args.lines)
        print(f"log: {args.lines:,} lines, {log.stat().st_size / 1e6:.1f} MB; "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        base, base_cpu = [], []
        after: list[Run] = []
        before: list[Run] = []
        for _ in range(args.repeat):
            b, bc = parse_only(log, args.format)
            base.append(b)
            base_cpu.append(bc)
            if args.before:
                before.append(run_import(log, args.format, work, args.before))
            after.append(run_import(log, args.format, work))
            if before and before[-1][5] != after[-1][5]:
                raise SystemExit(f"not the same: before {before[-1][5]}, now {after[-1][5]}")
        mb, mbc = statistics.median(base), statistics.median(base_cpu)
        # Wall figures depend on what else the machine runs; per CPU second they do not.
        print(
            f"parse only, per line (baseline): {mb:>10,.0f} lines/s wall, {mbc:>10,.0f} per CPU s"
        )
        if before:
            _report("import, before", before, mb)
        _report("import, this tree", after, mb)
        if before:
            ratio = statistics.median(r[2] for r in after) / statistics.median(r[2] for r in before)
            print("same result: page views, skip counts, stored events and visits")
            print(f"this tree / before, per CPU s: {ratio:.2f}x; "
                  f"load average now {os.getloadavg()[0]:.1f}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
