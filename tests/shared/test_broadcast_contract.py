"""Site-cache invalidation: every broadcast adapter tells this process at once; the Redis
one also tells every other process, and clears again after a reconnection (it may have
missed messages while Redis was away)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from footfall.shared.base import Broadcast
from footfall.shared.local.invalidation import LocalBroadcast
from tests.shared.conftest import RedisServer
from tests.support.redis import REDIS_URL


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Counter:
    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.n += 1


@pytest.fixture(params=["process", "redis"])
def broadcast(request: pytest.FixtureRequest) -> Iterator[Broadcast]:
    if request.param == "process":
        yield LocalBroadcast()
        return
    from footfall.shared.redis.invalidation import RedisBroadcast
    from footfall.shared.redis.link import RedisLink

    b = RedisBroadcast(RedisLink(REDIS_URL, request.getfixturevalue("redis_prefix")))
    yield b
    b.close()


def test_publish_tells_this_process_before_it_returns(broadcast: Broadcast) -> None:
    calls = Counter()
    broadcast.listen(calls)
    calls.n = 0  # the Redis adapter also clears when it (re)subscribes
    broadcast.publish()
    assert calls.n >= 1


def test_another_process_hears_it_and_we_do_not_hear_ourselves_twice(redis_prefix: str) -> None:
    from footfall.shared.redis.invalidation import RedisBroadcast
    from footfall.shared.redis.link import RedisLink

    a = RedisBroadcast(RedisLink(REDIS_URL, redis_prefix))
    b = RedisBroadcast(RedisLink(REDIS_URL, redis_prefix))
    other = RedisBroadcast(RedisLink(REDIS_URL, redis_prefix + "other:"))
    heard_a, heard_b, heard_other = Counter(), Counter(), Counter()
    try:
        a.listen(heard_a)
        b.listen(heard_b)
        other.listen(heard_other)
        assert a.subscribed.wait(5) and b.subscribed.wait(5) and other.subscribed.wait(5)
        heard_a.n = heard_b.n = heard_other.n = 0
        a.publish()
        assert wait_for(lambda: heard_b.n == 1)
        time.sleep(0.3)  # our own message comes back too, and must be skipped
        assert heard_a.n == 1 and heard_b.n == 1
        assert heard_other.n == 0  # another installation (prefix) hears nothing
    finally:
        for x in (a, b, other):
            x.close()


@pytest.mark.slow
def test_after_redis_comes_back_every_process_clears_once_more(redis_server: RedisServer) -> None:
    from footfall.shared.redis.invalidation import RedisBroadcast
    from footfall.shared.redis.link import RedisLink

    b = RedisBroadcast(RedisLink(redis_server.url, "ff:"), reconnect_s=0.1)
    heard = Counter()
    try:
        b.listen(heard)
        assert b.subscribed.wait(5)
        heard.n = 0
        redis_server.stop()
        assert wait_for(lambda: not b.subscribed.is_set())
        # Messages published now reach no one; a publisher elsewhere logs and moves on.
        redis_server.start()
        assert b.subscribed.wait(10)
        assert heard.n >= 1
    finally:
        b.close()
