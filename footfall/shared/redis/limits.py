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

from footfall.shared.base import RateLimiter, RequestLimits
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

# The same over several buckets in one call (a collection request's IP and key): KEYS
# the buckets in order, ARGV rate and burst of each, then the cost. Takes from each in
# turn and stops at the first that refuses; returns "" when all allowed, else
# "<its index>:<seconds to wait>".
BUCKETS_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[#KEYS * 2 + 1])
local function text(x) return string.format('%.17g', x) end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[i * 2 - 1]), tonumber(ARGV[i * 2])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or at == nil then tokens, at = burst, now end
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  local wait = 0
  if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
  redis.call('HSET', key, 'tokens', text(tokens), 'at', text(now))
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) / rate * 1000) + 1000)
  if wait > 0 then return i .. ':' .. text(wait) end
end
return ''
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

    def pair(self, ip: RateLimiter, key: RateLimiter) -> RequestLimits:
        """The :class:`~footfall.shared.base.RequestLimitsFactory` over two families."""
        return RedisRequestLimits(self.link, ip, key)


class RedisRequestLimits:
    """A collection request's IP and key limits in one script call (one round trip a
    request, not two): the IP's bucket is left to :meth:`both`, after the body is read,
    which judges by the same buckets ``RedisBuckets`` keeps (and the same fallbacks)."""

    def __init__(self, link: RedisLink, ip: RateLimiter, key: RateLimiter) -> None:
        self.link = link
        self.families: list[tuple[str, RedisBuckets]] = [
            (label, limiter)
            for label, limiter in (("ip", ip), ("key", key))
            if isinstance(limiter, RedisBuckets)
        ]
        self._script: Any = None
        self._script_client: Any = None

    async def ip(self, ip: str) -> float | None:
        return None

    async def both(self, ip: str, key: str) -> tuple[str, float] | None:
        if not self.families:
            return None
        values = {"ip": ip, "key": key}
        if not self.link.usable():
            return self._fallback(values)
        try:
            client = self.link.async_client()
            if self._script_client is not client:
                self._script, self._script_client = client.register_script(BUCKETS_LUA), client
            keys = [
                self.link.key("rl", b.name, await self.link.hashed(values[label]))
                for label, b in self.families
            ]
            args: list[float] = [x for _, b in self.families for x in (b.rate, b.burst)]
            raw = await self._script(keys=keys, args=[*args, 1.0])
        except ERRORS as exc:
            self.link.failed(exc, MEANWHILE)
            return self._fallback(values)
        self.link.ok()
        answer = raw.decode() if isinstance(raw, bytes) else str(raw)
        if not answer:
            return None
        index, _, wait = answer.partition(":")
        return self.families[int(index) - 1][0], float(wait)

    def _fallback(self, values: dict[str, str]) -> tuple[str, float] | None:
        for label, b in self.families:
            wait = b.fallback.take(values[label])
            if wait is not None:
                return label, wait
        return None
