"""The compaction job waits out a bulk load (footfall/jobs/compact.py): at 10M events it
started mid-load, held the writer for ten minutes and the spool refused senders; and it
waits for the rollups to fold the load in (it slowed the dashboard's first minutes)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.jobs.compact import BACKLOG_RECORDS, WriterActivity
from footfall.jobs.scheduler import Scheduler
from tests.conftest import ADMIN, make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bulk_load_or_a_backlog_is_busy_a_quiet_site_is_not() -> None:
    clock, written, lag = Clock(), [0], [0]
    activity = WriterActivity(lambda: written[0], lambda: lag[0], clock)
    clock.now += 600  # ten minutes of a busy small site: 5 events a second
    written[0] += 3_000
    assert not activity.busy()
    clock.now += 60  # a bulk load: 2,500 events a second over the last minute
    written[0] += 150_000
    assert activity.busy()
    clock.now += 60  # the load is over: nothing written since the last look
    assert not activity.busy()
    lag[0] = BACKLOG_RECORDS  # ... but the writer has a backlog to drain
    clock.now += 60
    assert activity.busy()
    lag[0] = 3
    clock.now += 60
    assert not activity.busy()


def test_the_end_of_a_load_shows_two_quiet_seconds_after_its_last_event() -> None:
    """Looked at every second (the rollups job): the load's rate over the last 5 s stays
    high for seconds after it ends; two seconds with nothing stored and nothing waiting
    end it. A long writer round in the middle of a load (records waiting) does not."""
    clock, written, lag = Clock(), [0], [0]
    activity = WriterActivity(lambda: written[0], lambda: lag[0], clock)
    for _ in range(10):  # 20,000 events a second
        clock.now += 1
        written[0] += 20_000
        assert activity.busy()
    clock.now += 1  # the last event stored a second ago: not yet
    assert activity.busy()
    clock.now += 1  # two quiet seconds (the window's rate is still 40,000/s)
    assert not activity.busy()
    written[0] += 20_000  # the load goes on after a long writer round ...
    for _ in range(3):
        clock.now += 1
        lag[0] = 5_000  # ... with records waiting during the next one
        assert activity.busy()


def test_a_job_waits_while_its_condition_holds_but_runs_at_once_by_hand() -> None:
    busy = threading.Event()
    busy.set()
    ran: list[float] = []
    sched = Scheduler()
    sched.add("compact", 3600.0, lambda: ran.append(time.monotonic()), first_in=0.0,
              wait_while=busy.is_set, retry_seconds=0.5)  # fmt: skip
    sched.start()
    try:
        time.sleep(2.5)  # the loop looks once a second: put off each time
        assert ran == []
        assert sched.jobs["compact"].waited >= 1
        sched.run("compact")  # an operator's run does not wait
        assert len(ran) == 1
        busy.clear()
        deadline = time.monotonic() + 5
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        # Within the retry interval, not its hourly one, once the load is over.
        assert len(ran) == 2
        assert sched.jobs["compact"].waited == 0
    finally:
        sched.stop()


def test_a_job_waits_no_longer_than_its_bound() -> None:
    ran: list[int] = []
    sched = Scheduler()
    sched.add("rollups", 3600.0, lambda: ran.append(1), wait_while=lambda: True,
              retry_seconds=0.2, max_wait_seconds=1.5)  # fmt: skip
    sched.start()
    try:
        deadline = time.monotonic() + 6
        while not ran and time.monotonic() < deadline:
            time.sleep(0.1)
        # Always busy (a site this large all the time) still gets its run, once waited.
        assert ran == [1]
        assert sched.jobs["rollups"].waited == 0
    finally:
        sched.stop()


@pytest.mark.slow
def test_a_served_store_puts_its_rollups_and_compaction_off_during_a_bulk_load(
    tmp_path: Path,
) -> None:
    created = time.monotonic()
    app = create_app(make_settings(tmp_path))
    with TestClient(app) as client:
        services = app.state.services
        jobs = services.scheduler.jobs
        r = client.post("/api/site/create", json={"name": "S", "domains": ["example.com"]},
                        headers={"Authorization": f"Bearer {ADMIN}"})  # fmt: skip
        key = r.json()["api_key"]
        ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
        for part in range(4):  # 2,000 events within seconds: a bulk load's rate
            events = [{"event_type": "pageview", "path": f"/{i}", "url": "https://example.com/",
                       "ip": f"8.8.{part}.{i % 250}", "user_agent": ua} for i in range(500)]  # fmt: skip
            r = client.post("/api/events", json={"events": events}, headers={"x-api-key": key})
            assert r.status_code == 202
        assert services.writer.wait_idle(15)
        # 2,000 events since the jobs' first look (at start-up) is over 200 a second
        # unless this took 10 s (a machine too loaded to tell a bulk load).
        if time.monotonic() - created < 9.0:
            assert jobs["rollups"].wait_while() and jobs["compact"].wait_while()
        time.sleep(5.5)  # nothing written since the last look: both may run
        assert not jobs["rollups"].wait_while()
        assert not jobs["compact"].wait_while()
        # A rollups run that still folded a load in (a build, many visitors sealed)
        # holds the compaction off; the next one, with nothing left, lets it run. (The
        # scheduler's lock keeps its own rollups runs from replacing these results.)
        rollups = jobs["rollups"]
        with services.scheduler._lock:
            rollups.last_result = {"built": ["s"], "sealed_visitors": 0, "resorted": []}
            assert jobs["compact"].wait_while()
            rollups.last_result = {"built": [], "sealed_visitors": 90_000, "resorted": []}
            assert jobs["compact"].wait_while()
            rollups.last_result = {"built": [], "sealed_visitors": 3, "resorted": []}
            assert not jobs["compact"].wait_while()
