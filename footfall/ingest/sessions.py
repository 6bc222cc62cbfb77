"""Session assignment by the 30-minute rule, on event time, in the writer.

Every stored event carries a ``session_id``. A client-supplied one is honoured (and the
visit keeps the visitor id it started with, even across ``identify()``); otherwise the
event joins its visitor's visit when it lies within the timeout of that visit's bounds,
else it starts a new one. A late event that lands between two visits closer than the
timeout to both joins them: the later visit is merged into the earlier.

The store is the source of truth; this class only caches recent visits per visitor and
loads what it lacks in one query per batch, so dropping the cache is always safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from footfall.ingest.record import SpoolRecord
from footfall.store.base import EventStore

Key = tuple[str, int]  # (site_id, visitor_id)


def new_session_id(event_id: str) -> int:
    """Deterministic id for a visit started by ``event_id`` (replays give the same id)."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8, person=b"ff-session").digest()
    return int.from_bytes(digest, "little") or 1


class Sessionizer:
    """Assigns session ids to a batch and reports the visits it merged."""

    def __init__(self, store: EventStore, timeout_ms: int = 30 * 60_000, max_cached: int = 500_000):
        self.store = store
        self.timeout = timeout_ms
        self.max_cached = max_cached
        # visitor -> (covered_since_ms, [[start, end, session_id], ...])
        self._visits: dict[Key, tuple[int, list[list[int]]]] = {}
        # client session -> visitor it started with
        self._client_sessions: dict[Key, int] = {}

    def reset(self) -> None:
        """Forget everything (after a failed write the cache may be ahead of the store)."""
        self._visits.clear()
        self._client_sessions.clear()

    def assign(
        self, records: Sequence[SpoolRecord]
    ) -> tuple[list[int], list[int], list[tuple[str, int, int]]]:
        """Return (session_ids, visitor_ids, merges) for ``records`` in order."""
        if len(self._visits) > self.max_cached or len(self._client_sessions) > self.max_cached:
            self.reset()
        self._load_missing(records)
        session_ids: list[int] = []
        visitor_ids: list[int] = []
        merges: list[tuple[str, int, int]] = []
        for r in records:
            if r.session_id:
                key = (r.site_id, r.session_id)
                visitor = self._client_sessions.setdefault(key, r.visitor_id)
                session_ids.append(r.session_id)
                visitor_ids.append(visitor)
                continue
            visits = self._visits[(r.site_id, r.visitor_id)][1]
            session_ids.append(self._place(r, visits, merges))
            visitor_ids.append(r.visitor_id)
        if merges:
            # Earlier events of this batch may carry an id that was merged away.
            renamed = {drop: keep for _, drop, keep in merges}
            for i, sid in enumerate(session_ids):
                while sid in renamed:
                    sid = renamed[sid]
                session_ids[i] = sid
        return session_ids, visitor_ids, merges

    def _place(
        self, r: SpoolRecord, visits: list[list[int]], merges: list[tuple[str, int, int]]
    ) -> int:
        t, gap = r.ts, self.timeout
        near = [v for v in visits if v[0] - gap <= t <= v[1] + gap]
        if not near:
            visit = [t, t, new_session_id(r.event_id)]
            visits.append(visit)
            return visit[2]
        near.sort()
        keep = near[0]
        keep[0], keep[1] = min(keep[0], t), max(keep[1], t)
        for other in near[1:]:
            keep[1] = max(keep[1], other[1])
            merges.append((r.site_id, other[2], keep[2]))
            visits.remove(other)
        return keep[2]

    def _load_missing(self, records: Sequence[SpoolRecord]) -> None:
        since: dict[Key, int] = {}
        client: set[Key] = set()
        for r in records:
            if r.session_id:
                key = (r.site_id, r.session_id)
                if key not in self._client_sessions:
                    client.add(key)
                continue
            key = (r.site_id, r.visitor_id)
            cached = self._visits.get(key)
            lo = r.ts - self.timeout
            if cached is None or lo < cached[0]:
                since[key] = min(since.get(key, lo), lo)
        if client:
            self._client_sessions.update(self.store.session_visitors(sorted(client)))
        if not since:
            return
        lo = min(since.values())
        found: dict[Key, list[list[int]]] = {k: [] for k in since}
        for span in self.store.sessions_for_visitors(sorted(since), lo):
            found[(span.site_id, span.visitor_id)].append(
                [span.start_ms, span.end_ms, span.session_id]
            )
        for key, visits in found.items():
            self._visits[key] = (lo, visits)
