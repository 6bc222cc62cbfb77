"""The queue port: what the HTTP side and the writer need from a durable event queue.

Two adapters implement it: the on-disk spool of the embedded deployment
(:class:`footfall.queue.spool.Spool`, positions are ``Position(segment, offset)``) and, at
scale, Redis Streams (positions are stream ids). A position is opaque to everyone but its
adapter, hence the type parameter; the writer only stores it and hands it back.

The HTTP side calls :meth:`EventQueue.append` and answers the client only after it returns
(the events are durable then). The writer runs on its own thread, so the read side is
synchronous (blocking) on purpose.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

P = TypeVar("P")


class EventQueue(Protocol[P]):
    """A durable, ordered queue of opaque payloads (msgpack-encoded events)."""

    async def append(self, payloads: list[bytes]) -> None:
        """Make ``payloads`` durable, in order; raise rather than return if they are not.

        Raises ``SpoolFull``-like errors carrying ``retry_after`` when the queue refuses
        new data for a while (the HTTP side answers 503 with ``Retry-After``).
        """
        ...

    def depth(self, since: P | None = None) -> int:
        """Approximate number of durable records after ``since``.

        ``None`` means after the last position released by the consumer.
        """
        ...

    def first_position(self) -> P:
        """The position before the oldest record still held."""
        ...

    def read(self, start: P, max_records: int) -> tuple[list[bytes], P]:
        """Durable records after ``start`` (at most ``max_records``) and the position after
        the last one returned (``start`` itself when there is nothing new). Blocking."""
        ...

    def release(self, upto: P) -> None:
        """Records before ``upto`` are safely stored; the queue may drop them. Blocking."""
        ...

    async def close(self) -> None:
        """Flush what is pending and release resources."""
        ...
