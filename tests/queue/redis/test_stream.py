"""The Redis Streams queue's own promises: trimming never drops an entry some consumer
group has not acknowledged, keys stay under the redis_prefix, and an unreachable Redis refuses
appends (503 with Retry-After) instead of acknowledging them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from footfall.queue.base import QueueFull
from tests.support.redis import REDIS_URL

redis = pytest.importorskip("redis")
from footfall.queue.redis import RedisStreamQueue  # noqa: E402


def test_trimming_keeps_what_another_group_has_not_acknowledged(redis_prefix: str) -> None:
    writer = RedisStreamQueue(REDIS_URL, redis_prefix)
    other = RedisStreamQueue(REDIS_URL, redis_prefix, group="other", consumer="o")
    writer.open()
    other.open()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        writer.append_sync([b"x%d" % i for i in range(100)])
        got, end = writer.read(writer.first_position(), 100)
        assert len(got) == 100
        writer.release(end)
        # The writer's group is done, but "other" has read nothing: all 100 stay.
        assert client.xlen(redis_prefix + "events") == 100
        got, mid = other.read(other.first_position(), 60)
        other.release(mid)
        assert client.xlen(redis_prefix + "events") == 40
        rest, _ = other.read(mid, 100)
        assert rest == [b"x%d" % i for i in range(60, 100)]
        assert {k.decode() for k in client.scan_iter(match=redis_prefix + "*")} == {
            redis_prefix + "events"
        }
    finally:
        client.close()
        writer.close_sync()
        other.close_sync()


def test_unacknowledged_entries_survive_trimming(redis_prefix: str) -> None:
    q = RedisStreamQueue(REDIS_URL, redis_prefix)
    q.open()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        q.append_sync([b"a", b"b", b"c", b"d"])
        _, after_two = q.read(q.first_position(), 2)
        q.read(after_two, 2)  # delivered, not yet stored
        q.release(after_two)
        assert client.xlen(redis_prefix + "events") == 2
        assert q.depth() == 2
    finally:
        client.close()
        q.close_sync()


def test_unreachable_redis_refuses_instead_of_acknowledging() -> None:
    q = RedisStreamQueue("redis://127.0.0.1:1/0", "footfall-test:down:")

    async def send() -> None:
        with pytest.raises(QueueFull) as refused:
            await q.append([b"event"])
        assert refused.value.retry_after > 0
        assert "redis unreachable" in str(refused.value)
        assert q.refusal() is not None and "redis unreachable" in q.refusal()  # type: ignore[operator]
        await q.close()

    asyncio.run(send())


def test_switching_back_to_the_spool_stores_its_events(redis_prefix: str, tmp_path: Path) -> None:
    # The store's progress is a Redis id (milliseconds) after running on Redis; the spool
    # opened next has small positions that all lie "before" it.
    from footfall.ingest.record import ENCODER
    from footfall.queue.spool import Spool
    from footfall.queue.writer import Writer
    from footfall.store.duckdb import DuckDBStore
    from tests.contract.test_store_writes import count, record

    store = DuckDBStore(tmp_path / "events.duckdb")
    store.open()
    q = RedisStreamQueue(REDIS_URL, redis_prefix)
    q.open()
    q.append_sync([ENCODER.encode(record(i)) for i in range(10)])
    while Writer(q, store, lambda s: ("s.com",)).run_once():
        pass
    q.close_sync()
    spool = Spool(tmp_path / "spool")
    spool.open()
    spool.append_sync([ENCODER.encode(record(i)) for i in range(10, 25)])
    writer = Writer(spool, store, lambda s: ("s.com",))
    while writer.run_once():
        pass
    try:
        assert count(store) == (25, 25)
    finally:
        spool.close_sync()
        store.close()


def test_a_stream_deleted_under_the_reader_is_made_again(redis_prefix: str) -> None:
    q = RedisStreamQueue(REDIS_URL, redis_prefix)
    q.open()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        q.append_sync([b"a"])
        _, end = q.read(q.first_position(), 10)
        q.release(end)
        client.delete(redis_prefix + "events")  # as a Redis restarted without its data
        assert q.read(end, 10)[0] == []
        q.append_sync([b"b"])
        assert q.read(end, 10)[0] == [b"b"]
    finally:
        client.close()
        q.close_sync()
