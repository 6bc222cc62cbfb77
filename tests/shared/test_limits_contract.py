"""Every rate limiter adapter keeps the same contract: in process, and in Redis.

A bucket lets ``burst`` hits through, then tells how long to wait; it refills at ``rate``;
keys do not share a bucket; a rate of 0 is no limit; concurrent hits take each token
once. The Redis buckets also hold under concurrent hits from two clients (the Lua script
is atomic)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from footfall.shared.base import LimiterFactory, RateLimiter
from footfall.shared.local.limits import local_limiter
from tests.support.redis import REDIS_URL


@pytest.fixture(params=["process", "redis"])
async def limiters(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[], LimiterFactory]]:
    """Makes limiter factories: in Redis, each with a client of its own (another server)."""
    if request.param == "process":
        yield lambda: local_limiter
        return
    from footfall.shared.redis.limits import RedisLimits
    from footfall.shared.redis.link import RedisLink

    prefix = request.getfixturevalue("redis_prefix")
    links: list[RedisLink] = []

    def make() -> LimiterFactory:
        links.append(RedisLink(REDIS_URL, prefix))
        return RedisLimits(links[-1])

    yield make
    for link in links:
        await link.aclose()


async def hits(limiter: RateLimiter, key: str, n: int) -> list[float | None]:
    return [await limiter.hit(key) for _ in range(n)]


async def test_burst_then_wait(limiters: Callable[[], LimiterFactory]) -> None:
    limiter = limiters()("t", 0.5, 3)  # one token back every 2 s
    results = await hits(limiter, "203.0.113.9", 4)
    assert results[:3] == [None, None, None]
    wait = results[3]
    assert wait is not None and 1.5 < wait <= 2.0


async def test_keys_have_buckets_of_their_own(limiters: Callable[[], LimiterFactory]) -> None:
    limiter = limiters()("t", 0.5, 1)
    assert await limiter.hit("a") is None
    assert await limiter.hit("a") is not None
    assert await limiter.hit("b") is None


async def test_families_have_buckets_of_their_own(limiters: Callable[[], LimiterFactory]) -> None:
    factory = limiters()
    first, second = factory("one", 0.5, 1), factory("two", 0.5, 1)
    assert await first.hit("k") is None and await first.hit("k") is not None
    assert await second.hit("k") is None


async def test_the_bucket_refills_at_the_rate(limiters: Callable[[], LimiterFactory]) -> None:
    limiter = limiters()("t", 20.0, 2)  # a token every 50 ms
    assert await hits(limiter, "k", 2) == [None, None]
    assert await limiter.hit("k") is not None
    await asyncio.sleep(0.12)
    assert await limiter.hit("k") is None


async def test_rate_zero_is_no_limit(limiters: Callable[[], LimiterFactory]) -> None:
    limiter = limiters()("t", 0, 1)
    assert await hits(limiter, "k", 50) == [None] * 50


async def test_concurrent_hits_take_each_token_once(limiters: Callable[[], LimiterFactory]) -> None:
    limiter = limiters()("t", 0.01, 40)
    results = await asyncio.gather(*(limiter.hit("k") for _ in range(100)))
    assert results.count(None) == 40


async def test_two_redis_clients_share_one_bucket(redis_prefix: str) -> None:
    """Two servers (two clients) hitting one key at once: 40 tokens are 40 hits in all."""
    from footfall.shared.redis.limits import RedisLimits
    from footfall.shared.redis.link import RedisLink

    # A generous timeout: on a loaded machine a 0.5 s one would send hits to each
    # process's own fallback bucket, which is what the Redis-down tests are about.
    links = [RedisLink(REDIS_URL, redis_prefix, timeout_s=10.0) for _ in range(2)]
    one, two = (RedisLimits(link)("t", 0.01, 40) for link in links)
    try:
        results = await asyncio.gather(*(lim.hit("k") for _ in range(50) for lim in (one, two)))
    finally:
        for link in links:
            await link.aclose()
    assert results.count(None) == 40
