"""The ports of shared state: a rate limiter, the live visitor count, a broadcast.

- :class:`RateLimiter`: a token bucket per key; ``hit`` is ``None`` when allowed, else the
  seconds to wait (the ``Retry-After``). Async, because in the scale-out shape it is a
  round trip to Redis, which must not hold the event loop. :class:`RequestLimits` is a
  collection request's pair (per IP, per key), one round trip for both in Redis.
- :class:`LiveVisitors`: "current visitors" of a site (docs/design.md: distinct visitors
  with an event in the last 5 minutes). ``seen`` is told of every acknowledged event.
- :class:`Broadcast`: one process says "the site metadata changed"; every process that
  listens (itself included) drops its cached copy.

:class:`SharedState` bundles one adapter of each, as :func:`footfall.shared.open_shared`
builds them; ``limiter`` makes a named family of buckets (collection per IP, per key,
password tries), so the adapters keep their connection and fallback logic in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from footfall.meta.repo import SiteInfo


class RateLimiter(Protocol):
    async def hit(self, key: str, cost: float = 1.0) -> float | None:
        """Take ``cost`` tokens from ``key``'s bucket: None when allowed, else seconds to
        wait until they would be there."""
        ...


class RequestLimits(Protocol):
    """The two limits of a collection request: its client IP's bucket and its ingest
    key's. ``ip`` runs before the body is read, ``both`` once the key is known; an adapter
    for which each check is a round trip (Redis) leaves the IP to ``both``, which then
    takes both buckets in one call."""

    async def ip(self, ip: str) -> float | None:
        """The IP's bucket alone, or None when it is left to :meth:`both`."""
        ...

    async def both(self, ip: str, key: str) -> tuple[str, float] | None:
        """None when allowed; else which limit refused ("ip" or "key") and the seconds
        to wait. The key's bucket is not touched when the IP's refuses."""
        ...


class LiveVisitors(Protocol):
    def seen(self, payloads: list[bytes]) -> None:
        """Acknowledged events (encoded spool records); cheap, never blocks, never raises."""
        ...

    def count(self, site: SiteInfo) -> int:
        """Distinct visitors of ``site`` with an event in the last 5 minutes (blocking)."""
        ...


class Broadcast(Protocol):
    def listen(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on any thread) whenever any process ``publish``-es, and
        whenever messages may have been missed (after a reconnection)."""
        ...

    def publish(self) -> None:
        """Tell every listening process (this one included) that metadata changed."""
        ...


class LimiterFactory(Protocol):
    def __call__(self, name: str, rate: float, burst: int) -> RateLimiter: ...


class RequestLimitsFactory(Protocol):
    def __call__(self, ip: RateLimiter, key: RateLimiter) -> RequestLimits:
        """The pair over two limiters this state's ``limiter`` made (same buckets)."""
        ...


@dataclass
class SharedState:
    """One adapter of each port, and how to close them."""

    kind: str  # "process" or "redis", for /api/health and the logs
    limiter: LimiterFactory
    request_limits: RequestLimitsFactory
    live: LiveVisitors
    site_changes: Broadcast
    close: Callable[[], Awaitable[None]]
