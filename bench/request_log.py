"""The cost of one log line and an X-Request-ID per request (footfall/api/reqlog.py).

Drives ``reqlog.handle`` around a do-nothing ASGI app (it answers 202 at once, as the
collection fast path's cheapest answer does) in three arms, in one process, alternating
rounds: no wrapper (the baseline), the wrapper with request lines off
(FOOTFALL_LOG_LEVEL=warning) and on (JSON lines, written to /dev/null through the same
handler the server installs). Prints the median µs per request of each arm over the
rounds and the added µs against the baseline; the in-process request path of a single
event is ~21 µs on the loop (docs/benchmarks.md), which puts the figures in proportion.

    python bench/request_log.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from typing import Any

from footfall import logs
from footfall.api import reqlog

SCOPE = {"type": "http", "method": "POST", "path": "/api/event",
         "headers": [(b"content-type", b"application/json")]}  # fmt: skip


async def inner(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


async def _receive() -> Any:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    pass


async def arm(n: int, wrapped: bool) -> float:
    started = time.perf_counter()
    for _ in range(n):
        scope = dict(SCOPE, **{"footfall.route": "/api/event"})
        if wrapped:
            await reqlog.handle(inner, scope, _receive, _send)
        else:
            await inner(scope, _receive, _send)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the whole run
    sys.stderr = devnull  # the handler writes to whatever sys.stderr is
    results: dict[str, list[float]] = {"baseline": [], "lines off": [], "json lines": []}
    for _ in range(args.rounds):
        results["baseline"].append(asyncio.run(arm(args.requests, False)))
        logs.configure("json", "warning")
        results["lines off"].append(asyncio.run(arm(args.requests, True)))
        logs.configure("json", "info")
        results["json lines"].append(asyncio.run(arm(args.requests, True)))
    logging.getLogger("footfall").setLevel("WARNING")
    sys.stderr = sys.__stderr__
    base = statistics.median(results["baseline"])
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:>11}: {med:6.2f} µs/request (median of {args.rounds}), "
              f"+{med - base:5.2f} µs, {med / base:4.1f}x the baseline")  # fmt: skip


if __name__ == "__main__":
    main()
