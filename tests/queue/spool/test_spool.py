"""Tests for the on-disk spool: real files, real fsync, real crashes (SIGKILL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from footfall.queue.spool import Position, Spool, SpoolFull
from footfall.queue.spool import append as spool_append
from footfall.queue.spool.segments import HEADER_SIZE, list_segments, segment_name

ROOT = Path(__file__).resolve().parents[3]


def opened(path: Path, **kw: int) -> Spool:
    spool = Spool(path, **kw)
    spool.open()
    return spool


def read_all(
    spool: Spool, start: Position | None = None, batch: int = 7
) -> tuple[list[bytes], Position]:
    pos = spool.first_position() if start is None else start
    out: list[bytes] = []
    while True:
        records, nxt = spool.read(pos, batch)
        if not records:
            assert nxt == pos
            return out, pos
        assert nxt > pos
        out.extend(records)
        pos = nxt


def payload(i: int, size: int = 0) -> bytes:
    return f"event-{i}-".encode() + b"x" * size


def seg_files(path: Path) -> list[int]:
    return list_segments(path)


class FsyncCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._real = os.fsync
        monkeypatch.setattr(os, "fsync", self)

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self._real(fd)


async def test_records_read_back_in_order_across_rotation(tmp_path: Path) -> None:
    spool = opened(tmp_path / "spool", segment_bytes=256)
    expected = []
    for i in range(60):
        batch = [payload(i, size=i % 13), payload(1000 + i)]
        expected += batch
        if i % 2:
            spool.append_sync(batch)
        else:
            await spool.append(batch)
    assert len(seg_files(tmp_path / "spool")) > 5
    records, end = read_all(spool)
    assert records == expected
    assert end == spool.end_position()
    await spool.close()


async def test_read_respects_max_bytes_but_returns_a_large_record(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    big = b"B" * 5000
    spool.append_sync([b"a" * 100, b"b" * 100, big, b"c"])
    start = spool.first_position()
    first, pos = spool.read(start, 100, max_bytes=250)
    assert first == [b"a" * 100, b"b" * 100]
    second, pos = spool.read(pos, 100, max_bytes=250)
    assert second == [big]  # larger than the budget, still returned alone
    third, pos = spool.read(pos, 100, max_bytes=250)
    assert third == [b"c"]
    assert spool.read(pos, 100) == ([], pos)
    assert spool.read(start, 0) == ([], start)
    await spool.close()


async def test_concurrent_appends_share_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = opened(tmp_path)
    counter = FsyncCounter(monkeypatch)
    await asyncio.gather(*(spool.append([payload(i)]) for i in range(200)))
    assert 1 <= counter.calls <= 20, counter.calls
    records, _ = read_all(spool, batch=1000)
    assert sorted(records) == sorted(payload(i) for i in range(200))
    assert len(records) == 200
    await spool.close()


async def test_a_cancelled_append_does_not_fail_the_others_in_its_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = opened(tmp_path)
    real = os.fsync
    in_fsync = threading.Event()

    def slow_fsync(fd: int) -> None:
        in_fsync.set()
        threading.Event().wait(0.05)
        real(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    tasks = [asyncio.create_task(spool.append([payload(i)])) for i in range(20)]
    assert await asyncio.to_thread(in_fsync.wait, 5)
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[3], asyncio.CancelledError)
    assert all(r is None for i, r in enumerate(results) if i != 3), results
    records, _ = read_all(spool, batch=100)
    # The round carrying the cancelled append went on: its record is durable all the same.
    assert sorted(records) == sorted(payload(i) for i in range(20))
    await spool.close()


async def test_group_commit_across_rotation_keeps_each_append_in_order(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=300)

    async def producer(t: int) -> None:
        for j in range(30):
            await spool.append([f"{t}:{j}:a".encode(), f"{t}:{j}:b".encode()])

    await asyncio.gather(*(producer(t) for t in range(10)))
    records, _ = read_all(spool)
    assert len(records) == 600
    for t in range(10):
        mine = [r for r in records if r.startswith(f"{t}:".encode())]
        assert mine == [f"{t}:{j}:{s}".encode() for j in range(30) for s in "ab"]
    await spool.close()


async def test_torn_tail_is_truncated_and_complete_records_survive(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    spool.append_sync([payload(i) for i in range(10)])
    seg = spool.end_position().segment
    await spool.close()
    path = tmp_path / segment_name(seg)
    size = path.stat().st_size
    os.truncate(path, size - 3)  # the last record loses its last bytes

    spool = opened(tmp_path)
    assert path.stat().st_size == size - 3 - (HEADER_SIZE + len(payload(9)) - 3)
    records, _ = read_all(spool)
    assert records == [payload(i) for i in range(9)]
    assert spool.end_position().segment == seg + 1  # appends go to a new segment
    spool.append_sync([b"after"])
    assert read_all(spool)[0] == [*(payload(i) for i in range(9)), b"after"]
    await spool.close()


@pytest.mark.parametrize(
    "garbage",
    [b"\x07", b"\x05\x00\x00\x00\x00\x00\x00\x00abcde", b"\x00" * 64, b"\xff" * 16],
    ids=["partial-header", "bad-crc", "zero-fill", "huge-length"],
)
async def test_garbage_after_last_record_is_dropped(tmp_path: Path, garbage: bytes) -> None:
    spool = opened(tmp_path)
    spool.append_sync([payload(i) for i in range(10)])
    seg = spool.end_position().segment
    await spool.close()
    path = tmp_path / segment_name(seg)
    intact = path.stat().st_size
    path.write_bytes(path.read_bytes() + garbage)

    spool = opened(tmp_path)
    assert path.stat().st_size == intact
    assert read_all(spool)[0] == [payload(i) for i in range(10)]
    await spool.close()


async def test_corrupt_crc_in_last_record_is_dropped(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    spool.append_sync([payload(i) for i in range(5)])
    seg = spool.end_position().segment
    await spool.close()
    path = tmp_path / segment_name(seg)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))

    spool = opened(tmp_path)
    assert read_all(spool)[0] == [payload(i) for i in range(4)]
    await spool.close()


async def test_reads_never_see_records_before_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = opened(tmp_path)
    spool.append_sync([b"durable"])
    start = spool.first_position()
    end_before = spool.end_position()

    entered, gate = threading.Event(), threading.Event()
    real = os.fsync

    def slow_fsync(fd: int) -> None:
        entered.set()
        gate.wait(10)
        real(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    try:
        task = asyncio.create_task(spool.append([b"in-flight"]))
        # Still in the pending buffer: nothing written yet.
        assert spool.read(start, 10) == ([b"durable"], end_before)
        await asyncio.to_thread(entered.wait, 10)
        # Written to the file, fsync not finished: still invisible.
        seg_path = tmp_path / segment_name(end_before.segment)
        assert seg_path.stat().st_size > end_before.offset
        assert spool.read(start, 10) == ([b"durable"], end_before)
        assert spool.read(end_before, 10) == ([], end_before)
        assert spool.end_position() == end_before
        assert not task.done()
    finally:
        gate.set()
    await task
    assert spool.read(end_before, 10)[0] == [b"in-flight"]
    await spool.close()


async def test_spool_full_then_space_after_release(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=200, max_bytes=1000)
    record = b"r" * 42  # 50 bytes framed
    count = 0
    with pytest.raises(SpoolFull) as full:
        while True:
            spool.append_sync([record])
            count += 1
    assert full.value.retry_after > 0
    assert count == 20
    assert spool.size_bytes() == 1000
    with pytest.raises(SpoolFull):
        await spool.append([record])
    records, end = read_all(spool)
    assert len(records) == 20
    spool.release(end)
    assert spool.size_bytes() < 1000
    await spool.append([record])  # room again
    spool.append_sync([record])
    assert spool.read(end, 10)[0] == [record, record]
    await spool.close()


async def test_release_deletes_consumed_segments_but_not_the_current_one(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=100)
    for i in range(20):
        spool.append_sync([payload(i, 40)])
    segments = seg_files(tmp_path)
    assert len(segments) >= 5
    records, pos = spool.read(spool.first_position(), 9)
    spool.release(pos)
    remaining = seg_files(tmp_path)
    assert remaining[0] == pos.segment and remaining[-1] == segments[-1]
    assert read_all(spool, pos)[0] == [payload(i, 40) for i in range(9, 20)]
    # Releasing past the end keeps the segment being appended to.
    spool.release(Position(spool.end_position().segment + 5, 0))
    assert seg_files(tmp_path) == [spool.end_position().segment]
    spool.append_sync([b"still works"])
    assert spool.read(spool.first_position(), 10)[0][-1] == b"still works"
    await spool.close()


async def test_a_consumed_segment_being_appended_to_is_deleted_once_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a bulk load the writer has stored everything: the last segment's records
    # should not stay on disk (up to a whole segment) until the next records come.
    monkeypatch.setattr(spool_append, "ROTATE_CONSUMED_BYTES", 1_000)
    spool = opened(tmp_path, segment_bytes=100_000)
    spool.append_sync([payload(i, 40) for i in range(10)])  # ~480 bytes: small, kept
    records, pos = read_all(spool)
    spool.release(pos)
    assert seg_files(tmp_path) == [pos.segment]
    spool.append_sync([payload(i, 40) for i in range(10, 30)])
    records, pos = read_all(spool, pos)
    assert records == [payload(i, 40) for i in range(10, 30)]
    spool.release(pos)
    assert spool.size_bytes() == 0
    assert seg_files(tmp_path) == [pos.segment + 1]
    assert spool.end_position() == Position(pos.segment + 1, 0)
    # Appends go on in the new segment; the released position still reads them.
    await spool.append([b"after"])
    assert spool.read(pos, 10)[0] == [b"after"]
    await spool.close()
    spool = opened(tmp_path, segment_bytes=100_000)  # and after a restart
    assert spool.read(pos, 10)[0] == [b"after"]
    await spool.close()


async def test_read_from_a_deleted_segment_moves_to_the_oldest_existing(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=100)
    for i in range(10):
        spool.append_sync([payload(i, 40)])
    old = spool.first_position()
    _, pos = spool.read(old, 4)
    spool.release(pos)
    records, _ = read_all(spool, old)  # old.segment is gone
    assert records[0] == spool.read(spool.first_position(), 1)[0][0]
    assert records[-1] == payload(9, 40)
    await spool.close()


async def test_reopen_resumes_in_a_new_segment_and_old_positions_still_read(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=150)
    await spool.append([payload(i) for i in range(10)])
    part, pos = spool.read(spool.first_position(), 4)
    last = spool.end_position().segment
    await spool.close()

    spool = opened(tmp_path, segment_bytes=150)
    assert spool.end_position() == Position(last + 1, 0)
    await spool.append([payload(i) for i in range(10, 15)])
    rest, _ = read_all(spool, pos)
    assert part + rest == [payload(i) for i in range(15)]
    await spool.close()

    # An empty last segment is removed at the next open, and numbers keep growing.
    spool = opened(tmp_path, segment_bytes=150)
    await spool.close()
    spool = opened(tmp_path, segment_bytes=150)
    assert spool.end_position().segment == last + 3
    assert last + 2 not in seg_files(tmp_path)
    assert read_all(spool, Position(last + 2, 0))[0] == []
    assert read_all(spool, pos)[0] == rest
    await spool.close()


async def test_close_flushes_pending_appends(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    tasks = [asyncio.create_task(spool.append([payload(i)])) for i in range(50)]
    await asyncio.sleep(0)
    await spool.close()
    await asyncio.gather(*tasks)
    with pytest.raises(RuntimeError):
        await spool.append([b"late"])
    spool = opened(tmp_path)
    assert sorted(read_all(spool)[0]) == sorted(payload(i) for i in range(50))
    await spool.close()


async def test_failed_fsync_fails_the_round_and_leaves_no_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = opened(tmp_path)
    await spool.append([b"one"])
    real = os.fsync
    failures = [OSError(5, "simulated EIO")]

    def flaky(fd: int) -> None:
        if failures:
            raise failures.pop()
        real(fd)

    monkeypatch.setattr(os, "fsync", flaky)
    results = await asyncio.gather(
        spool.append([b"two"]), spool.append([b"three"]), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    await spool.append([b"four"])
    assert read_all(spool)[0] == [b"one", b"four"]
    assert spool.size_bytes() == 2 * HEADER_SIZE + 7
    await spool.close()


async def test_depth_and_positions(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=120)
    assert spool.depth() == 0
    first = spool.first_position()
    spool.append_sync([payload(i, 10) for i in range(30)])
    assert spool.depth() == 30
    _, pos = spool.read(first, 12)
    assert spool.depth(pos) == 18
    assert spool.backlog_bytes(pos) == sum(HEADER_SIZE + len(payload(i, 10)) for i in range(12, 30))
    spool.release(pos)
    assert spool.depth() == 18
    assert spool.depth(spool.end_position()) == 0
    await spool.close()
    # A fresh process knows no record sizes yet; it samples the oldest segment.
    spool = opened(tmp_path, segment_bytes=120)
    spool_again = spool.depth(pos)
    assert spool_again == 18
    await spool.close()


async def test_bad_input_and_exclusive_open(tmp_path: Path) -> None:
    spool = opened(tmp_path)
    with pytest.raises(ValueError):
        await spool.append([b""])
    with pytest.raises(RuntimeError):
        opened(tmp_path)  # a second writer would interleave records
    await spool.append([])
    spool.close_sync()
    opened(tmp_path).close_sync()


async def test_an_append_from_a_second_event_loop_is_refused_and_buffers_nothing(
    tmp_path: Path,
) -> None:
    spool = opened(tmp_path)
    await spool.append([payload(0)])  # this loop now owns the spool's flusher
    errors: list[BaseException] = []

    def other_loop() -> None:
        try:
            asyncio.run(spool.append([payload(1)]))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            errors.append(exc)

    thread = threading.Thread(target=other_loop)
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError), errors
    assert "one event loop" in str(errors[0])
    await spool.append([payload(2)])
    await spool.close()
    spool = opened(tmp_path)
    assert read_all(spool)[0] == [payload(0), payload(2)]
    await spool.close()


CHILD = """
import asyncio, sys
from pathlib import Path
from footfall.queue.spool import Spool

async def main():
    spool = Spool(Path(sys.argv[1]), segment_bytes=2048)
    spool.open()

    async def producer(t):
        j = 0
        while True:
            await spool.append([f"{t}:{j}".encode(), f"{t}:{j + 1}".encode()])
            sys.stdout.write(f"{t} {j + 1}\\n")
            sys.stdout.flush()
            j += 2

    await asyncio.gather(*(producer(t) for t in range(4)))

asyncio.run(main())
"""


@pytest.mark.parametrize("kill_after", [3, 150, 600])
def test_sigkill_loses_no_acknowledged_append(tmp_path: Path, kill_after: int) -> None:
    directory = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acked: dict[int, int] = {}
    try:
        for _ in range(kill_after):
            line = child.stdout.readline()
            assert line, "child died"
            t, j = map(int, line.split())
            acked[t] = j
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    for line in child.stdout.read().splitlines():  # acks already in the pipe count too
        t, j = map(int, line.split())
        acked[t] = j
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    spool = opened(directory)
    records, _ = read_all(spool, batch=500)
    spool.close_sync()
    seen: dict[int, list[int]] = {}
    for r in records:
        t, j = map(int, r.decode().split(":"))
        seen.setdefault(t, []).append(j)
    for t, last in acked.items():
        got = seen.get(t, [])
        # In order, no duplicates, nothing missing, and everything acknowledged is there.
        assert got == list(range(len(got)))
        assert len(got) > last
    if kill_after >= 600:
        assert len(seg_files(directory)) > 2  # the crash test also crossed rotations
