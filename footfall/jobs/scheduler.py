"""A small interval scheduler for maintenance jobs (retention, salt rotation).

Jobs are plain callables run on one background thread, one at a time, so a slow job never
overlaps itself. ``run`` executes a job now (``footfall jobs run`` and the admin API).
A job may name a condition to wait out (``wait_while``): while it holds, the job's turn
is put off by ``retry_seconds`` instead of its whole interval (the compaction and the
rollups wait for the end of a bulk load this way), but never for more than
``max_wait_seconds`` in a row. A job run by hand does not wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from footfall.threadnames import name_this_thread

log = logging.getLogger("footfall.jobs")


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[], Any]
    next_at: float = 0.0
    last_result: Any = None
    last_error: str = ""
    wait_while: Callable[[], bool] | None = None
    retry_seconds: float = 60.0
    max_wait_seconds: float = 3600.0
    waited: int = 0  # turns put off by wait_while since the last run
    waiting_since: float = 0.0


class Scheduler:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(
        self,
        name: str,
        every_seconds: float,
        func: Callable[[], Any],
        *,
        first_in: float = 0.0,
        wait_while: Callable[[], bool] | None = None,
        retry_seconds: float = 60.0,
        max_wait_seconds: float = 3600.0,
    ) -> None:
        self.jobs[name] = Job(
            name, every_seconds, func, time.monotonic() + first_in, wait_while=wait_while,
            retry_seconds=retry_seconds, max_wait_seconds=max_wait_seconds,
        )  # fmt: skip

    def run(self, name: str) -> Any:
        job = self.jobs.get(name)
        if job is None:
            raise KeyError(name)
        with self._lock:
            try:
                job.last_result = job.func()
                job.last_error = ""
            except Exception as exc:
                job.last_error = repr(exc)
                log.exception("job %s failed", name)
                raise
            return job.last_result

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="footfall-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        name_this_thread()
        while not self._stop.wait(1.0):
            now = time.monotonic()
            for job in list(self.jobs.values()):
                if now >= job.next_at:
                    if self._put_off(job, now):
                        job.next_at = now + job.retry_seconds
                        continue
                    job.next_at = now + job.every_seconds
                    try:
                        self.run(job.name)
                    except Exception:  # noqa: S112 - logged in run(); keep the loop alive
                        continue

    def _put_off(self, job: Job, now: float) -> bool:
        if job.wait_while is None:
            return False
        if job.waited and now - job.waiting_since >= job.max_wait_seconds:
            wait = False  # waited long enough: a site that is always this busy still gets it
        else:
            try:
                wait = job.wait_while()
            except Exception:  # a broken condition must not stop the job for ever
                log.exception("job %s: its wait condition failed; running it", job.name)
                wait = False
        if wait:
            if not job.waited:
                job.waiting_since = now
                log.info("job %s put off: its wait condition holds", job.name)
            job.waited += 1
            return True
        job.waited = 0
        return False
