"""Retention: delete raw events older than ``FOOTFALL_RETENTION_DAYS`` (0 keeps them), or
older than a site's own ``retention_days`` when its settings give one; and, per site,
visits and rollups older than that site's own ``sessions_days`` / ``rollups_days``
(footfall/meta/rights.py).

While no site has its own setting, one pass deletes every site's old events at once (the
cheap, usual case). Once any site has one, each site is handled on its own with its own
cutoffs, so a site that keeps events longer than the instance default loses none early.
Visits go with their raw events unless the site keeps them for a time of their own;
rollups are kept for ever unless the site sets ``rollups_days``. Every delete runs in
batches (a day at a time on DuckDB), so a first run on a big store holds no huge undo log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import Metadata
from footfall.meta.rights import Retention, RightsPrefs
from footfall.store.base import EventStore


def site_retention(meta: Metadata) -> dict[str, int | None]:
    """Every site's own retention in days, or None where the instance setting applies."""
    own = SitePrefs(meta).retention_overrides()
    return {site.id: own.get(site.id) for site in meta.list_sites()}


def table_retention(meta: Metadata) -> dict[str, tuple[Retention, str]]:
    """Sites that keep visits or rollups for a time of their own: (that, time zone)."""
    prefs = RightsPrefs(meta)
    out = {}
    for site in meta.list_sites():
        own = prefs.retention(site.id)
        if own.sessions_days is not None or own.rollups_days is not None:
            out[site.id] = (own, site.timezone)
    return out


def run_retention(
    store: EventStore,
    retention_days: int,
    now: datetime | None = None,
    site_days: Mapping[str, int | None] | None = None,
    tables: Mapping[str, tuple[Retention, str]] | None = None,
) -> dict[str, Any]:
    """Delete what retention allows; ``site_days`` maps site ids to their own days (None:
    the instance's ``retention_days``), ``tables`` the sites keeping visits or rollups for
    a time of their own. Returns what was deleted, for the job's log/API."""
    now = now or datetime.now(UTC)
    own = {site: days for site, days in (site_days or {}).items() if days is not None}
    tables = tables or {}
    if not own and not tables:
        if retention_days <= 0:
            return {
                "deleted": 0,
                "note": "retention disabled (FOOTFALL_RETENTION_DAYS=0 keeps all)",
            }
        cutoff = now - timedelta(days=retention_days)
        return {"deleted": store.delete_events_before(cutoff), "cutoff": cutoff.isoformat()}
    per_site: dict[str, int] = {}
    visits: dict[str, int] = {}
    rollups: dict[str, int] = {}
    for site in {*(site_days or {}), *tables}:
        days = own.get(site, retention_days)
        kept, zone = tables.get(site, (Retention(site), "UTC"))
        if days > 0:
            cutoff = now - timedelta(days=days)
            per_site[site] = store.delete_events_before(
                cutoff, site_id=site, with_sessions=kept.sessions_days is None
            )
        if kept.sessions_days is not None:
            cutoff = now - timedelta(days=kept.sessions_days)
            visits[site] = store.delete_sessions_before(cutoff, site)
        if kept.rollups_days is not None and store.capabilities.rollups:
            day = (now.astimezone(ZoneInfo(zone)) - timedelta(days=kept.rollups_days)).date()
            rollups[site] = store.delete_rollups_before(day, site)
    result: dict[str, Any] = {"deleted": sum(per_site.values()), "sites": per_site}
    if visits:
        result["sessions"] = visits
    if rollups:
        result["rollup_rows"] = rollups
    return result
