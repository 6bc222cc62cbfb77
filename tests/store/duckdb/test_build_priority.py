"""While the rollups job builds a site, the store's queries run one at a time
(store/duckdb/priority.py): a dashboard polled back to back beside a first build left it
a seventh of DuckDB's threads after a bulk load (issue 25)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import pytest

from footfall.jobs.rollups import run_rollups
from footfall.store.duckdb import DuckDBStore
from footfall.store.duckdb.priority import BuildPriority
from tests.conftest import Footfall
from tests.query.test_rollups import compare, events


class Overlap:
    """Thread A holds a read open; thread B then runs a query. Says whether B finished
    while A still held its read, and what B's query returned."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self.a_in, self.release, self.b_done = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        self.b_rows: list[Any] = []

    def _a(self) -> None:
        with self.store.snapshot() as q:
            q("SELECT count(*) FROM events")
            self.a_in.set()
            self.release.wait(10)

    def _b(self) -> None:
        self.b_rows = self.store.query("SELECT count(*) FROM events")
        self.b_done.set()

    def run(self) -> bool:
        a, b = threading.Thread(target=self._a), threading.Thread(target=self._b)
        a.start()
        assert self.a_in.wait(10)
        b.start()
        overlapped = self.b_done.wait(1.0)
        self.release.set()
        a.join(10)
        b.join(10)
        assert self.b_done.is_set()  # B always gets its answer, at the latest after A
        return overlapped


def test_queries_run_one_at_a_time_during_a_build_and_side_by_side_otherwise(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    base = events(random.Random(5), 30, 30, "prio-")
    for i in range(0, len(base), 300):
        assert ff.send_batch(base[i : i + 300]).status_code == 202
    ff.flush()
    stored = store.query("SELECT count(*) FROM events")
    assert Overlap(store).run()  # no build: B does not wait for A
    real = store._maintenance_step
    calls, seen = [0], []

    @contextmanager
    def step() -> Iterator[duckdb.DuckDBPyConnection]:
        calls[0] += 1
        if calls[0] == 4:  # a step of the build (1: the run's state, 2: the build's start)
            probe = Overlap(store)
            seen.append(probe.run())
            assert probe.b_rows == stored
        with real() as cur:
            yield cur

    monkeypatch.setattr(store, "_maintenance_step", step)
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    assert seen == [False]  # during the build, B waited until A's read ended
    monkeypatch.setattr(store, "_maintenance_step", real)
    assert Overlap(store).run()  # the build over: side by side again
    compare(ff)  # and the rollups it built answer exactly


def test_a_thread_reading_during_a_build_reads_again_without_waiting() -> None:
    prio = BuildPriority()
    done = threading.Event()

    def nested() -> None:
        with prio.reading(), prio.reading():
            done.set()

    with prio.building():
        t = threading.Thread(target=nested)
        t.start()
        t.join(5)
    assert done.is_set()
    assert not prio.active
