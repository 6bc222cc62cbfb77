"""What the dashboard does to sites beyond metadata edits: the snippet to paste, the
"verify installation" check, the live visitor count, and deleting a site with its data.

The live count comes from the query layer (``realtime_5m``: distinct visitors with an
event in the last 5 minutes), like every other figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from footfall.meta.repo import SiteInfo
from footfall.query.model import parse_query
from footfall.runtime import Services


@dataclass(frozen=True, slots=True)
class Installation:
    """Whether events have arrived for a site, how many, and when the last one did."""

    events: int
    last_event: datetime | None

    @property
    def ok(self) -> bool:
        return self.events > 0


def snippet(origin: str, key: str | None) -> str:
    """The script tag to paste into a site's pages (the key is only known when just made)."""
    value = key or "YOUR_INGEST_KEY"
    return (f'<script defer src="{escape(origin)}/js/footfall.js" '
            f'data-site="{escape(value)}"></script>')  # fmt: skip


def verify_installation(svc: Services, site: SiteInfo) -> Installation:
    rows = svc.store.query("SELECT count(*), max(ts) FROM events WHERE site_id = ?", [site.id])
    count, last = rows[0] if rows else (0, None)
    return Installation(int(count or 0), last.replace(tzinfo=UTC) if last else None)


def current_visitors(svc: Services, site: SiteInfo) -> int:
    """Distinct visitors with an event in the last 5 minutes (docs/design.md "current visitors")."""
    query = parse_query({"site_id": site.id, "metrics": ["visitors"], "date_range": "realtime_5m"})
    result: dict[str, Any] = svc.runner.run(query, site)
    rows = result["results"]
    return int(rows[0]["metrics"][0]) if rows else 0


def property_keys(svc: Services, site: SiteInfo, event: str, limit: int = 50) -> list[str]:
    """The property names an event has carried (to offer a breakdown by each); the
    breakdown's figures themselves come from the query layer."""
    rows = svc.store.query(
        f"SELECT k FROM (SELECT {svc.runner.dialect.map_keys_rows('props')} AS k FROM events "
        "WHERE site_id = ? AND name = ?) GROUP BY k ORDER BY count(*) DESC, k LIMIT ?",
        [site.id, event, limit],
    )
    return [str(r[0]) for r in rows]


def delete_site(svc: Services, site: SiteInfo) -> int:
    """Delete the site's metadata (so its key stops working), let the writer drain what
    was already accepted, then delete every stored row of it; returns events deleted."""
    svc.meta.delete_site(site.id)
    svc.sites.invalidate()
    svc.writer.wait_idle(15)
    return svc.store.delete_site_data(site.id)
