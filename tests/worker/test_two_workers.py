"""Several workers, one visitor: the partition lease keeps a visitor's events in one
worker at a time, so a visit read half by one worker and half by another is one visit,
and a batch a worker took and never stored is replayed once by the next (real Redis;
DuckDB and ClickHouse's engine as the store)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.redis import RedisStreamQueue
from footfall.queue.redis.partitions import partition_of
from footfall.store.base import EventStore
from footfall.worker.loop import Worker, WorkerConfig
from tests.contract.test_store_writes import record
from tests.support.redis import REDIS_URL
from tests.worker.conftest import expected_visits, stored
from tests.worker.inprocess import drain

MIN = 60_000
CONFIG = WorkerConfig(partitions=2, batch_size=50, interval_ms=10, lease_ms=1000, claim_idle_ms=300)


def _worker(redis_prefix: str, store: EventStore, name: str, **kw: Any) -> Worker:
    config = dataclasses.replace(CONFIG, **kw)
    return Worker(REDIS_URL, redis_prefix, store, lambda s: ("s.com",), config, consumer=name)


def _queue(redis_prefix: str) -> RedisStreamQueue:
    q = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=2)
    q.open()
    return q


def test_one_visitors_visit_read_by_two_workers_is_one_visit(
    redis_prefix: str, store: EventStore
) -> None:
    # Visitor 7: 40 pageviews 2 minutes apart (one visit of 78 minutes); others around.
    mine = [record(i, ts=1_700_000_000_000 + i * 2 * MIN, visitor_id=7) for i in range(40)]
    others = [record(100 + i, visitor_id=20 + i % 5) for i in range(30)]
    queue = _queue(redis_prefix)
    a, b = _worker(redis_prefix, store, "a"), _worker(redis_prefix, store, "b")
    part = partition_of(ENCODER.encode(mine[0]), 2)
    queue.append_sync([ENCODER.encode(r) for r in mine[:20] + others])
    drain(a)
    assert part in a.leases.held
    # Worker a goes away (its leases given back); b takes the partitions and the rest.
    a.shutdown()
    queue.append_sync([ENCODER.encode(r) for r in mine[20:]])
    drain(b)
    assert part in b.leases.held
    assert a.stats.events_written >= 20 and b.stats.events_written == 20
    queue.close_sync()
    assert stored(store) == (70, 70, expected_visits(mine + others), 70)
    visit = store.query(
        "SELECT count(*), sum(pageviews), min(entry_page) FROM sessions WHERE visitor_id = 7"
    )
    assert visit == [(1, 40, "/0")]


def test_a_batch_taken_by_a_worker_that_died_is_stored_once_by_another(
    redis_prefix: str, chdb_store: EventStore
) -> None:
    store = chdb_store
    recs = [record(i, visitor_id=1 + i % 9) for i in range(300)]
    queue = _queue(redis_prefix)
    queue.append_sync([ENCODER.encode(r) for r in recs])
    dead = _worker(redis_prefix, store, "dead")
    dead.leases.rebalance()
    # It reads a batch from each partition and dies before storing it: nothing acknowledged.
    taken = [dead.streams[k].next_batch(50) for k in sorted(dead.leases.held)]
    assert all(taken)
    survivor = _worker(redis_prefix, store, "survivor")
    # The dead worker's leases have not expired: the survivor waits for them.
    assert survivor.cycle() == (0, False)
    for k in list(dead.leases.held):
        dead.leases.release(k)  # as if they expired
    drain(survivor)
    queue.close_sync()
    assert stored(store) == (300, 300, expected_visits(recs), 300)


def test_a_stored_batch_whose_acknowledgement_failed_is_not_counted_twice(
    redis_prefix: str, chdb_store: EventStore
) -> None:
    store = chdb_store
    import redis

    # Visitor 3's first visit, then a batch that starts before it (re-stamping it) and
    # bridges into a second one, so the replayed round touches stored visits.
    first = [record(i, ts=1_700_000_000_000 + 40 * MIN + i * MIN, visitor_id=3) for i in range(10)]
    late = [record(50 + i, ts=1_700_000_000_000 + i * 5 * MIN, visitor_id=3) for i in range(8)]
    queue = _queue(redis_prefix)
    a = _worker(redis_prefix, store, "a")
    queue.append_sync([ENCODER.encode(r) for r in first])
    drain(a)
    queue.append_sync([ENCODER.encode(r) for r in late])
    # Worker a stores the batch, then Redis drops the acknowledgement: a dies with it.
    stream: Any = a.streams[partition_of(ENCODER.encode(late[0]), 2)]
    real = stream.acknowledge

    def lost(ids: list[str]) -> None:
        stream.acknowledge = real
        raise redis.ConnectionError("connection lost")

    stream.acknowledge = lost
    with pytest.raises(redis.ConnectionError):
        a.cycle()
    assert stored(store)[0] == 18
    for k in list(a.leases.held):
        a.leases.release(k)
    b = _worker(redis_prefix, store, "b")
    drain(b)
    queue.close_sync()
    recs: list[SpoolRecord] = first + late
    assert stored(store) == (18, 18, expected_visits(recs), 18)
    assert b.stats.batches == 1  # the replay


def test_a_round_that_died_after_its_events_insert_is_replayed_exactly_by_another(
    redis_prefix: str, chdb_store: EventStore
) -> None:
    """Worker a's round over its two partitions dies after their events are in ClickHouse,
    at the visits insert that commits both partitions: neither committed. Worker b claims
    both stopped batches and replays them (the same positions), writing what they lack
    (the visits) and no event again; every event once, every visit."""
    store = chdb_store
    recs = [record(i, ts=1_700_000_000_000 + i * MIN, visitor_id=1 + i % 9) for i in range(120)]
    queue = _queue(redis_prefix)
    queue.append_sync([ENCODER.encode(r) for r in recs])
    a = _worker(redis_prefix, store, "a", batch_size=200)
    ch: Any = store.ch  # type: ignore[attr-defined]
    real_insert, inserts = ch.insert, []

    def insert(name: str, data: Any, token: str = "") -> None:
        inserts.append(name)
        if name == "sessions":
            raise ConnectionError("killed before the visits commit")
        real_insert(name, data, token)

    ch.insert = insert
    for _ in range(5):  # one round over both partitions, which dies at its commit
        if a.stats.errors:
            break
        a.cycle()
    ch.insert = real_insert
    assert a.stats.batches == 0 and a.stats.errors == 1 and inserts.count("sessions") == 1
    assert stored(store) == (120, 120, 0, 0)  # both partitions' events are in, no visit
    for k in list(a.leases.held):
        a.leases.release(k)  # a is gone: its leases expire, its batch stays pending
    b = _worker(redis_prefix, store, "b")
    time.sleep(CONFIG.claim_idle_ms / 1000)
    drain(b)
    for _ in range(3):  # the claim and replay happen after the queue's depth reads 0
        b.cycle()
    queue.close_sync()
    # Both batches are replayed (a's round acknowledged neither), in one round or in two
    # when b reclaims the partitions' entries in different cycles.
    assert b.stats.batches in (1, 2)
    assert stored(store) == (120, 120, expected_visits(recs), 120)
