"""The durable on-disk spool of the embedded deployment: append-only segment files.

The HTTP side appends accepted events and answers the client only once they are durable
(written and fsync'd, and for a new segment file its directory fsync'd too). Appends from
many concurrent requests share one write and one fsync (group commit): appends queue up in
a pending buffer while a single flusher task writes and fsyncs everything pending in a
worker thread, then wakes all of their callers; whatever arrives during that fsync goes
into the next round.

The writer reads on its own thread. Reading shares nothing with the append path except
the files and a lock-guarded map of each segment's *durable end* (the offset up to which
it has been fsync'd), so a reader never sees a record before the client could have been
told it was accepted.

Layout: ``<directory>/00000000000000000001.seg``, ``...0002.seg`` … (see
:mod:`footfall.queue.spool.segments` for the record framing) and ``spool.lock``, which keeps a
second process from appending to the same spool. Segments never change once a later one
exists: after a restart, appends always start a new segment.

This module holds the spool's state and its lifecycle (open, recovery, close); appending
and group commit are in :mod:`footfall.queue.spool.append`, reading in
:mod:`footfall.queue.spool.read`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from footfall.queue.spool.append import SpoolAppending, SpoolFull, _Pending
from footfall.queue.spool.read import Position
from footfall.queue.spool.recent import RecentRounds
from footfall.queue.spool.segments import SpoolCorrupt, fsync_dir, list_segments, scan, segment_name
from footfall.threadnames import name_this_thread

if TYPE_CHECKING:
    from footfall.queue.base import EventQueue

__all__ = ["Position", "Spool", "SpoolCorrupt", "SpoolFull"]

log = logging.getLogger(__name__)

_LOCK_FILE = "spool.lock"


class Spool(SpoolAppending):
    consumed_by_workers = False  # the server's own writer drains it
    """Durable append-only queue of opaque payloads, in segment files under ``directory``.

    ``segment_bytes``: a segment is closed and the next one started once it reaches this
    size (or a quarter of ``max_bytes``, if smaller). ``max_bytes``: appends raise
    :class:`SpoolFull` rather than let segment files plus pending appends exceed this.
    ``recent_bytes``: how much of the latest durable rounds to keep in memory for a
    reader in this process (:mod:`footfall.queue.spool.recent`; 0 turns that off).
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 << 20,
        max_bytes: int = 1 << 30,
        recent_bytes: int = 64 << 20,
    ) -> None:
        if segment_bytes <= 0 or max_bytes <= 0:
            raise ValueError("segment_bytes and max_bytes must be positive")
        self.directory = Path(directory)
        # Only whole segments are ever freed, and never the one being appended to: with
        # segments as large as the cap, the cap is reached inside a segment that can
        # never be freed and every append is refused for ever. Segments of at most a
        # quarter of the cap keep three quarters of it freeable once the writer is done.
        self.segment_bytes = max(1, min(segment_bytes, max_bytes // 4))
        self.max_bytes = max_bytes
        # Shared with readers and release() on any thread; guarded by _lock.
        self._lock = threading.Lock()
        self._ends: dict[int, int] = {}  # segment -> durable end; keys ascending
        self._current = 0  # the segment being appended to
        self._disk_bytes = 0  # durable bytes in segment files
        self._reserved = 0  # bytes of appends accepted but not yet durable
        self._released: Position | None = None
        self._seen_records = 0  # for depth(): average record size
        self._seen_bytes = 0
        self._recent = RecentRounds(recent_bytes)
        # Append-side file state; only touched with _write_lock held (flusher thread or
        # append_sync's caller).
        self._write_lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0  # bytes in the current segment
        self._broken: OSError | None = None
        self._refused = 0  # size of the last append refused for room; 0 after one fits
        # Event-loop side of group commit.
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock_fd: int | None = None
        self._state = "new"  # new -> open -> closing -> closed

    # ---------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Create the directory if needed, recover, and start a new segment."""
        if self._state != "new":
            raise RuntimeError(f"spool is {self._state}")
        created = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_dir(self.directory.parent)
        lock_fd = os.open(self.directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise RuntimeError(f"spool {self.directory} is already open elsewhere") from None
        try:
            self._recover()
        except BaseException:
            os.close(lock_fd)
            raise
        self._lock_fd = lock_fd
        # One dedicated thread: rounds are sequential anyway, and fsyncs must not wait
        # behind unrelated work in the loop's default executor.
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="footfall-spool",
            initializer=name_this_thread, initargs=("footfall-spool",),
        )  # fmt: skip
        self._state = "open"

    def _recover(self) -> None:
        numbers = list_segments(self.directory)
        ends = {n: self._path(n).stat().st_size for n in numbers[:-1]}
        # Only the last segment can have a torn tail: a segment gets a successor only
        # after its last round was fsync'd, and a failed round is truncated away (or
        # stops all appends, leaving the segment last).
        empty_last = None
        if numbers:
            last = numbers[-1]
            valid, records, size = scan(self._path(last))
            if valid < size:
                log.warning(
                    "spool segment %s: truncating %d bytes of torn or corrupt tail after "
                    "%d intact records (an append that never returned)",
                    segment_name(last),
                    size - valid,
                    records,
                )
                fd = os.open(self._path(last), os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.ftruncate(fd, valid)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            ends[last] = valid
            self._seen_records, self._seen_bytes = records, valid
            if valid == 0:
                empty_last = last
        new = numbers[-1] + 1 if numbers else 1
        fd = self._create_segment(new)
        if empty_last is not None:
            # Deleted only after its successor exists, so the highest segment number
            # ever used is always on disk and positions never go backwards.
            del ends[empty_last]
            os.unlink(self._path(empty_last))
            fsync_dir(self.directory)
        ends[new] = 0
        with self._lock:
            self._ends, self._current = ends, new
            self._disk_bytes = sum(ends.values())
        self._fd, self._size = fd, 0

    async def close(self) -> None:
        """Flush pending appends, fsync and close the files. Appends then fail."""
        if self._state not in ("open", "closing"):
            return
        self._state = "closing"
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            self._wakeup.set()
            await flusher
        self._close_files()

    def close_sync(self) -> None:
        """Close without an event loop (CLI, tests); async appends must all have returned."""
        if self._pending or (self._flusher is not None and not self._flusher.done()):
            raise RuntimeError("async appends are in flight; use `await close()`")
        if self._state in ("open", "closing"):
            self._close_files()

    def _close_files(self) -> None:
        with self._write_lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._recent.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None
        self._state = "closed"


if TYPE_CHECKING:

    def _conforms(spool: Spool) -> EventQueue:
        # mypy checks here that Spool satisfies the queue protocol.
        return spool
