"""Token buckets in Redis: one bucket per key, shared by every process of an installation.

The bucket is a hash ``<prefix>rl:<name>:<digest of the key>`` holding its tokens and the
time it was last touched; one Lua script (``register_script``: ``EVALSHA``, loaded again
if Redis forgot it) refills, takes and stores atomically, on Redis's own clock, so
processes on machines whose clocks disagree still share one bucket exactly. The key
expires once the bucket would be full again, so idle clients leave nothing behind.

Redis unreachable: the request is judged by a bucket in this process instead (each
process then allows the limit on its own: with N servers, up to N times the limit),
and a warning is logged. Failing open entirely would leave the login form without any
throttle; failing closed would turn a Redis outage into an outage of collection.
"""

from __future__ import annotations

from typing import Any

from footfall.shared.base import RateLimiter
from footfall.shared.local.limits import NoLimit, TokenBuckets
from footfall.shared.redis.link import ERRORS, RedisLink

# KEYS[1] the bucket; ARGV rate (tokens/s), burst, cost. Returns the seconds to wait as
# text ("0" when allowed): Lua numbers would reach the client truncated to integers.
BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
local function text(x) return string.format('%.17g', x) end
redis.call('HSET', KEYS[1], 'tokens', text(tokens), 'at', text(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return text(wait)
"""

MEANWHILE = "rate limits and login throttling fall back to per-process buckets"


class RedisBuckets:
    """The buckets of one family (``name``), in Redis, with a local fallback."""

    def __init__(self, link: RedisLink, name: str, rate: float, burst: int) -> None:
        self.link, self.name, self.rate, self.burst = link, name, rate, burst
        self.fallback = TokenBuckets(rate, burst)
        self._script: Any = None
        self._script_client: Any = None

    async def hit(self, key: str, cost: float = 1.0) -> float | None:
        if not self.link.usable():
            return self.fallback.take(key, cost)
        try:
            client = self.link.async_client()
            if self._script_client is not client:
                self._script, self._script_client = client.register_script(BUCKET_LUA), client
            bucket = self.link.key("rl", self.name, await self.link.hashed(key))
            raw = await self._script(keys=[bucket], args=[self.rate, self.burst, cost])
        except ERRORS as exc:
            self.link.failed(exc, MEANWHILE)
            return self.fallback.take(key, cost)
        self.link.ok()
        wait = float(raw)
        return wait if wait > 0 else None


class RedisLimits:
    """The Redis :class:`~footfall.shared.base.LimiterFactory`."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    def __call__(self, name: str, rate: float, burst: int) -> RateLimiter:
        return NoLimit() if rate <= 0 else RedisBuckets(self.link, name, rate, burst)
