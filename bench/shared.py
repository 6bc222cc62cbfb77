"""Shared state benchmark: what a rate-limit check costs in process and in Redis.

Prints, for each adapter, hits per second with 1 and 64 concurrent callers on one event
loop, and the ratio Redis / in-process measured in the same run; then a collection
request's two checks (IP and key) in Redis as two calls and as the one script call serve
makes, and their ratio; the median of ``--runs`` runs each, alternated.
Also the request path's cost of telling the Redis live count about an event (``seen``).
It asserts nothing.

    .venv/bin/python bench/shared.py [--hits N] [--runs R] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.shared.local.limits import local_limiter
from footfall.shared.redis.limits import RedisLimits
from footfall.shared.redis.link import RedisLink
from footfall.shared.redis.live import RedisLive


async def rate(limiter: object, hits: int, concurrency: int) -> float:
    keys = [f"203.0.113.{i % 250}" for i in range(concurrency)]

    async def caller(key: str, n: int) -> None:
        for _ in range(n):
            await limiter.hit(key)  # type: ignore[attr-defined]

    started = time.perf_counter()
    await asyncio.gather(*(caller(k, hits // concurrency) for k in keys))
    return hits / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    prefix = f"footfall-bench:{uuid.uuid4().hex[:8]}:"
    link = RedisLink(args.redis, prefix)
    local, shared = local_limiter("ip", 1e9, 10**9), RedisLimits(link)("ip", 1e9, 10**9)
    await shared.hit("warm")
    print(f"{'adapter':<12}{'callers':>8}{'hits/s (median)':>18}")
    for concurrency in (1, 64):
        figures: dict[str, list[float]] = {"process": [], "redis": []}
        for _ in range(args.runs):
            figures["process"].append(await rate(local, args.hits * 10, concurrency))
            figures["redis"].append(await rate(shared, args.hits, concurrency))
        med = {k: statistics.median(v) for k, v in figures.items()}
        for name, value in med.items():
            print(f"{name:<12}{concurrency:>8}{value:>18,.0f}")
        print(f"{'ratio redis/process':<20}{med['redis'] / med['process']:>18.4f}")
    # A collection request: its IP's and its key's bucket, as two calls (before) and as
    # the one script call serve makes now.
    factory = RedisLimits(link)
    ip, key = factory("ip", 1e9, 10**9), factory("key", 1e9, 10**9)
    pair = factory.pair(ip, key)

    class TwoCalls:
        async def hit(self, k: str) -> None:
            await ip.hit(k)
            await key.hit("site")

    class OneCall:
        async def hit(self, k: str) -> None:
            await pair.both(k, "site")

    print(f"\n{'request (IP + key)':<20}{'callers':>8}{'requests/s (median)':>22}")
    for concurrency in (1, 64):
        got: dict[str, list[float]] = {"two calls": [], "one script": []}
        for _ in range(args.runs):
            got["two calls"].append(await rate(TwoCalls(), args.hits // 2, concurrency))
            got["one script"].append(await rate(OneCall(), args.hits // 2, concurrency))
        med = {k: statistics.median(v) for k, v in got.items()}
        for name, value in med.items():
            print(f"{name:<20}{concurrency:>8}{value:>22,.0f}")
        print(f"{'ratio one/two':<28}{med['one script'] / med['two calls']:>22.2f}")
    await link.aclose()

    live_link = RedisLink(args.redis, prefix)
    live = RedisLive(live_link, fallback=None, domains_of=lambda s: ())  # type: ignore[arg-type]
    record = ENCODER.encode(SpoolRecord("e", "site", int(time.time() * 1000), "pageview", "h", "/",
                                        "", "", "Mozilla/5.0 Firefox/128.0", 1, 0, "", "", "", "",
                                        "", "", "", True, {}))  # fmt: skip
    live._stop.set()  # the flushes are timed here, not left to the thread
    live._thread.join()
    n = 50_000
    started = time.perf_counter()
    for _ in range(n):
        live.seen([record])
    per = (time.perf_counter() - started) / n * 1e6
    started = time.perf_counter()
    live.flush()
    print(f"live count: seen() {per:.2f} us per event on the request path; "
          f"the thread's flush of {n:,} events {time.perf_counter() - started:.2f} s")  # fmt: skip
    live.close()
    import redis

    client = redis.Redis.from_url(args.redis)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hits", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    asyncio.run(main(ap.parse_args()))
