"""An import's bulk load: record columns in large rounds straight to the store's batch target.

The queue path (:meth:`footfall.imports.feed.Feed.put`) encodes every record as JSON for
the spool, which the writer then decodes again, a round of at most the writer's batch
size at a time. An import needs neither the queue's durability (the file is still there,
and event ids from file and line make a rerun add only what is missing) nor small rounds,
so :class:`BulkLoad` hands Arrow tables of the spool record's columns
(``footfall.ingest.batch.steps.RECORD_COLUMNS``) to the very same batch steps, through
``EventStore.begin_batch`` without a queue position (as ``import footfall`` does), in rounds
of ``ROUND`` records: deduplication by event id, enrichment, bot and spam drops, the
30-minute rule with the stored visits a round may extend (the batch steps' "open visits"
rule: the previous round's, and any stored before the import) and the rollups' to-do
list are those of live collection, on every store.

Each round runs on a thread of its own while the caller reads the next one: the batch
engine works outside the GIL, so reading and storing overlap on two cores. Rounds still
run one after the other, each seeing what the one before stored. A round starts as soon
as the previous one is done and ``MIN_ROUND`` records are held, not only at ``ROUND``: the
first round starts after the first block of a file instead of after some 300,000 lines,
and the batch steps, the slower side, never wait while records are ready.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import pyarrow as pa

    from footfall.imports.feed import Feed

# Records per round: large, because each round has a fixed cost (some 30 statements, the
# stored visits it may touch read once), and small enough that a round's tables stay well
# under the memory a writer round of the queue path takes (its batch size, 150,000).
ROUND = 150_000
# Records a round takes at least while the rounds keep up with the reader: enough that a
# round's fixed cost stays small beside its rows (an 8 MiB block of a log gives some
# 20,000 page views).
MIN_ROUND = 10_000
P = TypeVar("P")


class BulkLoad(Generic[P]):
    """Collects pieces of records and stores them in rounds of about ``ROUND`` records;
    ``build`` makes a round's table of a round's pieces (so what the pieces share, such
    as a visitor's columns, is converted once a round)."""

    def __init__(
        self, feed: Feed, build: Callable[[list[P]], pa.Table], round_size: int = 0
    ) -> None:
        if feed.writer is None:
            raise ValueError("a bulk load needs the feed's own writer (no footfall worker)")
        self.feed, self.writer, self.build = feed, feed.writer, build
        self.round_size = round_size or ROUND
        self._held: list[P] = []
        self._rows = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="footfall-import")
        self._running: Future[dict[str, Any]] | None = None

    def add(self, piece: P, rows: int) -> None:
        """Hold ``piece`` (of ``rows`` records); store a round once enough are held."""
        if rows:
            self._held.append(piece)
            self._rows += rows
        if self._rows >= self.round_size or (
            self._rows >= min(MIN_ROUND, self.round_size) and self._idle()
        ):
            self._submit()

    def finish(self) -> None:
        """Store what is held and wait for every round to be committed."""
        try:
            self._submit()
            self._wait()
        finally:
            self._pool.shutdown()

    def _submit(self) -> None:
        if not self._rows:
            return
        table = self.build(self._held)
        self._held, self._rows = [], 0
        self._wait()  # the next round reads the visits this one stores
        self._running = self._pool.submit(self._round, table)

    def _idle(self) -> bool:
        return self._running is None or self._running.done()

    def _wait(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            self._count(running.result())

    def _round(self, table: pa.Table) -> dict[str, Any]:
        from footfall.ingest.batch import steps

        w = self.writer
        with self.feed.store.begin_batch(None) as target:
            return steps.write(target, table, w.enricher, w.session_timeout_ms)

    def _count(self, got: dict[str, Any]) -> None:
        c = self.feed.counts
        bot, spam = got.get("dropped_bot", 0), got.get("dropped_referrer_spam", 0)
        c.inserted += got["inserted"]
        c.duplicates += got["duplicates"]
        c.dropped_bot += bot
        c.dropped_referrer_spam += spam
        c.dropped_other += got["dropped"] - bot - spam
