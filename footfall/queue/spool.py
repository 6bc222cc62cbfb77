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
:mod:`footfall.queue.segments` for the record framing) and ``spool.lock``, which keeps a
second process from appending to the same spool. Segments never change once a later one
exists: after a restart, appends always start a new segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from footfall.queue.segments import (
    SpoolCorrupt,
    frame,
    fsync_dir,
    list_segments,
    pwrite_all,
    scan,
    segment_name,
)
from footfall.queue.spool_read import Position, SpoolReading

if TYPE_CHECKING:
    from footfall.queue.base import EventQueue

__all__ = ["Position", "Spool", "SpoolCorrupt", "SpoolFull"]

log = logging.getLogger(__name__)

# What a full spool tells clients: the writer frees whole segments as it catches up,
# which takes seconds, not milliseconds.
RETRY_AFTER_SECONDS = 5
_LOCK_FILE = "spool.lock"


class SpoolFull(Exception):
    """The spool is at its size cap; the client should retry after ``retry_after`` s."""

    def __init__(self, retry_after: int, message: str = "spool is full") -> None:
        super().__init__(message)
        self.retry_after = retry_after


_Pending = tuple[bytes, int, "asyncio.Future[None]"]  # framed data, record count, waiter


class Spool(SpoolReading):
    """Durable append-only queue of opaque payloads, in segment files under ``directory``.

    ``segment_bytes``: a segment is closed and the next one started once it reaches this
    size. ``max_bytes``: appends raise :class:`SpoolFull` rather than let segment files
    plus pending appends exceed this.
    """

    def __init__(
        self, directory: Path, *, segment_bytes: int = 64 << 20, max_bytes: int = 1 << 30
    ) -> None:
        if segment_bytes <= 0 or max_bytes <= 0:
            raise ValueError("segment_bytes and max_bytes must be positive")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
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
        # Append-side file state; only touched with _write_lock held (flusher thread or
        # append_sync's caller).
        self._write_lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0  # bytes in the current segment
        self._broken: OSError | None = None
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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="footfall-spool")
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
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None
        self._state = "closed"

    # ---------------------------------------------------------------- appending

    async def append(self, payloads: list[bytes]) -> None:
        """Return once all ``payloads`` are durable; raise if they are not.

        Raises :class:`SpoolFull` before buffering anything when the size cap would be
        exceeded, and the write's ``OSError`` when the round carrying them failed.
        """
        if not payloads:
            return
        self._check_open()
        loop = asyncio.get_running_loop()
        flusher = self._flusher
        if flusher is not None and not flusher.done() and flusher.get_loop() is not loop:
            raise RuntimeError("a Spool serves one event loop")
        data = frame(payloads)
        self._reserve(len(data))
        waiter: asyncio.Future[None] = loop.create_future()
        self._pending.append((data, len(payloads), waiter))
        if flusher is None or flusher.done():
            self._wakeup = asyncio.Event()
            self._flusher = loop.create_task(self._flush_loop(), name="footfall-spool-flush")
        self._wakeup.set()
        # Each append has its own waiter, so a cancelled request cancels only that (no
        # shield needed); the round goes on and its records may become durable all the
        # same (the writer dedupes by event id).
        await waiter

    def append_sync(self, payloads: list[bytes]) -> None:
        """Write and fsync ``payloads`` from the calling thread (CLI, tests)."""
        if not payloads:
            return
        self._check_open()
        data = frame(payloads)
        self._reserve(len(data))
        try:
            self._write_round([data], len(payloads))
        finally:
            with self._lock:
                self._reserved -= len(data)

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"spool is {self._state}")

    def _reserve(self, size: int) -> None:
        if size > self.max_bytes:
            raise ValueError(f"append of {size} bytes can never fit a {self.max_bytes} spool")
        with self._lock:
            used = self._disk_bytes + self._reserved
            if used + size > self.max_bytes:
                raise SpoolFull(
                    RETRY_AFTER_SECONDS, f"spool is full ({used} of {self.max_bytes} bytes)"
                )
            self._reserved += size

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        wakeup = self._wakeup
        try:
            while True:
                if not self._pending:
                    if self._state != "open":
                        return
                    wakeup.clear()
                    await wakeup.wait()
                    continue
                batch = self._take_round()
                size = sum(len(data) for data, _, _ in batch)
                error: BaseException | None = None
                try:
                    await loop.run_in_executor(
                        self._executor,
                        self._write_round,
                        [data for data, _, _ in batch],
                        sum(n for _, n, _ in batch),
                    )
                except Exception as exc:
                    error = exc
                except BaseException:
                    # Cancelled while the thread writes: the outcome is unknown, so
                    # nobody may be told the records are durable.
                    _settle(batch, RuntimeError("spool flush cancelled; outcome unknown"))
                    raise
                finally:
                    with self._lock:
                        self._reserved -= size
                _settle(batch, error)
        finally:
            # Whatever is still pending would otherwise wait forever.
            leftover, self._pending = self._pending, []
            if leftover:
                with self._lock:
                    self._reserved -= sum(len(data) for data, _, _ in leftover)
                _settle(leftover, RuntimeError("spool flusher stopped"))

    def _take_round(self) -> list[_Pending]:
        # Take what fits in the current segment (at least one append), so that a round
        # is one write + one fsync into one file and segments stay near segment_bytes.
        # _size is read without the write lock: a stale value only changes batch size.
        size = self._size
        room = self.segment_bytes - size if size < self.segment_bytes else self.segment_bytes
        taken = total = 0
        for data, _, _ in self._pending:
            if taken and total + len(data) > room:
                break
            taken += 1
            total += len(data)
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    def _write_round(self, chunks: list[bytes], records: int) -> None:
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        with self._write_lock:
            if self._broken is not None:
                raise OSError("spool disabled by an earlier write failure; restart to recover")
            if self._fd is None:
                raise RuntimeError("spool is closed")
            if self._size >= self.segment_bytes:
                self._rotate()
            fd, start = self._fd, self._size
            assert fd is not None
            try:
                pwrite_all(fd, data, start)
                os.fsync(fd)
            except OSError:
                self._undo(fd, start)
                raise
            self._size = start + len(data)
            with self._lock:
                self._ends[self._current] = self._size
                self._disk_bytes += len(data)
                self._seen_records += records
                self._seen_bytes += len(data)

    def _undo(self, fd: int, start: int) -> None:
        # Cut the failed round off so that the next round's records follow the last
        # durable one directly; otherwise readers would walk into the failed bytes.
        try:
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError as exc:
            # The segment may now end in bytes nobody was told are durable. Appending
            # after them would make them readable, so stop appending: this segment stays
            # the last one and the next open() truncates what does not check out.
            log.error("spool: cannot truncate failed write; appends disabled: %s", exc)
            self._broken = exc

    def _rotate(self) -> None:
        new = self._current + 1
        fd = self._create_segment(new)
        old, self._fd, self._size = self._fd, fd, 0
        with self._lock:
            self._ends[new] = 0
            self._current = new
        if old is not None:
            # Its data was fsync'd by the round that wrote it; a close error loses nothing.
            with contextlib.suppress(OSError):
                os.close(old)

    def _create_segment(self, number: int) -> int:
        path = self._path(number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            fsync_dir(self.directory)  # the new file's name must survive a crash too
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return fd


def _settle(batch: list[_Pending], error: BaseException | None) -> None:
    for _, _, waiter in batch:
        if waiter.done():
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)


if TYPE_CHECKING:

    def _conforms(spool: Spool) -> EventQueue[Position]:
        # mypy checks here that Spool satisfies the queue protocol.
        return spool
