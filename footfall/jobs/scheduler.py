"""A small interval scheduler for maintenance jobs (retention, salt rotation).

Jobs are plain callables run on one background thread, one at a time, so a slow job never
overlaps itself. ``run`` executes a job now (``footfall jobs run`` and the admin API).
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


class Scheduler:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(
        self, name: str, every_seconds: float, func: Callable[[], Any], *, first_in: float = 0.0
    ) -> None:
        self.jobs[name] = Job(name, every_seconds, func, time.monotonic() + first_in)

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
                    job.next_at = now + job.every_seconds
                    try:
                        self.run(job.name)
                    except Exception:  # noqa: S112 - logged in run(); keep the loop alive
                        continue
