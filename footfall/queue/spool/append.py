"""The appending half of the spool: appends, group commit and segment rotation.

``Spool`` (:mod:`footfall.queue.spool.core`) inherits this; it is a separate module only to
keep each file readable. ``Spool`` sets up, opens and closes the state used here. An
append reserves room under the size cap, then either waits for the flusher task to write
and fsync it in the next round (``append``) or writes and fsyncs it on the calling thread
(``append_sync``). Writes hold ``_write_lock``; a segment's durable end in ``_ends``,
which is what readers go by, moves on only after the fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from footfall.queue.base import RETRY_AFTER_SECONDS, Cursor, QueueFull
from footfall.queue.spool.read import Position, SpoolReading
from footfall.queue.spool.recent import RecentRounds
from footfall.queue.spool.segments import frame, fsync_dir, pwrite_all

# One logger for the whole spool, under the name it has always had.
log = logging.getLogger("footfall.queue.spool")
# A segment being appended to is closed once a release reaches its end and it holds this
# much: a consumed segment is then deleted, while light traffic does not start a new file
# for every few records.
ROTATE_CONSUMED_BYTES = 1 << 20


class SpoolFull(QueueFull):
    """The spool is at its size cap; the client should retry after ``retry_after`` s."""

    def __init__(self, retry_after: int, message: str = "spool is full") -> None:
        super().__init__(retry_after, message)


_Pending = tuple[bytes, list[bytes], "asyncio.Future[None]"]  # framed data, payloads, waiter


class SpoolAppending(SpoolReading):
    """Appending to the state ``Spool`` sets up, opens and closes."""

    segment_bytes: int
    max_bytes: int
    _write_lock: threading.Lock
    _fd: int | None
    _size: int
    _broken: OSError | None
    _refused: int
    _pending: list[_Pending]
    _wakeup: asyncio.Event
    _flusher: asyncio.Task[None] | None
    _loop_thread: int  # the thread running the flusher's loop
    _executor: ThreadPoolExecutor | None
    _state: str
    _recent: RecentRounds

    # ---------------------------------------------------------------- appending

    async def append(self, payloads: list[bytes]) -> None:
        """Return once all ``payloads`` are durable; raise if they are not.

        Raises :class:`SpoolFull` before buffering anything when the size cap would be
        exceeded, and the write's ``OSError`` when the round carrying them failed.
        """
        if not payloads:
            return
        self._check_open()
        flusher = self._flusher
        live = flusher is not None and not flusher.done()
        if live and threading.get_ident() == self._loop_thread:
            # The running loop is the flusher's (one thread runs one loop at a time; a
            # closed loop cannot be running). asyncio.get_running_loop() would cost a
            # getpid() system call (CPython 3.11's fork check): 4% of the loop's time per
            # single event under load.
            loop = flusher.get_loop()  # type: ignore[union-attr]
            if loop.is_closed():
                raise RuntimeError("a Spool serves one event loop")
        else:
            loop = asyncio.get_running_loop()
            if live and flusher.get_loop() is not loop:  # type: ignore[union-attr]
                raise RuntimeError("a Spool serves one event loop")
        data = frame(payloads)
        self._reserve(len(data))
        waiter: asyncio.Future[None] = loop.create_future()
        self._pending.append((data, payloads, waiter))
        if flusher is None or flusher.done():
            self._wakeup = asyncio.Event()
            self._loop_thread = threading.get_ident()
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
            self._write_round([data], list(payloads))  # kept: the caller's list may change
        finally:
            with self._lock:
                self._reserved -= len(data)

    def refusal(self) -> str | None:
        """Why appends are being refused now, or None while they are accepted."""
        if self._broken is not None:
            return f"spool disabled by a write failure ({self._broken}); restart to recover"
        if self._state != "open":
            return f"spool is {self._state}"
        with self._lock:
            used = self._disk_bytes + self._reserved
            if self._refused and used + self._refused > self.max_bytes:
                return (
                    f"spool is full ({used} of {self.max_bytes} bytes): collection answers "
                    "503 until the writer has stored what it holds"
                )
        return None

    def _check_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"spool is {self._state}")

    def _reserve(self, size: int) -> None:
        if size > self.max_bytes:
            raise ValueError(f"append of {size} bytes can never fit a {self.max_bytes} spool")
        with self._lock:
            used = self._disk_bytes + self._reserved
            if used + size > self.max_bytes:
                self._refused = size
                raise SpoolFull(
                    RETRY_AFTER_SECONDS, f"spool is full ({used} of {self.max_bytes} bytes)"
                )
            self._refused = 0
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
                        [p for _, payloads, _ in batch for p in payloads],
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

    def _write_round(self, chunks: list[bytes], payloads: list[bytes]) -> None:
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
                self._seen_records += len(payloads)
                self._seen_bytes += len(data)
            # Durable now: a reader in this process may take them from memory.
            self._recent.add(self._current, start, self._size, payloads)

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

    def release(self, upto: Cursor) -> None:
        self._rotate_if_consumed(Position(*upto))
        super().release(upto)

    def _rotate_if_consumed(self, upto: Position) -> None:
        """Start a new segment when ``upto`` is the end of the one being appended to and
        that one holds ``ROTATE_CONSUMED_BYTES`` or more, so that ``release`` deletes it:
        otherwise a store idle after a bulk load keeps up to a whole segment (64 MB) of
        records it has stored, as much as 6 bytes an event at 10M events."""
        with self._lock:
            current = self._current
            end = self._ends.get(current)
        if end is None or end < ROTATE_CONSUMED_BYTES or upto != (current, end):
            return
        with self._write_lock:  # no round is being written meanwhile
            if self._fd is None or self._broken is not None:
                return  # closed or broken: nothing to start
            if self._current != current or self._size != end:
                return  # rotated, or records appended since: released later
            self._rotate()

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
