"""A ``footfall worker`` in a thread beside an in-process server, for tests of the Redis
shape (where the server runs no writer) that need their events stored."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from footfall.runtime import Services
from footfall.worker.loop import Worker, WorkerConfig


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
