"""The queue contract, on every queue: what collection and the writer rely on.

Appends are durable and read back in order exactly once from a committed cursor, across
reopening (a restarted process); the writer drains any queue into the store with each
event stored once, also when it stops between the store's commit and the release."""

from __future__ import annotations

import asyncio
from pathlib import Path

from footfall.ingest.record import ENCODER
from footfall.queue.writer import Writer
from footfall.store.duckdb import DuckDBStore
from tests.contract.test_store_writes import count, record
from tests.queue.contract.conftest import Opener


def payloads(n: int, start: int = 0) -> list[bytes]:
    return [f"event-{i}".encode() for i in range(start, start + n)]


def read_all(queue, start, batch: int = 7):  # type: ignore[no-untyped-def]
    out: list[bytes] = []
    while True:
        got, end = queue.read(start, batch)
        if not got:
            assert end == start  # nothing new: the cursor stays
            return out, start
        out.extend(got)
        assert end > start  # cursors are ordered
        start = end


def test_appends_read_back_in_order_once(open_queue: Opener) -> None:
    queue = open_queue()
    try:
        queue.append_sync(payloads(30))
        queue.append_sync(payloads(20, 30))
        got, _ = read_all(queue, queue.first_position())
        assert got == payloads(50)
    finally:
        queue.close_sync()


def test_concurrent_appends_all_land_each_in_its_order(open_queue: Opener) -> None:
    queue = open_queue()

    async def send() -> None:
        await asyncio.gather(*(queue.append(payloads(5, 5 * c)) for c in range(40)))
        await queue.close()

    asyncio.run(send())
    queue = open_queue()
    try:
        got, _ = read_all(queue, queue.first_position(), batch=50)
    finally:
        queue.close_sync()
    assert sorted(got) == sorted(payloads(200))
    for c in range(40):  # one request's events keep their order
        mine = [p for p in got if p in set(payloads(5, 5 * c))]
        assert mine == payloads(5, 5 * c)


def test_a_reopened_queue_resumes_after_the_committed_cursor(open_queue: Opener) -> None:
    queue = open_queue()
    queue.append_sync(payloads(40))
    first, committed = queue.read(queue.first_position(), 15)
    assert first == payloads(15)
    queue.release(committed)
    # Read further but "crash" before committing: those records must come back.
    more, _ = queue.read(committed, 10)
    assert more == payloads(10, 15)
    queue.close_sync()
    queue = open_queue()
    try:
        queue.release(committed)  # what the writer does at start
        got, _ = read_all(queue, committed)
        assert got == payloads(25, 15)
    finally:
        queue.close_sync()


def test_depth_counts_what_is_not_released(open_queue: Opener) -> None:
    queue = open_queue()
    try:
        queue.append_sync(payloads(12))
        _, end = queue.read(queue.first_position(), 12)
        assert queue.depth() == 12
        queue.release(end)
        assert queue.depth() == 0
        assert queue.refusal() is None
    finally:
        queue.close_sync()


def test_the_writer_stores_each_event_once_across_a_stop_before_release(
    open_queue: Opener, tmp_path: Path
) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    store.open()
    queue = open_queue()
    queue.append_sync([ENCODER.encode(record(i)) for i in range(300)])
    writer = Writer(queue, store, lambda s: ("s.com",), batch_size=120)
    assert writer.run_once() == 120
    # The store committed the batch and its cursor; the process dies before release.
    queue.close_sync()
    queue = open_queue()
    queue.append_sync([ENCODER.encode(record(i)) for i in range(300, 350)])
    writer = Writer(queue, store, lambda s: ("s.com",), batch_size=120)
    while writer.run_once():
        pass
    try:
        assert count(store) == (350, 350)
        assert writer.lag() == 0
    finally:
        queue.close_sync()
        store.close()
