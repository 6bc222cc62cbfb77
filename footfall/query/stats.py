"""The seed API's summary: totals and top paths of one site over one period.

Built from ``metrics.METRICS`` so the numbers are those of every other report. Filter
values and bounds are always bound parameters.
"""

from __future__ import annotations

from typing import Any

from footfall.query.metrics import METRICS, Source, views_per_visit
from footfall.query.period import Period
from footfall.store.base import EventStore

SUMMARY = ("visitors", "visits", "pageviews", "bounce_rate", "visit_duration")


def _aggregate(
    store: EventStore, source: Source, names: list[str], site_id: str, p: Period
) -> dict[str, Any]:
    aggs: dict[str, str] = {}
    for name in names:
        aggs.update(METRICS[name].aggregates)
    select = ", ".join(f"{sql} AS {alias}" for alias, sql in aggs.items())
    ts = "ts" if source == "events" else "start_ts"
    rows = store.query(
        f"SELECT {select} FROM {source} WHERE site_id = ? AND {ts} >= ? AND {ts} < ?",
        [site_id, p.start_utc, p.end_utc],
    )
    values = dict(zip(aggs, rows[0], strict=True))
    return {name: METRICS[name].finish(values) for name in names}


def summary(store: EventStore, site_id: str, p: Period, top: int = 10) -> dict[str, Any]:
    by_source: dict[Source, list[str]] = {"events": [], "sessions": []}
    for name in SUMMARY:
        by_source[METRICS[name].source].append(name)
    out: dict[str, Any] = {}
    for source, names in by_source.items():
        out.update(_aggregate(store, source, names, site_id, p))
    out["views_per_visit"] = views_per_visit(out["pageviews"], out["visits"])
    out["top_paths"] = [
        {"path": path, "views": int(views)}
        for path, views in store.query(
            "SELECT pathname, count(*) AS views FROM events WHERE site_id = ? AND ts >= ? "
            "AND ts < ? AND name = 'pageview' GROUP BY pathname ORDER BY views DESC, pathname "
            "LIMIT ?",
            [site_id, p.start_utc, p.end_utc, top],
        )
    ]
    return out
