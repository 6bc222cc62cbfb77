"""The queue contract suite runs every test on every queue: the embedded spool and Redis
Streams (a real Redis at 127.0.0.1:6379, each test under its own key prefix, whose keys
are deleted afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from footfall.queue.base import EventQueue
from footfall.queue.spool import Spool
from tests.conftest import require_services

REDIS_URL = "redis://127.0.0.1:6379/0"
QUEUES = ["spool", "redis"]

Opener = Callable[[], EventQueue]


def _redis_or_skip() -> None:
    try:
        import redis
    except ImportError:
        reason = "the redis client is not installed (pip install -e '.[dev]')"
    else:
        try:
            redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
            return
        except redis.RedisError as exc:
            reason = f"Redis at {REDIS_URL} is unreachable ({exc}): the Redis queue is not tested"
    if require_services():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(params=QUEUES)
def open_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the test's queue: each call a new handle on the same durable queue (what a
    restarted process would open)."""
    if request.param == "spool":

        def spool() -> EventQueue:
            s = Spool(tmp_path / "spool", segment_bytes=1 << 16)
            s.open()
            return s

        yield spool
        return
    _redis_or_skip()
    import redis

    from footfall.queue.redis import RedisStreamQueue

    prefix = f"footfall-test:{uuid.uuid4().hex[:12]}:"

    def stream() -> EventQueue:
        q = RedisStreamQueue(REDIS_URL, prefix)
        q.open()
        return q

    yield stream
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()
