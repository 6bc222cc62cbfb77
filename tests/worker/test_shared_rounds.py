"""One store round over several partitions: a worker stores the batches of every partition
it holds at once, yet a round that crashed is replayed partition by partition, by
whichever workers hold them then, and every event, visit and drop is counted once
(real Redis; ClickHouse's engine, whose commits are not transactions)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.redis import RedisStreamQueue
from footfall.queue.redis.partitions import partition_of
from footfall.store.base import EventStore
from footfall.worker.loop import Worker, WorkerConfig
from tests.contract.test_store_writes import record
from tests.queue.contract.conftest import REDIS_URL
from tests.worker.conftest import expected_visits, stored
from tests.worker.inprocess import drain

MIN = 60_000
T0 = 1_700_000_000_000
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CONFIG = WorkerConfig(
    partitions=2, batch_size=500, interval_ms=10, lease_ms=1000, claim_idle_ms=300
)


def _worker(redis_prefix: str, store: EventStore, name: str) -> Worker:
    return Worker(REDIS_URL, redis_prefix, store, lambda s: ("s.com",), CONFIG, consumer=name)


def _visitor_in(partition: int, start: int) -> int:
    """A visitor id (from ``start`` on) whose events travel through ``partition``."""
    v = start
    while partition_of(ENCODER.encode(record(0, visitor_id=v)), 2) != partition:
        v += 1
    return v


def _scenario() -> tuple[list[SpoolRecord], list[SpoolRecord], int]:
    """Per partition a visitor with a stored visit, then late events that start before
    it (re-stamping its stored events) and bridge into a second visit, plus bot hits;
    returns the first batch, the second, and the bots in the second."""
    first: list[SpoolRecord] = []
    late: list[SpoolRecord] = []
    for k in (0, 1):
        v = _visitor_in(k, 100 * (k + 1))
        base = 1000 * (k + 1)
        first += [record(base + i, ts=T0 + 40 * MIN + i * MIN, visitor_id=v) for i in range(10)]
        late += [record(base + 50 + i, ts=T0 + i * 5 * MIN, visitor_id=v) for i in range(8)]
        late += [
            record(base + 80 + i, ts=T0 + i * MIN, visitor_id=v + 1000, user_agent=BOT)
            for i in range(3)
        ]
    bots = sum(1 for r in late if r.user_agent == BOT)
    return first, late, bots


def _drops(store: EventStore) -> int:
    ((n,),) = store.query("SELECT sum(n) FROM dropped_events")
    return int(n or 0)


def _interrupted_round(redis_prefix: str, store: EventStore, break_round: Any) -> tuple[Any, int]:
    """Worker a stores the first batch, then takes the late one of both partitions in
    one round, which ``break_round(a)`` interrupts; a is gone after. Returns what the
    queue got and the bots in it."""
    first, late, bots = _scenario()
    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=2)
    queue.open()
    a = _worker(redis_prefix, store, "a")
    queue.append_sync([ENCODER.encode(r) for r in first])
    drain(a)
    queue.append_sync([ENCODER.encode(r) for r in late])
    rounds = a.stats.batches
    break_round(a)
    assert a.stats.batches <= rounds + 1  # both partitions went into one store round
    for k in list(a.leases.held):
        a.leases.release(k)  # as if a died: its leases expire
    queue.close_sync()
    return first + late, bots


def _replayed_apart(redis_prefix: str, store: EventStore) -> tuple[Worker, Worker]:
    """Workers b and c, one partition each, replay what a left in flight."""
    b, c = _worker(redis_prefix, store, "b"), _worker(redis_prefix, store, "c")
    for w in (b, c):
        w.leases.share()  # both announce themselves first: a fair share is one each
    drain(b, c)
    assert len(b.leases.held) == len(c.leases.held) == 1
    return b, c


def test_a_stored_round_whose_acknowledgement_failed_is_replayed_apart_once(
    redis_prefix: str, chdb_store: EventStore
) -> None:
    # ClickHouse only: workers refuse DuckDB, which counts a replayed batch's drops again.
    import redis

    store = chdb_store

    def lose_acknowledgements(a: Worker) -> None:
        for stream in a.streams:
            stream.acknowledge = _raise  # type: ignore[method-assign]
        with pytest.raises(redis.ConnectionError):
            a.cycle()

    recs, bots = _interrupted_round(redis_prefix, store, lose_acknowledgements)
    stored_once = stored(store)
    b, c = _replayed_apart(redis_prefix, store)
    assert b.stats.batches == c.stats.batches == 1  # each replayed its partition alone
    assert stored(store) == stored_once
    people = [r for r in recs if r.user_agent != BOT]
    assert stored(store) == (len(people), len(people), expected_visits(people), len(people))
    assert _drops(store) == bots


@pytest.mark.parametrize("landed", [False, True], ids=["before-commit", "after-commit"])
def test_a_round_that_crashed_at_its_commit_is_replayed_apart_once(
    redis_prefix: str, chdb_store: EventStore, landed: bool
) -> None:
    store = chdb_store
    transport: Any = store.ch  # type: ignore[attr-defined]

    def crash_at_the_commit(a: Worker) -> None:
        # The visits insert is the round's commit (both partitions' at once): the process
        # dies just before it, after both partitions' events and re-stamps were inserted,
        # or just after it, before the older rows of the re-stamped events were deleted.
        real, commits = transport.insert, [0]

        def insert(table: str, data: Any, token: str = "") -> None:
            if table == "sessions":
                commits[0] += 1
                if landed:
                    real(table, data, token)
                raise RuntimeError("killed")
            real(table, data, token)

        transport.insert = insert
        try:
            a.cycle()  # the round fails; its batches stay pending
        finally:
            transport.insert = real
        assert commits[0] == 1 and a.stats.errors == 1

    recs, bots = _interrupted_round(redis_prefix, store, crash_at_the_commit)
    _replayed_apart(redis_prefix, store)
    people = [r for r in recs if r.user_agent != BOT]
    assert stored(store) == (len(people), len(people), expected_visits(people), len(people))
    assert _drops(store) == bots


def test_partitions_are_stored_in_one_round(redis_prefix: str, store: EventStore) -> None:
    recs = [record(i, visitor_id=1 + i % 9) for i in range(200)]
    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=2)
    queue.open()
    queue.append_sync([ENCODER.encode(r) for r in recs])
    a = Worker(
        REDIS_URL, redis_prefix, store, lambda s: ("s.com",),
        dataclasses.replace(CONFIG, batch_size=10_000), consumer="a",
    )  # fmt: skip
    assert a.cycle() == (200, False)
    assert a.stats.batches == 1 and len(a.leases.held) == 2
    assert queue.depth() == 0
    queue.close_sync()
    assert stored(store) == (200, 200, expected_visits(recs), 200)


def _raise(ids: list[str]) -> None:
    import redis

    raise redis.ConnectionError("connection lost")
