"""The scale-out shape end to end: two ``footfall serve`` processes and two ``footfall
worker`` processes, metadata in PostgreSQL, events in the ClickHouse stand-in, the queue
in Redis. Events sent through both servers; every report, read through either server,
equals the plain-Python reference of docs/design.md's metric definitions."""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url

from footfall.queue.redis import RedisStreamQueue
from tests.api.test_stats_metrics import NOW, build_dataset, reference, wire
from tests.meta.conftest import PG_URL, _libpq_dsn, _require_postgres
from tests.serverproc import Server
from tests.support.clickhouse import shared_standin_url
from tests.support.redis import REDIS_URL
from tests.worker.procs import WorkerProc

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A schema of this test's own in the test PostgreSQL, dropped afterwards."""
    _require_postgres()
    import psycopg

    schema = f"ff_worker_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with psycopg.connect(_libpq_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _wait_for_both(redis_prefix: str) -> None:
    """Until both workers hold partitions (before, the first would take every one)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + 60
    try:
        while True:
            # A lease's value is "consumer:epoch" (footfall/worker/lease.py).
            values = [client.get(f"{redis_prefix}lease:{k}") for k in range(4)]
            holders = {v.rsplit(b":", 1)[0] if v else None for v in values}
            if len(holders - {None}) == 2:
                return
            assert time.monotonic() < deadline, f"workers holding partitions: {holders}"
            time.sleep(0.1)
    finally:
        client.close()


def test_two_servers_two_workers_report_exactly(
    redis_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    env = {
        "FOOTFALL_QUEUE_URL": REDIS_URL, "FOOTFALL_REDIS_PREFIX": redis_prefix,
        "FOOTFALL_STORE_URL": shared_standin_url("scale_out"),
        "FOOTFALL_DATABASE_URL": postgres_url, "FOOTFALL_QUEUE_PARTITIONS": "4",
        "FOOTFALL_FLUSH_INTERVAL_MS": "100", "FOOTFALL_LOG_LEVEL": "warning",
    }  # fmt: skip
    servers = [Server(tmp_path / f"serve{i}", **env) for i in (1, 2)]
    workers = [
        WorkerProc(tmp_path / f"worker{i}.log", FOOTFALL_DATA_DIR=str(tmp_path / f"w{i}"), **env)
        for i in (1, 2)
    ]
    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=4)
    try:
        for w in workers:  # they start while the servers do
            w.start()
        starting = [threading.Thread(target=s.start) for s in servers]
        for t in starting:
            t.start()
        for t in starting:
            t.join()
        assert all(s.proc is not None and s.proc.poll() is None for s in servers)
        _wait_for_both(redis_prefix)
        one, two = servers
        status, site = one.admin_post(
            "/api/site/create", {"name": "Scaled", "domains": ["example.com"]}
        )
        assert status == 201, site
        events = build_dataset(seed=21)
        shuffled = events[:]
        random.Random(3).shuffle(shuffled)
        for i in range(0, len(shuffled), 20):
            server = servers[(i // 20) % 2]  # every other batch through the other server
            status, body = server.post(
                "/api/events", {"events": [wire(e) for e in shuffled[i : i + 20]]},
                {"x-api-key": site["api_key"]},
            )  # fmt: skip
            assert status == 202 and body["rejected"] == [], body
        deadline = time.monotonic() + 60
        while queue.depth():
            assert time.monotonic() < deadline, workers[0].log() + workers[1].log()
            time.sleep(0.1)
        today = NOW.date()
        ranges = [(today - timedelta(days=6), today)] + [
            (today - timedelta(days=d), today - timedelta(days=d)) for d in range(0, 7, 2)
        ]
        for server in servers:
            for first, last in ranges:
                query = f"/api/stats?site_id={site['site_id']}&from={first}&to={last}"
                got = server.get(query, token=server.admin)["data"]
                want = reference(events, first, last, "UTC")
                for key, value in want.items():
                    assert got[key] == value, (server.port, key, first, last, got[key], value)
        for w in workers:  # they ran rounds through pyarrow, which did not load pandas
            assert w.proc is not None
            maps = Path(f"/proc/{w.proc.pid}/maps").read_text()
            assert "pyarrow" in maps and "pandas" not in maps
        summaries = []
        for w in workers:
            assert w.proc is not None
            w.proc.send_signal(signal.SIGTERM)
        for w in workers:
            assert w.proc is not None and w.proc.wait(60) == 0, w.log()
            summaries.append(w.summary())
        # Both workers stored events: the partitions were shared out.
        assert all(s["events_written"] > 0 for s in summaries), summaries
        assert sum(s["events_written"] for s in summaries) == len(events)
    finally:
        for w in workers:
            w.stop_quietly()
        for s in servers:
            if s.proc is not None and s.proc.poll() is None:
                s.stop(recover=False)
        queue.close_sync()
