"""The maintenance jobs every ``footfall serve`` runs, and how often."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from footfall.jobs.retention import run_retention, site_retention

if TYPE_CHECKING:
    from footfall.runtime import Services

DAY = 86_400.0


def register_default_jobs(services: Services) -> None:
    s = services
    s.scheduler.add(
        "retention",
        DAY,
        lambda: run_retention(s.store, s.settings.retention_days, site_days=site_retention(s.meta)),
        first_in=60.0,
    )
    # Hourly is enough: the salt changes at UTC midnight and the hot path creates today's
    # on first use; this job is what deletes salts older than 48 hours.
    s.scheduler.add("salts", 3600.0, lambda: s.salts.rotate(datetime.now(UTC)), first_in=5.0)
