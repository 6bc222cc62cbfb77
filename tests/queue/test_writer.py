"""The writer's loop: how long it waits between rounds, and that a failing idle
checkpoint does not stop it (the store contract itself is tests/contract/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from footfall.ingest.record import ENCODER
from footfall.queue.writer import Writer
from footfall.store.duckdb import DuckDBStore
from tests.contract.test_store_writes import count, open_parts, record


class IdleFailsOnce(DuckDBStore):
    """A store whose first idle checkpoint fails, as it does while a job's write
    transaction is open."""

    fails = 1

    def idle(self) -> None:
        if self.fails:
            self.fails -= 1
            raise RuntimeError("Cannot CHECKPOINT: there are other write transactions active")
        super().idle()


def test_a_failed_idle_checkpoint_does_not_stop_the_writer(tmp_path: Path) -> None:
    import time

    spool, store = open_parts(tmp_path, segment_bytes=64 << 20, store_class=IdleFailsOnce)
    writer = Writer(spool, store, lambda s: ("s.com",), interval_ms=10)
    writer.start()
    try:
        time.sleep(0.1)  # idle rounds: the first checkpoint fails
        assert store.fails == 0
        spool.append_sync([ENCODER.encode(record(i)) for i in range(10)])
        assert writer.wait_idle(5)
    finally:
        writer.stop()
    assert count(store) == (10, 10)
    assert writer.stats.errors == 0


def test_rounds_start_an_interval_apart_stretched_under_load_up_to_a_second() -> None:
    from footfall.queue.writer import next_wait

    assert next_wait(700, 700, 3.0, 1.0) == 0.0  # a full round: a backlog, go on at once
    assert next_wait(0, 700, 0.0, 1.0) == 1.0  # nothing to do: the interval
    assert next_wait(5, 700, 0.1, 1.0) == pytest.approx(0.9)  # counted from the round's start
    assert next_wait(5000, 150_000, 0.3, 1.0) == pytest.approx(0.7)
    assert next_wait(5000, 150_000, 1.4, 1.0) == 0.0  # a round longer than the interval
    # A shorter interval is stretched after a costly round (busy a fifth of the time) ...
    assert next_wait(5000, 150_000, 0.02, 0.25) == pytest.approx(0.23)  # a cheap round
    assert next_wait(5000, 150_000, 0.1, 0.25) == pytest.approx(0.4)
    assert next_wait(5000, 150_000, 0.6, 0.25) == pytest.approx(0.4)  # ... up to 1 s apart
    assert next_wait(999, 150_000, 0.1, 0.25) == pytest.approx(0.15)  # light: freshness first
    assert next_wait(5000, 150_000, 0.9, 3.0) == pytest.approx(2.1)  # a longer interval stays


class SlowStore(DuckDBStore):
    """A store whose writes take at least 0.1 s (a costly round)."""

    @contextmanager
    def begin_batch(self, progress: tuple[int, int] | None, partition: int = 0) -> Iterator[Any]:
        import time

        time.sleep(0.1)
        with super().begin_batch(progress, partition) as target:
            yield target


def test_the_loop_waits_longer_after_a_costly_round(tmp_path: Path) -> None:
    import time

    spool, store = open_parts(tmp_path, segment_bytes=64 << 20, store_class=SlowStore)
    writer = Writer(spool, store, lambda s: ("s.com",), interval_ms=50)
    waits: list[float] = []
    real_wait = writer._stop.wait

    def recording(timeout: float | None = None) -> bool:
        waits.append(timeout or 0.0)
        return real_wait(timeout)

    writer._stop.wait = recording  # type: ignore[method-assign]
    spool.append_sync([ENCODER.encode(record(i)) for i in range(1500)])
    writer.start()
    try:
        assert writer.wait_idle(5)
        time.sleep(1.2)  # past the long wait (at most 1 s), into the idle rounds
    finally:
        writer.stop()
    assert count(store) == (1500, 1500)
    # The round took >= 0.1 s: the wait after it is 4x that, far above the 50 ms interval.
    assert 0.35 <= waits[0] <= 0.9
    assert 0.05 in waits[1:]  # the empty rounds after it wait the plain interval
