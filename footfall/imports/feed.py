"""Where imported events go: the configured queue, drained by a writer into the store.

Imported events take the live path from the spool record on: they are appended to the
queue (the embedded spool or Redis) and a :class:`~footfall.queue.writer.Writer` in this
process runs the batch steps on the store's batch target, so deduplication by event id,
enrichment (browser, OS, referrer source, UTM), bot and spam drops and the 30-minute
visit rule are exactly those of collected events, on every store, and each round commits
with its queue position (which the ClickHouse store's replay safety relies on).

The import holds the data directory's lock, so no server drains the same queue meanwhile.
In the Redis shape (a queue consumed by ``footfall worker`` processes) the import only
appends: the workers store the events, and the summary says they were queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from footfall.cli_preflight import DataDirLock, PreflightError
from footfall.config import Settings
from footfall.meta.repo import Metadata
from footfall.meta.salts import SaltStore

if TYPE_CHECKING:  # the engines load when a feed opens, not when the CLI builds its parser
    from footfall.ingest.sitecache import SiteCache
    from footfall.queue.base import EventQueue
    from footfall.queue.writer import Writer
    from footfall.store.base import EventStore


class ImportFailed(Exception):
    """The import cannot run; the message is the one line the user sees."""


@dataclass
class WriteCounts:
    """What the writer did with the records handed to it."""

    inserted: int = 0
    duplicates: int = 0
    dropped_bot: int = 0
    dropped_referrer_spam: int = 0
    dropped_other: int = 0


@dataclass
class Feed:
    """An open queue, store and writer for one import run."""

    settings: Settings
    meta: Metadata
    sites: SiteCache
    salts: SaltStore
    queue: EventQueue
    store: EventStore
    writer: Writer | None  # None: footfall worker processes drain the queue
    counts: WriteCounts = field(default_factory=WriteCounts)
    queued: int = 0  # records appended for the workers

    def put(self, payloads: list[bytes]) -> None:
        """Append encoded spool records and, with a writer of its own, store them before
        returning."""
        if not payloads:
            return
        self.queue.append_sync(payloads)
        if self.writer is None:
            self.queued += len(payloads)
        self.drain()

    def drain(self) -> None:
        if self.writer is None:
            return
        stats = self.writer.stats
        before = (
            stats.events_written,
            stats.duplicates_skipped,
            stats.dropped,
            stats.dropped_bot,
            stats.dropped_referrer_spam,
        )
        while self.writer.run_once():
            pass
        c = self.counts
        c.inserted += stats.events_written - before[0]
        c.duplicates += stats.duplicates_skipped - before[1]
        bot = stats.dropped_bot - before[3]
        spam = stats.dropped_referrer_spam - before[4]
        c.dropped_bot += bot
        c.dropped_referrer_spam += spam
        c.dropped_other += stats.dropped - before[2] - bot - spam


@contextmanager
def open_feed(settings: Settings, what: str) -> Iterator[Feed]:
    """Lock the data directory, open metadata, queue, store and a writer; close them all."""
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire(what)
    except PreflightError as exc:
        raise ImportFailed(str(exc)) from None
    from footfall.ingest.sitecache import SiteCache
    from footfall.queue import open_queue
    from footfall.queue.writer import Writer
    from footfall.store import open_store

    meta = Metadata(settings.metadata_url)
    try:
        meta.migrate()
        store = open_store(settings)
        try:
            queue = open_queue(settings)
            try:
                sites = SiteCache(meta)
                writer = (
                    None
                    if queue.consumed_by_workers
                    else Writer(
                        queue,
                        store,
                        sites.domains_of,
                        batch_size=settings.batch_size,
                        session_timeout_ms=settings.session_timeout_minutes * 60_000,
                        allow_headless=settings.allow_headless,
                        scratch_dir=settings.data_dir,
                    )
                )
                # Whatever an earlier process left queued goes in first, in order.
                feed = Feed(settings, meta, sites, SaltStore(meta), queue, store, writer)
                feed.drain()
                feed.counts = WriteCounts()
                yield feed
                feed.drain()
            finally:
                queue.close_sync()
        finally:
            store.close()
    finally:
        meta.close()
        lock.release()
