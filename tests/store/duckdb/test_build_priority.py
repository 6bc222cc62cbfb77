"""While the rollups job builds a site, its steps run alone and the store's queries take
turns between them with about a quarter of the time (store/duckdb/priority.py): a
dashboard polled back to back beside a first build left it a seventh of DuckDB's threads
after a bulk load, and a 10M build took 377 s in the server against 33 s alone (issue 25)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import duckdb
import pytest

from footfall.jobs.rollups import run_rollups
from footfall.store.duckdb import DuckDBStore, priority
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


def test_queries_wait_for_a_build_step_and_run_side_by_side_otherwise(
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
    calls, waited, got = [0], [], []
    reader = threading.Thread(target=lambda: got.append(store.query("SELECT count(*) FROM events")))

    @contextmanager
    def step() -> Iterator[duckdb.DuckDBPyConnection]:
        calls[0] += 1
        with real() as cur:
            if calls[0] == 4:  # a step of the build (1: the run's state, 2: the build's start)
                reader.start()
                reader.join(0.5)
                waited.append(reader.is_alive())
            yield cur

    monkeypatch.setattr(store, "_maintenance_step", step)
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    reader.join(10)
    assert waited == [True] and got == [stored]  # it waited for the step, then answered
    monkeypatch.setattr(store, "_maintenance_step", real)
    assert Overlap(store).run()  # the build over: side by side again
    compare(ff)  # and the rollups it built answer exactly


def test_queries_beside_a_build_take_about_a_quarter_of_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read over its share waits for the build's steps, then goes on (a fake clock)."""
    clock = [0.0]
    monkeypatch.setattr(priority.time, "monotonic", lambda: clock[0])
    prio, done = BuildPriority(), threading.Event()

    def read() -> None:
        with prio.reading():
            done.set()

    with prio.building():
        with prio.reading():  # the build's first read may always start
            clock[0] += 1.0
        later = threading.Thread(target=read)
        later.start()
        later.join(0.3)
        assert not done.is_set()  # 1 s of reads, no step yet: over the share
        with prio.step():
            clock[0] += 3.0
        later.join(0.3)
        assert not done.is_set()  # 1 s against 3 s of steps: still over a quarter
        with prio.step():
            clock[0] += 1.0
        later.join(5)
        assert done.is_set()  # 1 s against 4 s: its turn
    assert not prio.active


class Holder:
    """A thread inside ``enter()`` (a read or a build step): ``inside`` is set once it is
    in; it leaves when ``release`` is set (at once without one), after ``then()``."""

    def __init__(
        self,
        enter: Callable[[], AbstractContextManager[None]],
        release: threading.Event | None = None,
        then: Callable[[], None] = lambda: None,
    ) -> None:
        self.inside = threading.Event()

        def run() -> None:
            with enter():
                self.inside.set()
                if release is not None:
                    release.wait(10)
                then()

        self.thread = threading.Thread(target=run)
        self.thread.start()


def test_a_build_step_waits_for_the_running_read_and_holds_the_next_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr(priority.time, "monotonic", lambda: clock[0])
    prio = BuildPriority()
    end_read, end_step = threading.Event(), threading.Event()

    def advance(seconds: float) -> Callable[[], None]:
        return lambda: clock.__setitem__(0, clock[0] + seconds)

    with prio.building():
        reader = Holder(prio.reading, end_read, advance(0.5))
        assert reader.inside.wait(5)
        step = Holder(prio.step, end_step, advance(4.0))
        assert not step.inside.wait(0.3)  # the step waits for the read holding the turn
        end_read.set()
        assert step.inside.wait(5)
        second = Holder(prio.reading)
        assert not second.inside.wait(0.3)  # a read waits while the step runs
        end_step.set()
        assert second.inside.wait(5)  # then its turn: 0.5 s of reads against 4 s of steps
        for held in (reader, step, second):
            held.thread.join(5)


def test_a_builds_first_step_waits_for_the_reads_begun_before_it() -> None:
    """A dashboard's panels already running when a build starts: its first step waits for
    them (beside them, a first step after a 10M load ran out of DuckDB's memory)."""
    prio, end_read = BuildPriority(), threading.Event()
    reader = Holder(prio.reading, end_read)
    assert reader.inside.wait(5)
    with prio.building():
        step = Holder(prio.step)
        assert not step.inside.wait(0.3)
        end_read.set()
        assert step.inside.wait(5)
        reader.thread.join(5)
        step.thread.join(5)


def test_a_query_waits_no_longer_than_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long step does not hold a panel for ever: past MAX_WAIT it runs beside it."""
    monkeypatch.setattr(priority, "MAX_WAIT", 0.3)
    prio, end_step = BuildPriority(), threading.Event()
    with prio.building():
        step = Holder(prio.step, end_step)
        assert step.inside.wait(5)
        reader = Holder(prio.reading)
        assert not reader.inside.wait(0.1)  # within its bound it waits for the step
        assert reader.inside.wait(5)  # then runs beside it
        assert not end_step.is_set()
        end_step.set()
        step.thread.join(5)
        reader.thread.join(5)


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


def test_fast_queries_beside_a_build_are_not_held_to_its_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Panels that answer in a fraction of a second from raw events (a site of a few
    million events) go on between the steps; once one is slow, the share holds again."""
    clock = [0.0]
    monkeypatch.setattr(priority.time, "monotonic", lambda: clock[0])
    prio = BuildPriority()

    def read(seconds: float) -> Holder:
        return Holder(prio.reading, then=lambda: clock.__setitem__(0, clock[0] + seconds))

    with prio.building():
        with prio.step():
            clock[0] += 0.5
        for _ in range(5):  # 1.5 s of reads against 0.5 s of steps: each fast, each goes
            held = read(0.3)
            assert held.inside.wait(5)
            held.thread.join(5)
        slow = read(1.5)
        assert slow.inside.wait(5)
        slow.thread.join(5)
        held = read(0.3)
        assert not held.inside.wait(0.3)  # after a slow one, over the share: it waits
        with prio.step():
            clock[0] += 12.0  # 3.0 s of reads against 12.5 s of steps: under a quarter
        assert held.inside.wait(5)
        held.thread.join(5)
