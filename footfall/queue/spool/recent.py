"""The spool's last rounds, kept in memory for a reader in the same process.

In the embedded shape the writer runs in the process that appends, and under steady
traffic it reads records a few hundred milliseconds after their round was fsync'd. Reading
them back from the segment file costs a ``pread`` and, per record, a frame walk and a
crc32 in Python, all holding the GIL that the request path needs. So each round, once it
is durable, is also kept here as the payload list it was framed from, and a read that
starts inside a kept round is answered from memory: the same payloads and the same end
position the file would give (a test compares both), without touching the disk.

Only durable rounds are added (after their fsync), and rounds are added in the order they
were written, so two neighbours in the list are neighbours in the spool: the next round
starts where the previous one ended, or at offset 0 of the next segment (a rotation only
happens between rounds). What falls out of the size budget, or was never here (a restart,
a reader far behind), is read from disk as before.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from footfall.queue.spool.segments import HEADER_SIZE


@dataclass(frozen=True, slots=True)
class Round:
    """One durable write: ``payloads`` framed at [start, end) of ``segment``."""

    segment: int
    start: int
    end: int
    payloads: list[bytes]


class RecentRounds:
    """The most recent durable rounds, up to ``limit`` bytes of framed records."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._rounds: deque[Round] = deque()
        self._bytes = 0
        # Where the round before the first kept one ended: a reader stopped there (often
        # at a segment's end) continues with the first kept round.
        self._before: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def add(self, segment: int, start: int, end: int, payloads: list[bytes]) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            if end - start > self.limit:
                # Too large to keep; forget the rest too, so kept neighbours stay neighbours.
                self._rounds.clear()
                self._bytes = 0
                self._before = (segment, end)
                return
            self._rounds.append(Round(segment, start, end, payloads))
            self._bytes += end - start
            while self._bytes > self.limit:
                self._pop()

    def drop_before(self, segment: int, offset: int) -> None:
        """Forget the rounds that end at or before (segment, offset): they are consumed."""
        with self._lock:
            rounds = self._rounds
            while rounds and (rounds[0].segment, rounds[0].end) <= (segment, offset):
                self._pop()

    def _pop(self) -> None:
        old = self._rounds.popleft()
        self._bytes -= old.end - old.start
        self._before = (old.segment, old.end)

    def clear(self) -> None:
        with self._lock:
            self._rounds.clear()
            self._bytes = 0
            self._before = None

    def take(
        self, segment: int, offset: int, max_records: int, max_bytes: int
    ) -> tuple[list[bytes], int, int] | None:
        """Records from (segment, offset) on, as ``read`` would return them: at most
        ``max_records``, and payload bytes within ``max_bytes`` except that the first record
        is always taken. Returns ``(payloads, end segment, end offset)``, or None when
        (segment, offset) is not the start of, or a record boundary inside, a kept round
        (the caller reads the file)."""
        with self._lock:
            rounds = list(self._rounds)  # a snapshot: adds go on while this one walks
            before = self._before
        if rounds and before == (segment, offset) and _starts_at(rounds[0], segment, offset):
            first: int | None = 0
        else:
            first = _find(rounds, segment, offset)
        if first is None:
            return None
        out: list[bytes] = []
        budget = max_bytes
        end = (segment, offset)  # after the last record taken, as the file walk gives it
        for i in range(first, len(rounds)):
            r = rounds[i]
            if i > first and not _follows(rounds[i - 1], r):
                break  # cannot happen while rounds are added in write order; be safe
            at, payloads = r.start, iter(r.payloads)
            if r.segment > end[0] and out and len(out) < max_records and budget > 0:
                end = (r.segment, 0)  # the file walk moves on to a new segment here
            if i == first and r.segment == segment:
                while at < offset:  # skip to the starting record (a boundary: _find)
                    at += HEADER_SIZE + len(next(payloads))
            if at == r.start:
                # The whole round fits: take it at once (a walk per record costs ~2 µs of
                # Python each, holding the GIL the request path needs).
                n = len(r.payloads)
                size = r.end - r.start - n * HEADER_SIZE
                if len(out) + n <= max_records and size <= budget:
                    out.extend(r.payloads)
                    budget -= size
                    end = (r.segment, r.end)
                    continue
            for p in payloads:
                if len(out) >= max_records or (out and len(p) > budget):
                    return out, *end
                out.append(p)
                budget -= len(p)
                at += HEADER_SIZE + len(p)
                end = (r.segment, at)
        return out, *end


def _starts_at(r: Round, segment: int, offset: int) -> bool:
    """Whether round ``r`` is the next write after (segment, offset): there, or at the
    start of a later segment (a rotation happens only between rounds)."""
    return (r.segment == segment and r.start == offset) or (r.segment > segment and r.start == 0)


def _follows(a: Round, b: Round) -> bool:
    return _starts_at(b, a.segment, a.end)


def _find(rounds: list[Round], segment: int, offset: int) -> int | None:
    """Index of the kept round holding record boundary (segment, offset), or of the round
    that follows a kept round ending exactly there."""
    for i, r in enumerate(rounds):
        if r.segment == segment and r.start <= offset < r.end:
            at = r.start
            for p in r.payloads:  # is offset a record boundary of this round?
                if at == offset:
                    return i
                at += HEADER_SIZE + len(p)
            return None
        if r.segment == segment and r.end == offset:
            following = i + 1 < len(rounds) and _follows(r, rounds[i + 1])
            return i + 1 if following else None
        if (r.segment, r.start) > (segment, offset):
            return None
    return None
