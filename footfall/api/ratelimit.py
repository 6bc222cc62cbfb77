"""Token-bucket rate limits for collection requests, per client IP and per ingest key.

In process here; ``RateLimiter`` is the port a Redis-backed limiter implements for the
scale-out shape. ``hit`` returns ``None`` when allowed, else the seconds to wait, which
becomes the ``Retry-After`` header.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol


class RateLimiter(Protocol):
    def hit(self, key: str, cost: float = 1.0) -> float | None: ...


class NoLimit:
    """A limit of 0 means off."""

    def hit(self, key: str, cost: float = 1.0) -> float | None:
        return None


class TokenBuckets:
    """One bucket per key refilled at ``rate`` per second up to ``burst``."""

    def __init__(self, rate: float, burst: int, max_keys: int = 200_000) -> None:
        self.rate, self.burst, self.max_keys = rate, float(burst), max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)
        self._lock = threading.Lock()

    def hit(self, key: str, cost: float = 1.0) -> float | None:
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


def make_limiter(rate: float, burst: int) -> RateLimiter:
    return NoLimit() if rate <= 0 else TokenBuckets(rate, burst)


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
