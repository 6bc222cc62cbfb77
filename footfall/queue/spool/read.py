"""The reading half of the spool: what the writer (on its own thread) and health use.

``Spool`` inherits this; it is a separate module only to keep each file readable. Reads
see only durable records (those whose append was fsync'd), tracked per segment in
``_ends`` under ``_lock``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import NamedTuple

from footfall.queue.base import Cursor
from footfall.queue.spool.recent import RecentRounds
from footfall.queue.spool.segments import (
    HEADER_SIZE,
    SpoolCorrupt,
    decode,
    fsync_dir,
    read_records,
    segment_name,
)

_SAMPLE_BYTES = 64 << 10


class Position(NamedTuple):
    """A point in the spool: a byte offset (at a record boundary) in a segment.

    The spool's :data:`~footfall.queue.base.Cursor`; any ``(segment, offset)`` pair (such
    as the progress the store returns) is accepted wherever a position is.
    """

    segment: int
    offset: int


class SpoolReading:
    """Reading, releasing and introspection over the state ``Spool`` maintains."""

    directory: Path
    _lock: threading.Lock
    _ends: dict[int, int]
    _current: int
    _disk_bytes: int
    _reserved: int
    _released: Position | None
    _seen_records: int
    _seen_bytes: int
    _recent: RecentRounds

    def _path(self, number: int) -> Path:
        return self.directory / segment_name(number)

    def read(
        self, start: Cursor, max_records: int, max_bytes: int = 16 << 20
    ) -> tuple[list[bytes], Position]:
        """Durable records after ``start`` and the position after the last one returned.

        Returns at most ``max_records`` records and about ``max_bytes`` of payload (at
        least one record if any is durable). The position is ``start`` itself when there
        is nothing new. Moves on to the next segment when one is exhausted and a later
        one exists. If ``start`` names a segment that no longer exists (released, or an
        empty one removed at open), reading continues at the first existing segment after
        it, so a consumer holding a stale position neither fails nor re-reads.
        Thread-safe; never returns a record before its append was fsync'd.
        """
        kept = self._recent.take(start[0], start[1], max_records, max_bytes)
        if kept is not None:
            return kept[0], Position(kept[1], kept[2])
        return self.read_disk(start, max_records, max_bytes)

    def read_disk(
        self, start: Cursor, max_records: int, max_bytes: int = 16 << 20
    ) -> tuple[list[bytes], Position]:
        """``read`` from the segment files only (what ``read`` does when the records are
        not among the rounds kept in memory)."""
        out: list[bytes] = []
        seg, off = start
        budget = max_bytes
        while len(out) < max_records and (budget > 0 or not out):
            with self._lock:
                end = self._ends.get(seg)
                later = next((s for s in self._ends if s > seg), None)
            if end is None or off == end:
                if later is None:
                    break
                seg, off = later, 0
                continue
            if off > end:
                raise ValueError(f"{start} is past the durable end of segment {seg}")
            try:
                payloads, consumed = read_records(
                    self._path(seg), off, end, max_records - len(out), budget, force_first=not out
                )
            except FileNotFoundError:
                with self._lock:
                    if seg in self._ends:
                        raise SpoolCorrupt(f"segment file {segment_name(seg)} vanished") from None
                continue  # released meanwhile; the next turn moves past it
            if not consumed:
                break
            out.extend(payloads)
            off += consumed
            budget -= consumed - HEADER_SIZE * len(payloads)  # the payload bytes
        if not out:
            return [], Position(*start)
        return out, Position(seg, off)

    def release(self, upto: Cursor) -> None:
        """Delete every segment whose records all lie before ``upto``: they are in the store.

        That is each segment before ``upto.segment``, and that one too when ``upto`` is
        its end. The segment being appended to is never deleted. Thread-safe.
        """
        upto = Position(*upto)
        with self._lock:
            victims = [
                s
                for s, end in self._ends.items()
                if s != self._current
                and (s < upto.segment or (s == upto.segment and upto.offset >= end))
            ]
            for s in victims:
                # Dropped from the map first, so readers skip them from now on.
                self._disk_bytes -= self._ends.pop(s)
            if self._released is None or upto > self._released:
                self._released = upto
        self._recent.drop_before(upto.segment, upto.offset)
        for s in victims:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(s))
        if victims:
            fsync_dir(self.directory)

    # ---------------------------------------------------------------- introspection

    def size_bytes(self) -> int:
        """Bytes of durable records held in segment files (what counts against max_bytes)."""
        with self._lock:
            return self._disk_bytes

    def backlog_bytes(self, since: Cursor | None = None) -> int:
        """Exact bytes (framing included) of durable records after ``since``.

        ``None`` means after the position last passed to :meth:`release`.
        """
        with self._lock:
            if since is None:
                since = self._released or Position(next(iter(self._ends), 0), 0)
            total = 0
            for seg, end in self._ends.items():
                if seg > since[0]:
                    total += end
                elif seg == since[0]:
                    total += max(end - since[1], 0)
            return total

    def depth(self, since: Cursor | None = None) -> int:
        """Approximate number of durable records after ``since`` (see backlog_bytes).

        Estimated from the exact byte backlog and the average record size seen by this
        process, so that it costs no disk reads on the request path.
        """
        backlog = self.backlog_bytes(since)
        if backlog == 0:
            return 0
        with self._lock:
            records, size = self._seen_records, self._seen_bytes
        if not records:
            records, size = self._sample()
        if not records:
            return 1
        return max(1, round(backlog * records / size))

    def _sample(self) -> tuple[int, int]:
        # After a restart whose last segment was empty nothing has been seen yet: walk
        # the first records of the oldest segment once to learn a typical size.
        with self._lock:
            first = next(((s, e) for s, e in self._ends.items() if e), None)
        if first is None:
            return 0, 0
        try:
            with open(self._path(first[0]), "rb") as f:
                chunk = f.read(min(first[1], _SAMPLE_BYTES))
        except FileNotFoundError:
            return 0, 0
        _, records, size, _ = decode(chunk, 1 << 30, 1 << 62, keep=False)
        if records:
            with self._lock:
                if not self._seen_records:
                    self._seen_records, self._seen_bytes = records, size
        return records, size

    def first_position(self) -> Position:
        """The position before the oldest record held."""
        with self._lock:
            if not self._ends:
                raise RuntimeError("spool is not open")
            return Position(next(iter(self._ends)), 0)

    def end_position(self) -> Position:
        """The position after the last durable record."""
        with self._lock:
            if not self._ends:
                raise RuntimeError("spool is not open")
            return Position(self._current, self._ends[self._current])
