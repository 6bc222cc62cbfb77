"""While the rollups job builds a site, the store's queries run one at a time.

A build is what turns a bulk-loaded site's dashboard from raw events (seconds a panel at
millions of events) into the rollups (milliseconds). DuckDB runs every statement of the
process on one pool of threads, so while a build runs, each dashboard query running
beside it takes an equal share of those threads: a dashboard loaded back to back (ten
panels, six at a time, each a scan of every raw event) left the build a seventh of the
CPU, and a 1M-event build that takes 9 s alone took 78 s (docs/benchmarks.md, issue 25).
Queries one at a time give the build about half: the panels are slower while it runs
and fast sooner (in process at 1M, six readers beside a build: the build ended in 0.50x
the time, the readers ran a sixth as many statements; bench/build_beside_queries.py).

Only the store's reads (``query``, ``snapshot``) wait here; the writer, the jobs' own
transactions and streamed exports (a stream may hold its read for minutes) do not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BuildPriority:
    """``building()`` around a build; ``reading()`` around a read. While any build runs, at
    most one read runs at a time; a thread already reading passes (reads nest)."""

    def __init__(self) -> None:
        self._count = threading.Lock()
        self._builds = 0
        self._slot = threading.Lock()
        self._local = threading.local()

    @property
    def active(self) -> bool:
        return self._builds > 0

    @contextmanager
    def building(self) -> Iterator[None]:
        with self._count:
            self._builds += 1
        try:
            yield
        finally:
            with self._count:
                self._builds -= 1

    @contextmanager
    def reading(self) -> Iterator[None]:
        if getattr(self._local, "held", False) or not self._builds:
            # A read that starts before a build does not wait for it: the build gets its
            # share as soon as the reads running at its start end.
            yield
            return
        with self._slot:
            self._local.held = True
            try:
                yield
            finally:
                self._local.held = False
