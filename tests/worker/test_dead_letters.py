"""A record no batch can store fails its deliveries with a growing back-off, moves to the
dead-letter stream at the configured count, and the events around it are stored;
``footfall queue dlq list|retry|purge`` manage the letters (real Redis and DuckDB)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from footfall.cli import main
from footfall.config import Settings
from footfall.ingest.record import ENCODER
from footfall.queue.redis import RedisStreamQueue
from footfall.store import open_store
from footfall.store.base import EventStore
from footfall.worker.dlq import DeadLetters
from footfall.worker.loop import Worker, WorkerConfig
from tests.contract.test_store_writes import record
from tests.support.redis import REDIS_URL
from tests.worker.conftest import stored

POISON = [b"not json at all", b'{"event_id": "x", "site_id": "s"}']


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    s = open_store(Settings(data_dir=tmp_path / "data"))
    yield s
    s.close()


def test_poison_records_go_to_the_dead_letter_stream_and_the_rest_flow_on(
    redis_prefix: str, store: EventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import redis

    queue = RedisStreamQueue(REDIS_URL, redis_prefix, partitions=1)
    queue.open()
    good = [ENCODER.encode(record(i)) for i in range(40)]
    queue.append_sync(good[:20] + POISON + good[20:])
    config = WorkerConfig(partitions=1, batch_size=1000, max_failures=3, retry_base_ms=50)
    worker = Worker(REDIS_URL, redis_prefix, store, lambda s: ("s.com",), config, consumer="w")
    attempts = []
    deadline = time.monotonic() + 10
    while queue.depth():
        assert time.monotonic() < deadline
        before = worker.stats.errors
        worker.cycle()
        if worker.stats.errors > before:
            attempts.append(time.monotonic())
    # Two failed deliveries, waits doubling between them, then the third moved them.
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 0.05
    assert worker.stats.dead_lettered == 2
    assert stored(store)[:2] == (40, 40)
    client = redis.Redis.from_url(REDIS_URL)
    assert client.hlen(redis_prefix + "failures") == 0
    letters = DeadLetters(client, redis_prefix).letters()
    assert [d.payload for d in letters] == POISON
    assert letters[0].failures == 3 and "not an event record" in letters[0].error
    assert letters[1].error.startswith("not an event record")

    # The command line: list, retry one (it comes back and fails again), purge.
    monkeypatch.setenv("FOOTFALL_QUEUE_URL", REDIS_URL)
    monkeypatch.setenv("FOOTFALL_REDIS_PREFIX", redis_prefix)
    monkeypatch.setenv("FOOTFALL_QUEUE_PARTITIONS", "1")
    monkeypatch.setenv("FOOTFALL_DATA_DIR", str(tmp_path / "cli"))
    assert main(["queue", "dlq", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["event"] for r in rows] == [p.decode() for p in POISON]
    assert main(["queue", "dlq", "retry", rows[0]["id"]]) == 0
    assert "1 letter(s) requeued" in capsys.readouterr().out
    assert (
        client.xlen(redis_prefix + "events") >= 1 and DeadLetters(client, redis_prefix).size() == 1
    )
    with pytest.raises(SystemExit, match="not both"):
        main(["queue", "dlq", "purge"])
    assert main(["queue", "dlq", "purge", "--all"]) == 0
    assert "1 letter(s) deleted" in capsys.readouterr().out
    assert DeadLetters(client, redis_prefix).size() == 0
    client.close()
    queue.close_sync()
