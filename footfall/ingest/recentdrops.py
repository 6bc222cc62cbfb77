"""Events the request path dropped, per site and reason, over the last hour.

The settings page's "Verify installation" check answers "why did my first test page
record nothing?" from these counts (and the writer's, which the store keeps in
``dropped_events``). They are kept in memory, not in the store: the check only needs the
last hour, and a drop on the request path should cost a few dictionary operations, not a
write. Each (site, reason) pair has a ring of one-minute slots; a slot is reset when its
minute comes round again, so memory stays at 60 integers per pair and nothing expires on a
timer. A restart forgets the counts, which the page says.

Writes happen on the event loop's thread (the collection handlers); the dashboard reads
from a worker thread. A read that races a write may miss that one event, which a page
showing the last hour can afford; no lock is taken on the request path.

Every drop is also counted in ``footfall_events_dropped_total`` (:mod:`footfall.telemetry`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from footfall import telemetry

MINUTES = 60


class _Ring:
    __slots__ = ("counts", "minutes")

    def __init__(self) -> None:
        self.minutes = [-1] * MINUTES  # which minute (since the epoch) each slot counts
        self.counts = [0] * MINUTES

    def add(self, minute: int, n: int) -> None:
        slot = minute % MINUTES
        if self.minutes[slot] != minute:
            self.minutes[slot], self.counts[slot] = minute, 0
        self.counts[slot] += n

    def total_since(self, first: int) -> int:
        return sum(c for m, c in zip(self.minutes, self.counts, strict=True) if m >= first)


class RecentDrops:
    """Per-site, per-reason drop counts of the last :data:`MINUTES` minutes."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._rings: dict[tuple[str, str], _Ring] = {}
        self._hosts: dict[str, str] = {}  # the last foreign page host seen per site

    def add(self, site_id: str, reason: str, n: int = 1, host: str | None = None) -> None:
        """Count ``n`` events of ``site_id`` dropped for ``reason`` (on the loop thread)."""
        telemetry.count_drop(reason, n)
        ring = self._rings.get((site_id, reason))
        if ring is None:
            ring = self._rings[(site_id, reason)] = _Ring()
        ring.add(int(self._clock() // 60), n)
        if host is not None:
            self._hosts[site_id] = host

    def last_hour(self, site_id: str) -> dict[str, int]:
        """``{reason: events}`` dropped for the site in the last hour (no zero counts)."""
        first = int(self._clock() // 60) - MINUTES + 1
        counts = {
            reason: ring.total_since(first)
            for (site, reason), ring in list(self._rings.items())
            if site == site_id
        }
        return {reason: n for reason, n in counts.items() if n}

    def last_foreign_host(self, site_id: str) -> str | None:
        """The page host of the site's latest event dropped as not among its domains."""
        return self._hosts.get(site_id)


__all__ = ["MINUTES", "RecentDrops"]
