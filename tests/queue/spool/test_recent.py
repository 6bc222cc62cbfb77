"""The spool's in-memory recent rounds: a reader in the same process gets exactly what the
segment files hold, without reading them, for as long as the rounds are kept."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from footfall.queue.spool import Position, Spool


@contextlib.asynccontextmanager
async def opened(path: Path, **kw: int) -> AsyncIterator[Spool]:
    spool = Spool(path, **kw)
    spool.open()
    try:
        yield spool
    finally:
        await spool.close()


def boundaries(spool: Spool) -> list[Position]:
    """Every record boundary in the spool, from the files (one record at a time)."""
    pos = spool.first_position()
    out = [pos]
    while True:
        records, nxt = spool.read_disk(pos, 1)
        if not records:
            return out
        out.append(nxt)
        pos = nxt


def read_through(spool: Spool, batch: int, *, release: bool = False) -> list[bytes]:
    """Everything from the first position on, ``batch`` records a read, as the writer
    reads (releasing what it has read, if ``release``)."""
    got: list[bytes] = []
    pos = spool.first_position()
    while True:
        records, pos = spool.read(pos, batch)
        if not records:
            return got
        got.extend(records)
        if release:
            spool.release(pos)


class PreadCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._real = os.pread
        monkeypatch.setattr(os, "pread", self)

    def __call__(self, fd: int, size: int, offset: int) -> bytes:
        self.calls += 1
        return self._real(fd, size, offset)


async def fill(spool: Spool, rng: random.Random, appends: int) -> list[bytes]:
    """Concurrent appends of 1-40 records of 1-300 bytes (group commit mixes them into
    rounds), and a few appends from a thread (append_sync)."""
    sent: list[bytes] = []

    async def one(i: int) -> None:
        payloads = [
            f"{i}-{j}-".encode() + b"x" * rng.randrange(1, 300) for j in range(rng.randrange(1, 40))
        ]
        sent.extend(payloads)
        await spool.append(payloads)

    for start in range(0, appends, 16):
        await asyncio.gather(*(one(i) for i in range(start, min(start + 16, appends))))
        if start % 64 == 0:
            payloads = [f"sync-{start}".encode()]
            sent.extend(payloads)
            await asyncio.to_thread(spool.append_sync, payloads)
    return sent


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_reads_from_memory_equal_reads_from_the_files(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    # Small segments: rounds fall on both sides of many rotations.
    async with opened(tmp_path, segment_bytes=20_000) as spool:
        sent = await fill(spool, rng, 200)
        marks = boundaries(spool)
        assert len(marks) == len(sent) + 1
        assert len({m.segment for m in marks}) > 5
        for pos in rng.sample(marks, 120) + [marks[0], marks[-1]]:
            for n, budget in [(1, 1 << 20), (7, 1 << 20), (500, 1 << 20), (10_000, 900), (3, 1)]:
                assert spool.read(pos, n, budget) == spool.read_disk(pos, n, budget), (pos, n)
        assert read_through(spool, 333) == sent


async def test_records_just_appended_are_read_without_touching_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with opened(tmp_path, segment_bytes=4_000) as spool:
        sent = await fill(spool, random.Random(5), 48)
        preads = PreadCounter(monkeypatch)
        assert read_through(spool, 50, release=True) == sent
        assert preads.calls == 0


async def test_what_falls_out_of_the_budget_is_read_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with opened(tmp_path, segment_bytes=8_000, recent_bytes=3_000) as spool:
        sent = await fill(spool, random.Random(7), 64)
        preads = PreadCounter(monkeypatch)
        assert read_through(spool, 40) == sent
        assert preads.calls > 0  # the oldest rounds were no longer kept
        # ... and the newest still are: the last few records come from memory.
        marks = boundaries(spool)
        preads.calls = 0
        assert spool.read(marks[-3], 10) == (sent[-2:], marks[-1])
        assert preads.calls == 0


async def test_release_forgets_consumed_rounds_and_a_restart_reads_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with opened(tmp_path, segment_bytes=4_000) as spool:
        sent = await fill(spool, random.Random(9), 32)
        marks = boundaries(spool)
        middle = marks[len(marks) // 2]
        spool.release(middle)
        assert spool._recent.take(marks[0].segment, marks[0].offset, 10, 1 << 20) is None
        assert spool.read(middle, 1 << 20) == spool.read_disk(middle, 1 << 20)

    async with opened(tmp_path, segment_bytes=4_000) as spool:
        preads = PreadCounter(monkeypatch)
        records, _ = spool.read(middle, 1 << 20)
        assert records == sent[len(marks) // 2 :]
        assert preads.calls > 0  # nothing of the last run is in this one's memory


async def test_a_round_larger_than_the_budget_is_not_kept_and_reads_stay_exact(
    tmp_path: Path,
) -> None:
    async with opened(tmp_path, recent_bytes=2_000) as spool:
        await spool.append([b"a" * 100, b"b" * 100])
        await spool.append([b"c" * 3_000])  # too large to keep: the cache starts over
        await spool.append([b"d" * 10])
        marks = boundaries(spool)
        assert spool._recent.take(marks[0].segment, marks[0].offset, 10, 1 << 20) is None
        assert spool.read(marks[0], 10) == (
            [b"a" * 100, b"b" * 100, b"c" * 3_000, b"d" * 10],
            marks[-1],
        )
        assert spool.read(marks[3], 10) == ([b"d" * 10], marks[4])


async def test_a_reader_thread_during_appends_gets_every_record_once_in_order(
    tmp_path: Path,
) -> None:
    """The writer's situation: it reads (and releases) on its own thread while requests
    append; rounds become kept, are taken and dropped concurrently."""
    async with opened(tmp_path, segment_bytes=16_000, recent_bytes=40_000) as spool:
        got: list[bytes] = []
        done = threading.Event()
        hits = []
        take = spool._recent.take

        def counting_take(*args: int) -> tuple[list[bytes], int, int] | None:
            out = take(*args)
            hits.append(out is not None)
            return out

        spool._recent.take = counting_take  # type: ignore[method-assign]

        def reader() -> None:
            pos = spool.first_position()
            while True:
                finished = done.is_set()  # read once more after the appends all returned
                records, nxt = spool.read(pos, 37)
                if records:
                    got.extend(records)
                    spool.release(nxt)
                    pos = nxt
                elif finished:
                    return
                else:
                    time.sleep(0.001)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            sent = await fill(spool, random.Random(11), 400)
        finally:
            done.set()
            await asyncio.to_thread(thread.join, 30)
        assert not thread.is_alive()
        assert got == sent
        assert any(hits)  # it did read from memory while the appends went on
