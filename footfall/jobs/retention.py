"""Retention: delete raw events older than ``FOOTFALL_RETENTION_DAYS`` (0 keeps them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from footfall.store.base import EventStore


def run_retention(
    store: EventStore, retention_days: int, now: datetime | None = None
) -> dict[str, int | str]:
    if retention_days <= 0:
        return {"deleted": 0, "note": "retention disabled (FOOTFALL_RETENTION_DAYS=0 keeps all)"}
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    return {"deleted": store.delete_events_before(cutoff), "cutoff": cutoff.isoformat()}
