"""In-process ``footfall worker``s for tests of the Redis shape: one in a thread beside an
in-process server (which runs no writer there), or several cycled by hand until the
queue is drained."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from footfall.queue.redis import RedisStreamQueue
from footfall.runtime import Services
from footfall.worker.loop import Worker, WorkerConfig
from tests.support.redis import REDIS_URL


@contextmanager
def worker_beside(svc: Services) -> Iterator[Worker | None]:
    """A worker on the server's own store while the block runs (nothing in the embedded
    shape, whose server writes itself)."""
    if svc.writer is not None:
        yield None
        return
    s = svc.settings
    config = WorkerConfig(partitions=s.queue_partitions, interval_ms=20, claim_idle_ms=500)
    worker = Worker(s.queue_url, s.redis_prefix, svc.store, svc.sites.domains_of, config)
    thread = threading.Thread(target=worker.run, name="test-worker")
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join()


def drain(*workers: Worker, partitions: int = 2, timeout: float = 20) -> None:
    """Cycle ``workers`` in turn until their queue (``partitions`` streams) is empty."""
    deadline = time.monotonic() + timeout
    queue = RedisStreamQueue(REDIS_URL, workers[0].leases.prefix, partitions=partitions)
    queue.open()
    try:
        while queue.depth():
            assert time.monotonic() < deadline, "the workers did not drain the queue"
            for w in workers:
                w.cycle()
            time.sleep(0.02)
    finally:
        queue.close_sync()
