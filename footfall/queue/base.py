"""The queue port: what collection (the HTTP side) and the writer need from an event queue.

Collection calls :meth:`EventQueue.append` and answers the client only after it returns
(the events are durable then); a queue that refuses new data for a while raises
:class:`QueueFull`, which collection turns into 503 with ``Retry-After``. The writer runs
on its own thread, so the read side is synchronous (blocking) on purpose.

Adapters: the embedded on-disk spool (:mod:`footfall.queue.spool`); :func:`open_queue` in
:mod:`footfall.queue` picks one from ``FOOTFALL_QUEUE_URL``.

A :data:`Cursor` is a point in the queue, opaque to everyone but its adapter. It is a
pair of integers because that is what the store commits with each batch
(``EventStore.begin_batch(progress)`` / ``read_progress()``), so the store's progress
and its events stay one transaction whatever the queue: the spool's cursor is
``(segment, offset)``, a Redis stream id ``ms-seq`` is ``(ms, seq)``. Cursors of one
queue are totally ordered as tuples.
"""

from __future__ import annotations

from typing import Protocol

Cursor = tuple[int, int]

# What a refusing queue tells clients when it cannot say better: a writer frees room as
# it catches up, which takes seconds, not milliseconds.
RETRY_AFTER_SECONDS = 5


class QueueFull(Exception):
    """The queue refuses new events for now; clients should retry after ``retry_after`` s.

    ``message`` is for the operator's log and health; ``public`` is what clients are told.
    """

    def __init__(
        self,
        retry_after: int,
        message: str = "queue is full",
        public: str = "Queue full, retry later",
    ) -> None:
        super().__init__(message)
        self.retry_after, self.public = retry_after, public


class EventQueue(Protocol):
    """A durable, ordered queue of opaque payloads (msgpack-encoded events)."""

    # True when separate ``footfall worker`` processes store what is queued (Redis), so
    # the server runs no writer of its own; False for the embedded spool.
    consumed_by_workers: bool

    async def append(self, payloads: list[bytes]) -> None:
        """Make ``payloads`` durable, in order; raise rather than return if they are not.

        Raises :class:`QueueFull` when the queue refuses new data for a while.
        """
        ...

    def append_sync(self, payloads: list[bytes]) -> None:
        """``append`` from a thread without an event loop (CLI, benches, tests)."""
        ...

    def refusal(self) -> str | None:
        """Why appends are being refused now (for ``/api/health``), or None."""
        ...

    def size_bytes(self) -> int:
        """Bytes the queue holds (for ``/metrics``)."""
        ...

    def depth(self, since: Cursor | None = None) -> int:
        """Approximate number of durable records after ``since``.

        ``None`` means after the last cursor passed to :meth:`release`.
        """
        ...

    def first_position(self) -> Cursor:
        """The cursor before the oldest record still held (a consumer's start when the
        store has no progress yet)."""
        ...

    def end_position(self) -> Cursor:
        """The cursor after the last record ever appended."""
        ...

    def read(
        self, start: Cursor, max_records: int, max_bytes: int = 16 << 20
    ) -> tuple[list[bytes], Cursor]:
        """Durable records after ``start`` (at most ``max_records`` and about
        ``max_bytes``, at least one if any) and the cursor after the last one returned
        (``start`` itself when there is nothing new). Blocking."""
        ...

    def release(self, upto: Cursor) -> None:
        """Records before ``upto`` are in the store (committed); the queue may drop them."""
        ...

    async def close(self) -> None:
        """Flush what is pending and release resources."""
        ...

    def close_sync(self) -> None:
        """``close`` without an event loop; async appends must all have returned."""
        ...
