"""The queue contract suite runs every test on every queue: the embedded spool and Redis
Streams (a real Redis at 127.0.0.1:6379, each test under its own key prefix, whose keys
are deleted afterwards)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from footfall.queue.base import EventQueue
from footfall.queue.spool import Spool
from tests.support.redis import REDIS_URL, drop_prefix, new_prefix, redis_or_skip

QUEUES = ["spool", "redis"]

Opener = Callable[[], EventQueue]


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
    redis_or_skip()
    from footfall.queue.redis import RedisStreamQueue

    prefix = new_prefix()

    def stream() -> EventQueue:
        q = RedisStreamQueue(REDIS_URL, prefix)
        q.open()
        return q

    yield stream
    drop_prefix(prefix)
