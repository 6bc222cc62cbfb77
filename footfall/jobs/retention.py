"""Retention: delete raw events older than ``FOOTFALL_RETENTION_DAYS`` (0 keeps them), or
older than a site's own ``retention_days`` when its settings give one.

While no site has its own setting, one pass deletes every site's old events at once (the
cheap, usual case). Once any site has one, each site is handled on its own with its own
cutoff, so a site that keeps events longer than the instance default loses none early.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import Metadata
from footfall.store.base import EventStore


def site_retention(meta: Metadata) -> dict[str, int | None]:
    """Every site's own retention in days, or None where the instance setting applies."""
    own = SitePrefs(meta).retention_overrides()
    return {site.id: own.get(site.id) for site in meta.list_sites()}


def run_retention(
    store: EventStore,
    retention_days: int,
    now: datetime | None = None,
    site_days: Mapping[str, int | None] | None = None,
) -> dict[str, Any]:
    """Delete what retention allows; ``site_days`` maps site ids to their own days (None:
    the instance's ``retention_days``). Returns what was deleted, for the job's log/API."""
    now = now or datetime.now(UTC)
    own = {site: days for site, days in (site_days or {}).items() if days is not None}
    if not own:
        if retention_days <= 0:
            return {
                "deleted": 0,
                "note": "retention disabled (FOOTFALL_RETENTION_DAYS=0 keeps all)",
            }
        cutoff = now - timedelta(days=retention_days)
        return {"deleted": store.delete_events_before(cutoff), "cutoff": cutoff.isoformat()}
    per_site: dict[str, int] = {}
    for site in site_days or {}:
        days = own.get(site, retention_days)
        if days > 0:
            per_site[site] = store.delete_events_before(now - timedelta(days=days), site_id=site)
    return {"deleted": sum(per_site.values()), "sites": per_site}
