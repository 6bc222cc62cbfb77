"""The Redis shape against a Redis server of the test's own (append-only, fsync at every
write): killed and restarted under load, no event that collection acknowledged (202) is
lost or stored twice; while Redis is slow, ``/metrics`` waits for it off the event loop,
so other requests are answered meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall.config import Settings
from footfall.worker.loop import Worker, WorkerConfig
from tests.conftest import Footfall, make_settings
from tests.worker.procs import RedisServer

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path: Path, redis_server: RedisServer) -> Settings:
    return make_settings(tmp_path, queue_url=redis_server.url, queue_partitions=2)


@pytest.fixture
def worker(footfall: Footfall, settings: Settings) -> Iterator[Worker]:
    config = WorkerConfig(partitions=2, interval_ms=20, claim_idle_ms=500)
    w = Worker(settings.queue_url, settings.redis_prefix, footfall.services.store,
               footfall.services.sites.domains_of, config)  # fmt: skip
    thread = threading.Thread(target=w.run)
    thread.start()
    yield w
    w.stop()
    thread.join()


def test_redis_killed_and_restarted_under_load_loses_no_acknowledged_event(
    footfall: Footfall, redis_server: RedisServer, worker: Worker
) -> None:
    acknowledged, refused = [], 0
    for i in range(400):
        if i == 150:
            redis_server.kill()
        if i == 200:
            redis_server.start()
        r = footfall.send({"event_type": "pageview", "path": f"/p/{i}", "user_agent": UA})
        if r.status_code == 202:
            acknowledged.append(f"/p/{i}")
        else:
            assert r.status_code == 503 and r.headers["retry-after"], r.text
            refused += 1
    assert refused >= 40 and len(acknowledged) >= 300
    footfall.flush()
    rows = footfall.services.store.query("SELECT pathname, count(*) FROM events GROUP BY pathname")
    counts = dict(rows)
    assert all(counts.get(p) == 1 for p in acknowledged), "an acknowledged event was lost"
    assert max(counts.values()) == 1, "an event was stored twice"
    # What Redis never confirmed was not stored either (the 503 was the truth).
    assert set(counts) == set(acknowledged)
    stats = footfall.stats()
    assert stats["pageviews"] == len(acknowledged) and stats["visitors"] == 1


def test_metrics_waits_for_a_slow_redis_off_the_event_loop(
    footfall: Footfall, redis_server: RedisServer
) -> None:
    import redis

    slow = redis.Redis.from_url(redis_server.url)
    threading.Thread(target=slow.execute_command, args=("DEBUG", "SLEEP", "1.5")).start()
    time.sleep(0.1)  # Redis is asleep now
    scrape = threading.Thread(target=footfall.client.get, args=("/metrics",))
    scrape.start()
    time.sleep(0.1)  # the scrape is waiting for the queue's depth
    started = time.monotonic()
    r = footfall.client.get("/js/manifest.json")
    took = time.monotonic() - started
    scrape.join()
    slow.close()
    assert r.status_code == 200
    assert took < 0.8, f"a request waited {took:.2f} s behind a /metrics scrape"
