"""What the dashboard does to sites beyond metadata edits: the snippet to paste, the
"verify installation" check, the live visitor count, and deleting a site with its data.

"Verify installation" also says why events were dropped in the last hour: the request
path's reasons from the pipeline's in-memory counts (``ingest/recentdrops.py``), the
writer's (bots, referrer spam) from the store's ``dropped_events``, which counts them per
UTC hour of the event. What the store holds is asked through the store port
(``EventStore.site_activity``, ``property_keys``): no SQL is written here, so every
backend answers it alike.

The live count comes from :mod:`footfall.shared` (one process: the query layer's
``realtime_5m`` visitors; several servers: a set in Redis fed as events arrive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape

from footfall.meta.repo import SiteInfo
from footfall.runtime import Services

# Each reason a dropped event can have, as the settings page explains it.
DROP_REASONS = {
    "hostname": "the page's host is not among the site's domains",
    "bot": "the user agent is a bot, a command-line client or a headless browser "
    "(the server counts headless browsers with FOOTFALL_ALLOW_HEADLESS=1)",
    "referrer_spam": "the referrer is on the referrer-spam list",
    "dnt": "the browser sent Do-Not-Track or Global Privacy Control, which this site honours",
    "excluded_ip": "the visitor's IP address is in the site's excluded ranges",
    "excluded_path": "the page's path matches one of the site's excluded paths",
}


@dataclass(frozen=True, slots=True)
class Installation:
    """Whether events have arrived for a site, how many, and when the last one did; and
    what was dropped recently, by reason (see :data:`DROP_REASONS`)."""

    events: int
    last_event: datetime | None
    drops: dict[str, int] = field(default_factory=dict)
    foreign_host: str | None = None  # the latest page host dropped as not the site's
    drops_since: datetime | None = None  # the writer's counts start at this UTC hour

    @property
    def ok(self) -> bool:
        return self.events > 0

    def drop_lines(self) -> list[tuple[str, int, str]]:
        """``(reason, events, explanation)``, most events first."""
        ranked = sorted(self.drops.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(r, n, DROP_REASONS.get(r, r)) for r, n in ranked]


def snippet(origin: str, key: str | None) -> str:
    """The script tag to paste into a site's pages (the key is only known when just made)."""
    value = key or "YOUR_INGEST_KEY"
    return (f'<script defer src="{escape(origin)}/js/footfall.js" '
            f'data-site="{escape(value)}"></script>')  # fmt: skip


def verify_installation(svc: Services, site: SiteInfo) -> Installation:
    # The hours overlapping the last 60 minutes (the store counts whole hours).
    since = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    found = svc.store.site_activity(site.id, since.replace(tzinfo=None))
    drops = svc.pipeline.drops.last_hour(site.id)
    for reason, n in found.drops.items():
        drops[reason] = drops.get(reason, 0) + n
    host = svc.pipeline.drops.last_foreign_host(site.id) if "hostname" in drops else None
    last = found.last_event.replace(tzinfo=UTC) if found.last_event else None
    return Installation(found.events, last, drops, host, since)


def current_visitors(svc: Services, site: SiteInfo) -> int:
    """Distinct visitors with an event in the last 5 minutes (docs/design.md "current
    visitors"): from the store, or from Redis when servers share it (footfall/shared/)."""
    return svc.shared.live.count(site)


def property_keys(svc: Services, site: SiteInfo, event: str, limit: int = 50) -> list[str]:
    """The property names an event has carried (to offer a breakdown by each); the
    breakdown's figures themselves come from the query layer."""
    return svc.store.property_keys(site.id, event, limit)


def delete_site(svc: Services, site: SiteInfo) -> int:
    """Delete the site's metadata (so its key stops working), let the writer drain what
    was already accepted, then delete every stored row of it; returns events deleted."""
    svc.meta.delete_site(site.id)
    svc.sites.invalidate()
    svc.wait_stored(15)
    return svc.store.delete_site_data(site.id)
