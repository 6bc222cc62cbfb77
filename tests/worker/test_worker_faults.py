"""``footfall worker`` processes under faults (real Redis, the ClickHouse stand-in over
HTTP): a worker killed with SIGKILL in the middle of a batch, whose batch another worker
reclaims; SIGTERM, which finishes the batch under way and exits 0. Every event is in the
store exactly once and the visits are the 30-minute rule's."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from footfall.config import Settings
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.redis import RedisStreamQueue
from footfall.queue.redis.partitions import GROUP, stream_keys
from footfall.store import open_store
from tests.contract.test_store_writes import record
from tests.support.clickhouse import shared_standin_url
from tests.support.redis import REDIS_URL
from tests.worker.conftest import expected_visits, stored
from tests.worker.procs import WorkerProc

pytestmark = pytest.mark.slow
N = 1500


def _env(redis_prefix: str, store_url: str, data: Path) -> dict[str, str]:
    return {
        "FOOTFALL_QUEUE_URL": REDIS_URL, "FOOTFALL_REDIS_PREFIX": redis_prefix,
        "FOOTFALL_STORE_URL": store_url, "FOOTFALL_DATA_DIR": str(data),
        "FOOTFALL_QUEUE_PARTITIONS": "2", "FOOTFALL_BATCH_SIZE": "100",
        "FOOTFALL_FLUSH_INTERVAL_MS": "50", "FOOTFALL_WORKER_LEASE_MS": "1000",
        "FOOTFALL_WORKER_CLAIM_IDLE_MS": "1000", "FOOTFALL_LOG_LEVEL": "warning",
    }  # fmt: skip


def _append(queue: RedisStreamQueue, recs: list[SpoolRecord]) -> None:
    """As collection would: 20-event requests (a stream entry per request and partition)."""
    for i in range(0, len(recs), 20):
        queue.append_sync([ENCODER.encode(r) for r in recs[i : i + 20]])


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    redis_prefix: str, tmp_path: Path
) -> None:
    import redis

    url = shared_standin_url("worker_kill")
    store = open_store(Settings(data_dir=tmp_path / "reader", store_url=url))
    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=2)
    queue.open()
    recs = [record(i, ts=1_700_000_000_000 + i * 3000, visitor_id=1 + i % 40) for i in range(N)]
    _append(queue, recs)
    env = _env(redis_prefix, url, tmp_path / "data")
    first = WorkerProc(tmp_path / "first.log", **env).start()
    second = WorkerProc(tmp_path / "second.log", **env)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        _wait(lambda: stored(store)[0] > 0, 60, "the first worker stored nothing")

        def in_flight() -> int:
            return sum(client.xpending(k, GROUP)["pending"] for k in stream_keys(redis_prefix, 2))

        # Killed in the middle of a batch: entries it read are pending, unacknowledged.
        _wait(lambda: in_flight() > 0, 30, "the first worker never had a batch in flight")
        first.kill()
        pending = in_flight()
        assert pending > 0
        assert stored(store)[0] < N
        second.start()
        _wait(lambda: queue.depth() == 0, 90, "the second worker did not drain the queue")
        assert second.terminate() == 0, second.log()
        assert second.summary()["errors"] == 0
    finally:
        first.stop_quietly()
        second.stop_quietly()
        client.close()
        queue.close_sync()
    assert stored(store) == (N, N, expected_visits(recs), N)
    store.close()


def test_sigterm_finishes_the_batch_under_way_and_exits_0(
    redis_prefix: str, tmp_path: Path
) -> None:
    import redis

    url = shared_standin_url("worker_term")
    store = open_store(Settings(data_dir=tmp_path / "reader", store_url=url))
    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=2)
    queue.open()
    recs = [record(i, visitor_id=1 + i % 25) for i in range(N)]
    _append(queue, recs)
    worker = WorkerProc(tmp_path / "w.log", **_env(redis_prefix, url, tmp_path / "data")).start()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        _wait(lambda: stored(store)[0] > 0, 60, "the worker stored nothing")
        assert worker.terminate() == 0, worker.log()
        summary = worker.summary()
        keys = stream_keys(redis_prefix, 2)
        # Nothing is left in flight, what it acknowledged is stored, the leases are free.
        assert sum(client.xpending(k, GROUP)["pending"] for k in keys) == 0
        written = summary["events_written"]
        assert stored(store)[:2] == (written, written)
        assert 0 < written < N
        assert not client.exists(*[f"{redis_prefix}lease:{k}" for k in range(2)])
    finally:
        worker.stop_quietly()
        client.close()
        queue.close_sync()
        store.close()
