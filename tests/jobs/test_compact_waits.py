"""The compaction job waits out a bulk load (footfall/jobs/compact.py): at 10M events it
started mid-load, held the writer for ten minutes and the spool refused senders."""

from __future__ import annotations

import threading
import time

from footfall.jobs.compact import BACKLOG_RECORDS, WriterActivity
from footfall.jobs.scheduler import Scheduler


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
