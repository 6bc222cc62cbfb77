"""``FOOTFALL_QUEUE_URL=redis://…`` end to end in one process: collection acknowledges
into Redis Streams (the server runs no writer), a worker drains the partitions into the
store, and the reports count every acknowledged event once. With Redis unreachable, collection answers 503 with
Retry-After and health says why; nothing is acknowledged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.config import Settings
from footfall.queue.redis.partitions import stream_keys
from footfall.worker.loop import Worker, WorkerConfig
from tests.conftest import ADMIN, Footfall, make_settings
from tests.support.redis import REDIS_URL

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def settings(tmp_path: Path, redis_prefix: str) -> Settings:
    return make_settings(tmp_path, queue_url=REDIS_URL, redis_prefix=redis_prefix)


@pytest.fixture
def worker(footfall: Footfall, settings: Settings) -> Iterator[Worker]:
    """A worker beside the server, on its store (one process: DuckDB allows that)."""
    assert footfall.services.writer is None
    config = WorkerConfig(partitions=settings.queue_partitions, interval_ms=20)
    w = Worker(settings.queue_url, settings.redis_prefix, footfall.services.store,
               footfall.services.sites.domains_of, config)  # fmt: skip
    thread = threading.Thread(target=w.run)
    thread.start()
    yield w
    w.stop()
    thread.join()


def test_events_go_through_redis_into_the_reports_once(
    footfall: Footfall, settings: Settings, worker: Worker
) -> None:
    import redis

    for i in range(5):
        r = footfall.send({"event_type": "pageview", "path": f"/single/{i}", "user_agent": UA})
        assert r.status_code == 202, r.text
    batch = [{"event_type": "pageview", "path": f"/batch/{i}", "user_agent": UA} for i in range(20)]
    assert footfall.send_batch(batch).status_code == 202
    stats = footfall.stats()
    assert stats["pageviews"] == 25
    assert stats["visitors"] == 1
    # They went through Redis, not a spool: the stream was drained and trimmed.
    assert not (settings.data_dir / "spool").exists()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = stream_keys(settings.redis_prefix, settings.queue_partitions)
        assert len(keys) == 4 and sum(client.xlen(k) for k in keys) == 0
    finally:
        client.close()
    health = footfall.client.get("/api/health").json()
    assert health["status"] == "ok" and health["queue"]["depth"] == 0


def test_unreachable_redis_answers_503_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, queue_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        site = client.post(
            "/api/site/create", json={"name": "F", "domains": ["f.com"]}, headers=auth
        ).json()
        r = client.post(
            "/api/event",
            json={"event_type": "pageview", "path": "/", "user_agent": UA},
            headers={"x-api-key": site["api_key"]},
        )
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["error"] == "Queue unavailable, retry later"
        assert r.json()["details"][0]["field"] == "queue"
        health = client.get("/api/health")
        assert health.status_code == 503
        assert "redis unreachable" in health.json()["reason"]
