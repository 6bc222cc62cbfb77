"""The shared Redis at 127.0.0.1:6379 as the tests use it: a check that it is there (a skip,
or a failure under ``FOOTFALL_REQUIRE_SERVICES=1``), and a key prefix of each test's own
whose keys are deleted afterwards, so tests never see each other's streams or counters.

Loaded as a plugin by ``tests/conftest.py``, so the ``redis_prefix`` fixture is everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import require_services

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> None:
    """Skip (or fail, when services are required) unless the client and Redis are there."""
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


def new_prefix() -> str:
    return f"footfall-test:{uuid.uuid4().hex[:12]}:"


def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key under ``prefix``."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A prefix of this test's own in the shared Redis; its keys are gone afterwards."""
    redis_or_skip()
    prefix = new_prefix()
    yield prefix
    drop_prefix(prefix)
