"""Light-traffic benchmark: what the real ``footfall serve`` costs a small site.

Most installs see a few events a second, not thousands; there the figure that matters is
the CPU the server takes while it waits for them (a laptop's fan, a small VPS's share),
and how soon each event is visible. For each rate this prints:

  cpu     the server's CPU (its worker process, every thread, from /proc) as a percentage
          of one core while a paced client sends ``rate`` single events a second (no one
          reads stats meanwhile), beside a bare Granian ASGI app at the same rate and
          Footfall with no traffic at all
  fresh   time from an event's 202 until /api/stats counts it, events sent at that rate

    .venv/bin/python bench/light.py [--rates 1,5,50] [--seconds 20] [--json F]

Rates are requests a second from one client thread; the figures are medians over the
run, not a timed test. PYTHONPATH=/path/to/a/checkout benches that copy of ``footfall``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import Corpus  # noqa: E402
from ingest import (  # noqa: E402
    Server,
    cpu_seconds,
    create_site,
    free_port,
    measure_freshness,
    running,
    site_host,
    start_bare,
    start_footfall,
    warm_up,
)


def paced(base: str, key: str, bodies: list[str], rate: float, seconds: float) -> int:
    """Send single events at ``rate`` a second for ``seconds`` (one at a time, on a fixed
    schedule so a slow answer does not lower the rate); returns how many were accepted."""
    headers = {"x-api-key": key, "content-type": "application/json"}
    began, ok = time.perf_counter(), 0
    n = int(rate * seconds)
    for i in range(n):
        req = urllib.request.Request(
            f"{base}/api/event", data=bodies[i % len(bodies)].encode(), headers=headers
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            ok += resp.status == 202
        delay = began + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return ok


def cpu_share(server: Server, work: Any) -> tuple[float, Any]:
    """Percent of one core the server's workers used while ``work()`` ran, and its result."""
    pids = server.worker_pids()
    cpu0, t0 = cpu_seconds(pids), time.perf_counter()
    out = work()
    return 100 * (cpu_seconds(pids) - cpu0) / (time.perf_counter() - t0), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1,5,50", help="events a second, comma list (1,5,50)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds per CPU run (20)")
    ap.add_argument("--markers", type=int, default=30, help="events timed for freshness (30)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="footfall-bench-light-"))
    corpus = Corpus()
    bodies = corpus.bodies(4000)
    body_file = tmp / "single.txt"
    body_file.write_text("\n".join(bodies) + "\n")
    res: dict[str, Any] = {"seconds": args.seconds, "rates": {}}
    try:
        port = free_port()
        with running(start_bare(port, tmp)) as bare:
            for rate in rates:
                share, _ = cpu_share(
                    bare, lambda r=rate: paced(f"http://127.0.0.1:{port}", "k", bodies, r, 5)
                )
                res["rates"].setdefault(rate, {})["bare_cpu"] = share
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with running(start_footfall(port, tmp / "data", limits_off=False)) as server:
            site_id, key, _ = create_site(base, "light")
            warm_up(base, key, body_file)
            time.sleep(2)  # let the warm-up's last writer round and checkpoint pass
            res["idle_cpu"], _ = cpu_share(server, lambda: time.sleep(args.seconds / 2))
            print(f"idle (no traffic): server CPU {res['idle_cpu']:.1f}% of a core", flush=True)
            for rate in rates:
                row = res["rates"][rate]
                row["cpu"], row["accepted"] = cpu_share(
                    server, lambda r=rate: paced(base, key, bodies, r, args.seconds)
                )
                # A site of its own per rate: markers are counted from zero.
                m_site, m_key, m_token = create_site(base, f"markers-{rate:g}")
                f = measure_freshness(
                    base, m_site, m_key, m_token, args.markers, 1 / rate,
                    site_host(f"markers-{rate:g}"),
                )  # fmt: skip
                row["fresh_p50_s"], row["fresh_p95_s"] = f["p50_s"], f["p95_s"]
                print(
                    f"{rate:>6g} events/s: server CPU {row['cpu']:5.1f}% of a core "
                    f"(bare ASGI app {row['bare_cpu']:.1f}%; {row['accepted']} accepted); "
                    f"freshness p50 {f['p50_s']:.2f} s, p95 {f['p95_s']:.2f} s",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
