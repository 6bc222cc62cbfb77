"""Token buckets in this process's memory: the one-process rate limits.

Also the Redis adapter's fallback while Redis is unreachable (each process then limits
on its own, see :mod:`footfall.shared.redis.limits`).
"""

from __future__ import annotations

import threading
import time

from footfall.shared.base import RateLimiter


class NoLimit:
    """A limit of 0 means off."""

    async def hit(self, key: str, cost: float = 1.0) -> float | None:
        return None


class TokenBuckets:
    """One bucket per key refilled at ``rate`` per second up to ``burst``."""

    def __init__(self, rate: float, burst: int, max_keys: int = 200_000) -> None:
        self.rate, self.burst, self.max_keys = rate, float(burst), max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)
        self._lock = threading.Lock()

    async def hit(self, key: str, cost: float = 1.0) -> float | None:
        return self.take(key, cost)

    def take(self, key: str, cost: float = 1.0) -> float | None:
        """``hit`` without the event loop (it never waits on anything but a lock)."""
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - updated) * self.rate)
            if tokens >= cost:
                if len(self._buckets) >= self.max_keys:
                    self._evict(now)
                self._buckets[key] = (tokens - cost, now)
                return None
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / self.rate

    def _evict(self, now: float) -> None:
        # Buckets that would be full again carry no state worth keeping.
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


def local_limiter(name: str, rate: float, burst: int) -> RateLimiter:
    """The in-process :class:`~footfall.shared.base.LimiterFactory` (``name`` only matters
    when buckets are shared)."""
    return NoLimit() if rate <= 0 else TokenBuckets(rate, burst)


class LocalRequestLimits:
    """A request's two limits in process: the IP's before the body, the key's after."""

    def __init__(self, ip: RateLimiter, key: RateLimiter) -> None:
        self._ip, self._key = ip, key

    async def ip(self, ip: str) -> float | None:
        return await self._ip.hit(ip)

    async def both(self, ip: str, key: str) -> tuple[str, float] | None:
        wait = await self._key.hit(key)
        return None if wait is None else ("key", wait)
