"""A worker stalled past its partition lease is fenced: when it resumes mid-round after
another worker took the partition over, its round neither touches the store nor commits,
and every event is stored exactly once (real Redis; ClickHouse's engine, chdb, as the
store, opened twice on one database as two worker processes would).

The stall is a hook (the first worker's round waits at the store's door while the test
lets its lease lapse), so the interleaving is exact: the new owner replays the stalled
batch, then stores a newer one, and the stalled worker resumes between the new owner's
events insert and its commit. Unfenced, its replay checks took the new owner's
uncommitted rows back (they lie past the partition's committed marker): the newer
batch's events were lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from footfall.config import Settings
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.redis import RedisStreamQueue
from footfall.store import open_store
from footfall.store.base import EventStore
from footfall.worker.lease import LeaseLost, Leases
from footfall.worker.loop import Worker, WorkerConfig
from tests.conftest import chdb_url
from tests.contract.test_store_writes import record
from tests.support.redis import REDIS_URL
from tests.worker.conftest import _need_chdb, expected_visits, stored
from tests.worker.inprocess import drain

MIN = 60_000
LEASE_MS = 400
CONFIG = WorkerConfig(
    partitions=1, batch_size=1000, interval_ms=10, lease_ms=LEASE_MS, claim_idle_ms=300
)


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[EventStore, EventStore]]:
    """Two ClickHouse stores on one database: each worker its own, as in two processes."""
    _need_chdb()
    url = chdb_url("fence")
    a = open_store(Settings(data_dir=tmp_path / "a", store_url=url))
    b = open_store(Settings(data_dir=tmp_path / "b", store_url=url))
    yield a, b
    a.close()
    b.close()


def _records(first: int, n: int, start_ms: int) -> list[SpoolRecord]:
    # Visitor 7 every other event, a minute apart (one visit across both batches).
    return [
        record(first + i, ts=start_ms + i * MIN, visitor_id=7 if i % 2 else 20 + i % 3)
        for i in range(n)
    ]


def test_a_worker_resuming_after_its_lease_was_taken_over_changes_nothing(
    redis_prefix: str, two_stores: tuple[EventStore, EventStore]
) -> None:
    store_a, store_b = two_stores
    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=1)
    queue.open()
    first = _records(0, 40, 1_700_000_000_000)
    second = _records(40, 40, 1_700_000_000_000 + 40 * MIN)
    queue.append_sync([ENCODER.encode(r) for r in first])

    # Worker a's round stops at the store's door (a GC pause, a SIGSTOP) until let go.
    a_paused, a_go = threading.Event(), threading.Event()
    enter = store_a.begin_batch

    @contextmanager
    def stalled(*args: Any, **kw: Any) -> Iterator[Any]:
        a_paused.set()
        assert a_go.wait(180)
        with enter(*args, **kw) as target:
            yield target

    store_a.begin_batch = stalled  # type: ignore[method-assign]
    a = Worker(REDIS_URL, redis_prefix, store_a, lambda s: ("s.com",), CONFIG, consumer="a")
    b = Worker(REDIS_URL, redis_prefix, store_b, lambda s: ("s.com",), CONFIG, consumer="b")
    a_cycle = threading.Thread(target=a.cycle, name="stalled-worker")
    a_cycle.start()
    try:
        assert a_paused.wait(60)
        time.sleep(LEASE_MS / 1000 + 0.4)  # a's lease lapses; its batch idles past the claim
        # b takes the partition over, claims a's batch and stores it.
        drain(b, partitions=1, timeout=120)
        assert b.stats.events_written == 40

        # b's next round: a resumes between b's events insert and b's commit.
        insert = store_b.ch.insert  # type: ignore[attr-defined]
        resumed = []

        def insert_then_resume_a(table: str, *args: Any, **kw: Any) -> None:
            insert(table, *args, **kw)
            if table == "events" and not resumed:
                resumed.append(True)
                a_go.set()
                a_cycle.join(120)
                assert not a_cycle.is_alive()

        store_b.ch.insert = insert_then_resume_a  # type: ignore[attr-defined]
        queue.append_sync([ENCODER.encode(r) for r in second])
        drain(b, partitions=1, timeout=120)
        assert resumed
    finally:
        a_go.set()
        a_cycle.join(120)
        queue.close_sync()
    # a's round was refused (nothing stored, nothing acknowledged), b's stands whole.
    assert stored(store_b) == (80, 80, expected_visits(first + second), 80)
    visit = store_b.query("SELECT count(*), sum(pageviews) FROM sessions WHERE visitor_id = 7")
    assert visit == [(1, 40)]
    assert (a.stats.fenced, a.stats.events_written) == (1, 0)
    assert b.stats.events_written == 80
    # a holds nothing now; its next cycle finds the partition taken.
    assert a.leases.held == set()
    a.shutdown()
    b.shutdown()


def test_a_lease_taken_again_has_a_new_epoch_and_the_old_rounds_fence_fails(
    redis_prefix: str,
) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        leases = Leases(client, redis_prefix, "w", partitions=1, lease_ms=200)
        assert leases.rebalance() == {0}
        old = leases.fence_for([0])
        old()  # still held: passes (and renews)
        time.sleep(0.35)  # lapsed; the same worker takes it again, under a new epoch
        assert leases.rebalance() == {0}
        assert leases.tokens[0] == "w:2"
        with pytest.raises(LeaseLost):
            old()
        leases.fence_for([0])()  # a round begun under the new epoch passes
    finally:
        client.close()


def test_a_round_slower_than_its_lease_goes_on_when_nobody_took_the_partition(
    redis_prefix: str,
) -> None:
    # A loaded machine: the round outlives its lease, but no other worker acquired the
    # partition meanwhile (its epoch is unchanged), so refusing it would only stall the
    # queue: the fence re-takes the lease under the same epoch and the round commits.
    client = redis.Redis.from_url(REDIS_URL)
    other = redis.Redis.from_url(REDIS_URL)
    try:
        leases = Leases(client, redis_prefix, "w", partitions=1, lease_ms=200)
        assert leases.rebalance() == {0}
        fence = leases.fence_for([0])
        time.sleep(0.35)  # lapsed, nobody took it
        assert client.get(leases.key(0)) is None
        fence()
        assert client.get(leases.key(0)) == b"w:1"  # held again, same epoch
        # Once another worker takes it (a new epoch), the same fence refuses.
        time.sleep(0.35)
        rival = Leases(other, redis_prefix, "v", partitions=1, lease_ms=5000)
        assert rival.rebalance() == {0}
        with pytest.raises(LeaseLost):
            fence()
        # ... and so it does if the rival has given the partition back already.
        rival.release(0)
        with pytest.raises(LeaseLost):
            fence()
    finally:
        client.close()
        other.close()


def test_a_round_whose_lease_was_taken_before_it_reached_the_store_stores_nothing(
    redis_prefix: str, store: EventStore
) -> None:
    # On both stores: DuckDB refuses it at COMMIT (rolled back), ClickHouse before it
    # touches a row.
    recs = [record(i, visitor_id=1 + i % 5) for i in range(30)]
    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=1)
    queue.open()
    queue.append_sync([ENCODER.encode(r) for r in recs])
    a = Worker(REDIS_URL, redis_prefix, store, lambda s: ("s.com",), CONFIG, consumer="a")
    b = Worker(REDIS_URL, redis_prefix, store, lambda s: ("s.com",), CONFIG, consumer="b")
    try:
        assert a.leases.rebalance() == {0}
        batch = a.streams[0].next_batch(100)
        assert batch
        records = [(i, n, r) for i, p in batch for n, r in enumerate((p or b"").split(b"\n"))]
        # a's lease lapses (as after a long pause) and b takes the partition.
        time.sleep(LEASE_MS / 1000 + 0.2)
        a.leases.share()  # a's heartbeat, so that b's fair share is still one partition
        assert b.leases.rebalance() == {0}
        assert a.round([(0, batch, records)]) == 0
        assert (a.stats.fenced, stored(store)) == (1, (0, 0, 0, 0))
        drain(b, partitions=1, timeout=120)  # claims a's batch once idle, stores it
    finally:
        queue.close_sync()
    assert stored(store) == (30, 30, expected_visits(recs), 30)
    a.shutdown()
    b.shutdown()
