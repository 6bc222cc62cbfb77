"""Redis unreachable: nothing shared fails a request. Rate limits and login throttling
fall back to buckets of each process (logged once), the live count comes from the store,
site changes reach the other servers within the cache's TTL; when Redis is back, the
shared state is used again."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.dashboard.siteops import current_visitors
from footfall.shared.redis.limits import RedisLimits
from footfall.shared.redis.link import RedisLink
from tests.conftest import make_settings
from tests.shared.conftest import RedisServer, event
from tests.worker.inprocess import worker_beside


@pytest.mark.slow
async def test_rate_limits_fall_back_to_this_process(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    link = RedisLink(redis_server.url, "ff:")
    limiter = RedisLimits(link)("ip", 0.01, 3)
    try:
        assert await limiter.hit("k") is None  # one token taken in Redis
        redis_server.stop()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="footfall.shared"):
            results = [await limiter.hit("k") for _ in range(5)]
        # Each process limits on its own meanwhile: a full bucket of 3 here, then waits;
        # and no hit waited for a connection timeout after the first failure.
        assert results[:3] == [None, None, None] and None not in results[3:]
        assert time.monotonic() - started < 1.0
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "per-process buckets" in warnings[0]
        redis_server.start()  # an empty Redis: the shared bucket starts full again
        await asyncio.sleep(link.retry_s)
        assert [await limiter.hit("k") for _ in range(4)][:3] == [None, None, None]
        assert link.down_reason is None
    finally:
        await link.aclose()


@pytest.mark.slow
def test_live_count_and_site_changes_without_redis(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, queue_url=redis_server.url)
    app = create_app(settings)
    with TestClient(app) as client:
        svc = app.state.services
        site, key = svc.meta.create_site("S", ["s.example"])
        body = {"events": [event("a"), event("b")]}
        assert client.post("/api/events", json=body, headers={"x-api-key": key}).status_code == 202
        with worker_beside(svc):  # the Redis shape's server stores nothing itself
            assert svc.wait_stored(15)
        redis_server.stop()
        # From the store now (the writer had stored both): the same figure.
        assert current_visitors(svc, site) == 2
        svc.sites.invalidate()  # cannot reach the others: logged, not raised
        assert svc.sites.for_ingest_key(key) is not None
        r = client.get("/api/health")
        assert r.status_code == 503  # the queue is down, and health says so
        redis_server.start()
