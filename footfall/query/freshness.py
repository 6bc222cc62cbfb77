"""Data freshness: per site, how old the newest stored event is.

A site whose newest event grows old while its pages are visited points at a broken
tracker or a stuck writer; ``/api/health`` shows these ages. One grouped ``max(ts)`` over
the events (both stores keep events ordered by site and time, so it reads little), kept
for ``TTL`` seconds so that frequent health checks cost one query every few seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from footfall.store.base import EventStore

TTL = 10.0


class Freshness:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._at = 0.0
        self._newest: dict[str, datetime] = {}

    def newest(self) -> dict[str, datetime]:
        """Site id -> its newest stored event's time (naive UTC), at most TTL s old."""
        with self._lock:
            if time.monotonic() - self._at > TTL:
                rows = self.store.query("SELECT site_id, max(ts) FROM events GROUP BY site_id")
                self._newest = {str(site): ts for site, ts in rows if ts is not None}
                self._at = time.monotonic()
            return dict(self._newest)

    def ages(self, now: datetime | None = None) -> dict[str, float]:
        """Site id -> seconds since its newest stored event."""
        now = (now or datetime.now(UTC)).replace(tzinfo=None)
        return {s: round((now - ts).total_seconds(), 3) for s, ts in sorted(self.newest().items())}
