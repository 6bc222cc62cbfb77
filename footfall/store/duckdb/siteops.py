"""What the dashboard asks of one site's stored rows beyond reports, on DuckDB: whether
events arrive (how many, the newest) with the writer's drop counts of the last hours, and
the property names an event carries (footfall/dashboard/siteops.py shows both).

The ClickHouse twin is ``footfall/store/clickhouse/siteops.py``; the contract test
``tests/contract/test_siteops.py`` holds both to the same answers.
"""

from __future__ import annotations

from datetime import datetime

from footfall.store.base import QueryFn, SiteActivity


def site_activity(query: QueryFn, site_id: str, drops_since: datetime) -> SiteActivity:
    """Events stored for ``site_id``, the newest one's time (naive UTC, None without
    events) and the writer's drop counts of the UTC hours from ``drops_since`` on."""
    count, last = query("SELECT count(*), max(ts) FROM events WHERE site_id = ?", [site_id])[0]
    drops = query(
        "SELECT reason, sum(n) FROM dropped_events WHERE site_id = ? AND hour >= ? GROUP BY reason",
        [site_id, drops_since],
    )
    return SiteActivity(int(count or 0), last, {str(r): int(n) for r, n in drops if n})


def property_keys(query: QueryFn, site_id: str, event: str, limit: int) -> list[str]:
    """The property names events called ``event`` carried, most used first (ties by
    name), at most ``limit``."""
    rows = query(
        "SELECT k FROM (SELECT unnest(map_keys(props)) AS k FROM events "
        "WHERE site_id = ? AND name = ?) GROUP BY k ORDER BY count(*) DESC, k LIMIT ?",
        [site_id, event, limit],
    )
    return [str(r[0]) for r in rows]
