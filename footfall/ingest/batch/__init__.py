"""One writer round, store-neutral: the batch steps (``steps.py``, ``visits.py``) run on
the target the store opens, and the store commits their result with the queue position."""

from __future__ import annotations

from footfall.ingest.batch import steps
from footfall.store.base import EventStore, WriteBatch


def write(store: EventStore, batch: WriteBatch) -> dict[str, int]:
    """Run the batch steps for ``batch`` and commit; counts of received, duplicates,
    inserted and dropped events."""
    if batch.fence is not None:  # a worker's round, fenced by its partition leases
        opened = store.begin_batch(batch.progress, batch.partition, batch.shares, fence=batch.fence)
    elif batch.shares is None:
        opened = store.begin_batch(batch.progress, batch.partition)
    else:
        opened = store.begin_batch(batch.progress, shares=batch.shares)
    with opened as target:
        return steps.write(target, batch.source, batch.enrichment, batch.session_timeout_ms)
