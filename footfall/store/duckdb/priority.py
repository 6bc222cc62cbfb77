"""While the rollups job builds a site, the build's steps run alone and the store's
queries take turns between them, with a quarter of the time.

A build is what turns a bulk-loaded site's dashboard from raw events (seconds a panel at
millions of events) into the rollups (milliseconds). DuckDB runs every statement of the
process on one pool of threads and one memory limit, so a query running beside a build
step takes a share of both: a dashboard loaded back to back (ten panels, six at a time,
each a scan of every raw event) left a 1M-event build a seventh of the CPU (9 s alone,
78 s beside it), and with queries one at a time a 10M-event build that takes 33 s alone
in process took 377 s in ``footfall serve`` while the dashboard was polled
(docs/benchmarks.md, issue 25).

So while a build runs: a query waits while a step runs; a step waits for the queries
running (one at a time once the build has begun); between two steps, queries start only
while the time they took during this build is under ``READ_SHARE`` of the time its steps
took (the first one always may), or while the latest of them took under ``FAST_READ``;
a query that waited ``MAX_WAIT`` runs beside the step, one at a time. With slow queries
the build ends in about 1/(1 - READ_SHARE) of its own time and the panels answer
meanwhile, slower. Only the store's reads (``query``, ``snapshot``)
wait here; the writer, the jobs' own transactions and streamed exports (a stream may hold
its read for minutes) do not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The share of a build's wall time the queries beside it may take.
READ_SHARE = 0.25
# Seconds a query waits for its turn at most: then it runs beside the step (still one at
# a time), so a panel is never held for the whole build (a proxy's 60 s would cut it).
MAX_WAIT = 20.0
# A query that took less than this is no reason to hold the next back: the panels are
# fast on raw events already (a site of a few million events), and holding them to a
# quarter of the time made a dashboard loaded beside a 2M site's 16 s build take 16 s
# (its raw panels: 0.3-0.5 s). Slow ones (seconds at 10M) are what the build must beat.
FAST_READ = 1.0


class BuildPriority:
    """``building()`` around a build, ``step()`` around each of its transactions,
    ``reading()`` around a read. A thread already reading passes (reads nest)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._builds = 0
        self._stepping = False
        self._running = 0  # reads running now, whether or not a build runs
        self._step_time = 0.0  # this build's steps' and reads' wall seconds so far
        self._read_time = 0.0
        self._last_read = 0.0  # the latest read's wall seconds during this build
        self._local = threading.local()

    @property
    def active(self) -> bool:
        return self._builds > 0

    @contextmanager
    def building(self) -> Iterator[None]:
        with self._cond:
            self._builds += 1
            self._step_time = self._read_time = self._last_read = 0.0
        try:
            yield
        finally:
            with self._cond:
                self._builds -= 1
                self._cond.notify_all()

    @contextmanager
    def step(self) -> Iterator[None]:
        """One transaction of a build: waits for the running reads (those begun before
        the build too: a first step beside a dashboard's panels ran out of memory), holds
        new ones back."""
        with self._cond:
            while self._running or self._stepping:
                self._cond.wait()
            self._stepping = True
        started = time.monotonic()
        try:
            yield
        finally:
            with self._cond:
                self._stepping = False
                self._step_time += time.monotonic() - started
                self._cond.notify_all()

    def _may_read(self, overdue: bool) -> bool:
        if not self._builds:
            return True
        if self._running:
            return False
        if overdue:
            return True
        if self._stepping:
            return False
        # Between steps: a query may start while the reads' share is under READ_SHARE
        # (the build's first query always may: both are 0), or after a fast one.
        return self._last_read < FAST_READ or self._read_time <= READ_SHARE * self._step_time

    @contextmanager
    def reading(self) -> Iterator[None]:
        if getattr(self._local, "held", False):
            yield
            return
        deadline = time.monotonic() + MAX_WAIT
        with self._cond:
            while not self._may_read(overdue=(left := deadline - time.monotonic()) <= 0):
                self._cond.wait(timeout=max(left, 0.05) if left > 0 else None)
            self._running += 1
            during = self._builds > 0
        self._local.held = True
        started = time.monotonic()
        try:
            yield
        finally:
            self._local.held = False
            with self._cond:
                self._running -= 1
                if during and self._builds:
                    self._last_read = time.monotonic() - started
                    self._read_time += self._last_read
                self._cond.notify_all()
