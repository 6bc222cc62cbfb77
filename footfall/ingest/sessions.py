"""Session assignment by the 30-minute rule, on event time, in the writer.

Every stored event carries a ``session_id``. A client-supplied one is honoured (and the
visit keeps the visitor id it started with, even across ``identify()``); otherwise the
event joins its visitor's visit when it lies within the timeout of that visit's bounds,
else it starts a new one. A late event that lands between two visits closer than the
timeout to both joins them: the later visit is merged into the earlier.

Each event is also stamped with its *visit's* attributes (source, UTM, device, country,
entry page ... those of the visit's first event), as Plausible does, so visit dimensions
and filters apply to events without a join. When a late event becomes a stored visit's
new first event (or first pageview), the visit is reported for re-stamping.

The store is the source of truth; this class only caches recent visits per visitor and
loads what it lacks in one query per batch, so dropping the cache is always safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from footfall.ingest.record import SpoolRecord
from footfall.store.base import EventStore, SessionSpan

Key = tuple[str, int]  # (site_id, visitor_id) or (site_id, client session id)
Attrs = tuple[str, ...]  # values of store.base.VISIT_COLUMNS


def new_session_id(event_id: str) -> int:
    """Deterministic id for a visit started by ``event_id`` (replays give the same id)."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8, person=b"ff-session").digest()
    return int.from_bytes(digest, "little") or 1


class Visit:
    __slots__ = ("attrs", "dirty", "end", "entry_page", "entry_ts", "merged_into", "sid",
                 "start", "stored", "visitor")  # fmt: skip

    def __init__(self, span: SessionSpan, stored: bool) -> None:
        self.start, self.end, self.sid, self.visitor = (
            span.start_ms,
            span.end_ms,
            span.session_id,
            span.visitor_id,
        )
        self.attrs, self.entry_page, self.entry_ts = span.attrs, span.entry_page, span.entry_ts_ms
        self.stored, self.dirty = stored, False
        self.merged_into: Visit | None = None

    def final(self) -> Visit:
        v = self
        while v.merged_into is not None:
            v = v.merged_into
        return v

    def add(self, r: SpoolRecord, attrs: Attrs) -> None:
        if r.ts < self.start:
            self.start, self.attrs, self.dirty = r.ts, attrs, True
        self.end = max(self.end, r.ts)
        if r.name == "pageview" and (self.entry_ts is None or r.ts < self.entry_ts):
            self.entry_ts, self.entry_page, self.dirty = r.ts, r.pathname, True


@dataclass(slots=True)
class Assignment:
    session_ids: list[int] = field(default_factory=list)
    visitor_ids: list[int] = field(default_factory=list)
    attrs: list[Attrs] = field(default_factory=list)  # the visit's, to stamp on each event
    entry_pages: list[str] = field(default_factory=list)
    merges: list[tuple[str, int, int]] = field(default_factory=list)
    restamp: list[tuple[str, int]] = field(default_factory=list)


def _span(r: SpoolRecord, attrs: Attrs, sid: int) -> SessionSpan:
    entry = r.pathname if r.name == "pageview" else None
    return SessionSpan(
        r.site_id, r.visitor_id, sid, r.ts, r.ts, attrs, entry, r.ts if entry else None
    )


class Sessionizer:
    """Assigns session ids to a batch (sorted by time) and reports merges and re-stamps."""

    def __init__(self, store: EventStore, timeout_ms: int = 30 * 60_000, max_cached: int = 500_000):
        self.store, self.timeout, self.max_cached = store, timeout_ms, max_cached
        self._visits: dict[Key, tuple[int, list[Visit]]] = {}  # visitor -> (covered since, visits)
        self._client: dict[Key, Visit] = {}  # client-supplied session -> its visit

    def reset(self) -> None:
        """Forget everything (after a failed write the cache may be ahead of the store)."""
        self._visits.clear()
        self._client.clear()

    def assign(self, records: Sequence[SpoolRecord], attrs: Sequence[Attrs]) -> Assignment:
        if len(self._visits) + len(self._client) > self.max_cached:
            self.reset()
        self._load_missing(records)
        out = Assignment()
        placed: list[Visit] = []
        for r, a in zip(records, attrs, strict=True):
            if r.session_id:
                key = (r.site_id, r.session_id)
                visit = self._client.get(key)
                if visit is None:
                    visit = self._client[key] = Visit(_span(r, a, r.session_id), stored=False)
                visit.add(r, a)
            else:
                visit = self._place(r, a, self._visits[(r.site_id, r.visitor_id)][1], out.merges)
            placed.append(visit)
        restamp: set[Key] = set()
        for r, v in zip(records, placed, strict=True):
            v = v.final()
            out.session_ids.append(v.sid)
            out.visitor_ids.append(v.visitor)
            out.attrs.append(v.attrs)
            out.entry_pages.append(v.entry_page or "")
            if v.stored and v.dirty:
                restamp.add((r.site_id, v.sid))
        out.restamp = sorted(restamp | {(site, keep) for site, _, keep in out.merges})
        for visits in list(self._client.values()) + [
            v for _, vs in self._visits.values() for v in vs
        ]:
            visits.stored, visits.dirty = True, False
        return out

    def _place(
        self, r: SpoolRecord, attrs: Attrs, visits: list[Visit], merges: list[tuple[str, int, int]]
    ) -> Visit:
        t, gap = r.ts, self.timeout
        near = sorted(
            (v for v in visits if v.start - gap <= t <= v.end + gap), key=lambda v: v.start
        )
        if not near:
            visit = Visit(_span(r, attrs, new_session_id(r.event_id)), stored=False)
            visits.append(visit)
            visit.add(r, attrs)
            return visit
        keep = near[0]
        for other in near[1:]:
            keep.end = max(keep.end, other.end)
            if other.entry_ts is not None and (
                keep.entry_ts is None or other.entry_ts < keep.entry_ts
            ):
                keep.entry_ts, keep.entry_page = other.entry_ts, other.entry_page
            other.merged_into = keep
            keep.dirty = True
            visits.remove(other)
            if other.stored:
                merges.append((r.site_id, other.sid, keep.sid))
        keep.add(r, attrs)
        return keep

    def _load_missing(self, records: Sequence[SpoolRecord]) -> None:
        since: dict[Key, int] = {}
        client: set[Key] = set()
        for r in records:
            if r.session_id:
                if (r.site_id, r.session_id) not in self._client:
                    client.add((r.site_id, r.session_id))
                continue
            key = (r.site_id, r.visitor_id)
            cached = self._visits.get(key)
            lo = r.ts - self.timeout
            if cached is None or lo < cached[0]:
                since[key] = min(since.get(key, lo), lo)
        if client:
            for span in self.store.sessions_by_id(sorted(client)):
                self._client[(span.site_id, span.session_id)] = Visit(span, stored=True)
        if not since:
            return
        lo = min(since.values())
        found: dict[Key, list[Visit]] = {k: [] for k in since}
        for span in self.store.sessions_for_visitors(sorted(since), lo):
            found[(span.site_id, span.visitor_id)].append(Visit(span, stored=True))
        for key, visits in found.items():
            self._visits[key] = (lo, visits)
