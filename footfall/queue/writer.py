"""The batch writer: drains the queue into the event store by size and by interval.

One round reads up to ``batch_size`` durable records from the queue position the store
last committed, drops duplicates (event ids already stored or repeated in the batch),
enriches, assigns sessions, and commits events + session merges + drop counts + the new
position in one store transaction. Only then are the consumed spool segments released.
After a crash the round simply runs again from the committed position: nothing
acknowledged is lost and nothing is written twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pyarrow as pa

from footfall.ingest.enrich import enrich
from footfall.ingest.record import DECODER, SpoolRecord
from footfall.ingest.sessions import Assignment, Attrs, Sessionizer
from footfall.queue.spool import Position, Spool
from footfall.store.base import EVENTS_SCHEMA, VISIT_COLUMNS, EventStore, WriteBatch

log = logging.getLogger("footfall.writer")

DAY_MS = 86_400_000


@dataclass(slots=True)
class WriterStats:
    events_written: int = 0
    duplicates_skipped: int = 0
    dropped: int = 0
    corrupt_records: int = 0
    batches: int = 0
    last_batch_at: float = 0.0
    last_batch_seconds: float = 0.0
    errors: int = 0


class Writer:
    """Moves events from the spool to the store on a background thread."""

    def __init__(
        self,
        spool: Spool,
        store: EventStore,
        domains_of: Callable[[str], tuple[str, ...]],
        *,
        batch_size: int = 20_000,
        interval_ms: int = 250,
        session_timeout_ms: int = 30 * 60_000,
        allow_headless: bool = False,
    ) -> None:
        self.spool, self.store, self.domains_of = spool, store, domains_of
        self.batch_size, self.interval = batch_size, interval_ms / 1000
        self.sessionizer = Sessionizer(store, session_timeout_ms)
        self.allow_headless = allow_headless
        self.stats = WriterStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        saved = store.read_progress()
        self.position = Position(*saved) if saved else spool.first_position()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="footfall-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after draining everything durable in the spool."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        while self.run_once():
            pass

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every durable record is in the store (tests, shutdown, benches)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool.read(self.position, 1)[0] == []:
                return True
            time.sleep(0.01)
        return False

    def lag(self) -> int:
        """Durable records not yet in the store."""
        return self.spool.depth(self.position)

    def _loop(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                n = self.run_once()
                backoff = self.interval
            except Exception:
                # The store refused the batch: forget cached visits (they may be ahead of
                # the store) and try the same records again later; they stay in the spool.
                log.exception("writer round failed; retrying")
                self.stats.errors += 1
                self.sessionizer.reset()
                backoff = min(backoff * 2, 5.0)
                self._stop.wait(backoff)
                continue
            if n < self.batch_size:
                self._stop.wait(self.interval)

    def run_once(self) -> int:
        """One round; returns how many records were consumed from the spool."""
        payloads, end = self.spool.read(self.position, self.batch_size)
        if not payloads:
            return 0
        started = time.perf_counter()
        records = self._decode(payloads)
        records = self._without_duplicates(records)
        # Sessions are cut on event time; in time order a visit's first event comes first.
        records.sort(key=lambda r: r.ts)
        enriched = enrich(records, self.domains_of, allow_headless=self.allow_headless)
        kept = enriched.records
        assignment = self.sessionizer.assign(kept, _own_visit_attrs(kept, enriched.columns))
        drops = dict(enriched.drops)
        self.store.write_batch(
            WriteBatch(
                _to_arrow(kept, assignment),
                assignment.merges,
                drops,
                (end.segment, end.offset),
                assignment.restamp,
            )
        )
        self.position = end
        self.spool.release(end)
        s = self.stats
        s.events_written += len(kept)
        s.dropped += sum(drops.values())
        s.batches += 1
        s.last_batch_at = time.time()
        s.last_batch_seconds = time.perf_counter() - started
        return len(payloads)

    def _decode(self, payloads: list[bytes]) -> list[SpoolRecord]:
        out: list[SpoolRecord] = []
        for p in payloads:
            try:
                out.append(DECODER.decode(p))
            except msgspec.DecodeError:
                # The spool's crc passed, so this is a record from an incompatible version.
                self.stats.corrupt_records += 1
                log.error("skipping undecodable spool record (%d bytes)", len(p))
        return out

    def _without_duplicates(self, records: list[SpoolRecord]) -> list[SpoolRecord]:
        unique: dict[str, SpoolRecord] = {}
        for r in records:
            unique.setdefault(r.event_id, r)
        if not unique:
            return []
        lo = min(r.ts for r in unique.values()) - DAY_MS
        hi = max(r.ts for r in unique.values()) + DAY_MS
        stored = self.store.existing_event_ids(list(unique), lo, hi)
        kept = [r for eid, r in unique.items() if eid not in stored]
        self.stats.duplicates_skipped += len(records) - len(kept)
        return kept


_RECORD_ATTRS = frozenset(("referrer", "screen", "language", "country", "region", "city"))


def _own_visit_attrs(records: list[SpoolRecord], derived: dict[str, list[Any]]) -> list[Attrs]:
    """Each event's own values of VISIT_COLUMNS (the visit's, if it is the first event)."""
    columns = [
        [getattr(r, name) for r in records] if name in _RECORD_ATTRS else derived[name]
        for name in VISIT_COLUMNS
    ]
    return list(zip(*columns, strict=True)) if records else []


def _to_arrow(records: list[SpoolRecord], a: Assignment) -> pa.Table:
    cols: dict[str, object] = {}
    for name in (
        "event_id", "site_id", "ts", "name", "hostname", "pathname", "url_query", "user_id",
        "title", "revenue", "duration_ms", "load_time_ms", "scroll_depth", "interactive",
    ):  # fmt: skip
        cols[name] = [getattr(r, name) for r in records]
    stamped: list[tuple[Any, ...]] = (
        list(zip(*a.attrs, strict=True)) if records else [() for _ in VISIT_COLUMNS]
    )
    for name, values in zip(VISIT_COLUMNS, stamped, strict=True):
        cols[name] = values
    cols["entry_page"] = a.entry_pages
    cols["props"] = [list(r.props.items()) for r in records]
    cols["session_id"] = a.session_ids
    cols["visitor_id"] = a.visitor_ids
    return pa.Table.from_pydict(cols, schema=EVENTS_SCHEMA)
