"""Every rate limiter adapter keeps the same contract: in process, and in Redis.

A bucket lets ``burst`` hits through, then tells how long to wait; it refills at ``rate``;
keys do not share a bucket; a rate of 0 is no limit; concurrent hits take each token
once. The Redis buckets also hold under concurrent hits from two clients (the Lua script
is atomic)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from footfall.shared.base import LimiterFactory, RateLimiter, RequestLimits
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
        # A generous timeout: on a loaded machine (CI) a 0.5 s one sends hits to the
        # process's own fallback bucket, which is what the Redis-down tests are about.
        links.append(RedisLink(REDIS_URL, prefix, timeout_s=10.0))
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


# -- a collection request's two limits (per IP, per key) -------------------------------------

Pair = tuple[RequestLimits, RateLimiter, RateLimiter]


@pytest.fixture(params=["process", "redis"])
async def pairs(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Pair]]:
    """Makes a request's limits over an IP family and a key family, as ``serve`` does."""
    if request.param == "process":
        from footfall.shared.local.limits import LocalRequestLimits

        def local(ip: tuple[float, int], key: tuple[float, int]) -> Pair:
            a, b = local_limiter("ip", *ip), local_limiter("key", *key)
            return LocalRequestLimits(a, b), a, b

        yield local
        return
    from footfall.shared.redis.limits import RedisLimits
    from footfall.shared.redis.link import RedisLink

    link = RedisLink(REDIS_URL, request.getfixturevalue("redis_prefix"), timeout_s=10.0)

    def shared(ip: tuple[float, int], key: tuple[float, int]) -> Pair:
        factory = RedisLimits(link)
        a, b = factory("ip", *ip), factory("key", *key)
        return factory.pair(a, b), a, b

    yield shared
    await link.aclose()


async def collect(limits: RequestLimits, ip: str, key: str) -> tuple[str, float] | None:
    """What a collection request meets: the IP's limit before its body, both after."""
    wait = await limits.ip(ip)
    return ("ip", wait) if wait is not None else await limits.both(ip, key)


async def test_a_request_is_refused_by_its_ip_then_by_its_key(pairs: Callable[..., Pair]) -> None:
    limits, _, _ = pairs((0.5, 2), (0.5, 3))
    assert [await collect(limits, "203.0.113.1", "site") for _ in range(2)] == [None, None]
    refused = await collect(limits, "203.0.113.1", "site")
    assert refused is not None and refused[0] == "ip" and 1.5 < refused[1] <= 2.0
    # The IP's refusal took nothing from the key: one token is left for another client.
    assert await collect(limits, "203.0.113.2", "site") is None
    refused = await collect(limits, "203.0.113.3", "site")
    assert refused is not None and refused[0] == "key" and 1.5 < refused[1] <= 2.0


async def test_a_request_shares_the_buckets_of_the_single_limits(
    pairs: Callable[..., Pair],
) -> None:
    # The other collection paths (Umami, Plausible's extra sites) check one family at a
    # time: their hits and a native request's come out of the same buckets.
    limits, ip, key = pairs((0.5, 1), (0.5, 2))
    assert await ip.hit("203.0.113.1") is None
    refused = await collect(limits, "203.0.113.1", "site")
    assert refused is not None and refused[0] == "ip"
    assert await key.hit("site") is None
    assert await collect(limits, "203.0.113.2", "site") is None
    refused = await collect(limits, "203.0.113.3", "site")
    assert refused is not None and refused[0] == "key"


async def test_a_request_with_both_limits_off_is_never_refused(pairs: Callable[..., Pair]) -> None:
    limits, _, _ = pairs((0, 1), (0, 1))
    assert [await collect(limits, "203.0.113.1", "k") for _ in range(20)] == [None] * 20
