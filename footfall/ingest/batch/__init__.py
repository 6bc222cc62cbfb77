"""One writer round, store-neutral: the batch steps (``steps.py``, ``visits.py``) run on
the target the store opens, and the store commits their result with the queue position."""

from __future__ import annotations

from footfall.ingest.batch import steps
from footfall.store.base import EventStore, WriteBatch


def write(store: EventStore, batch: WriteBatch) -> dict[str, int]:
    """Run the batch steps for ``batch`` and commit; counts of received, duplicates,
    inserted and dropped events."""
    with store.begin_batch(batch.progress, batch.partition) as target:
        return steps.write(target, batch.source, batch.enrichment, batch.session_timeout_ms)
