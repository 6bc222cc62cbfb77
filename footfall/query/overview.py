"""The all-sites overview: for each site, its visitors over a range, their day-by-day
series (the sparkline) and the change against the previous period of the same length.

One ``QueryRunner.answer`` per site (``visitors`` by ``time:day``, with totals compared
with the previous period), so each figure is the one the site's own dashboard shows for
that range, on either store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from footfall.ingest.validate import FieldError
from footfall.meta.repo import SiteInfo
from footfall.query.model import Query
from footfall.query.runner import QueryRunner

# The ranges the sites page offers: a day-by-day sparkline needs at least a few days.
RANGES = {"7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days"}
DEFAULT_RANGE = "30d"


@dataclass(frozen=True, slots=True)
class SiteTrend:
    """One site's line on the sites page."""

    site_id: str
    visitors: int
    previous: int
    change: float | None  # percent against the previous period; None when it had none
    days: tuple[str, ...]  # every day of the range, oldest first
    series: tuple[int, ...]  # visitors of each day (0 for a day without any)


def check_range(value: str | None) -> str:
    """The range asked (``7d``, ``30d`` or ``90d``), or FieldError naming ``period``."""
    if value is None or value == "":
        return DEFAULT_RANGE
    if value not in RANGES:
        raise FieldError("period", f"one of {', '.join(RANGES)}")
    return value


def trend(
    runner: QueryRunner, site: SiteInfo, date_range: str, now: datetime | None = None
) -> SiteTrend:
    """Visitors of ``site`` over ``date_range``, by day, compared with the period before."""
    q = Query(
        site.id,
        ("visitors",),
        ("time:day",),
        (),
        date_range,
        "previous_period",
        (),
        1000,
        0,
        include={"totals": True, "time_labels": True},
    )
    result = runner.answer(q, site, now)
    by_day = {row.dimensions[0]: int(row.metrics[0] or 0) for row in result.rows}
    days = tuple(result.time_labels or ())
    totals = result.totals or {}
    return SiteTrend(
        site.id,
        int(totals["metrics"]["visitors"] or 0),
        int(totals["comparison"]["visitors"] or 0),
        totals["change"]["visitors"],
        days,
        tuple(by_day.get(day, 0) for day in days),
    )


def trends(
    runner: QueryRunner, sites: list[SiteInfo], date_range: str, now: datetime | None = None
) -> dict[str, SiteTrend]:
    """Every site's trend, by site id."""
    return {s.id: trend(runner, s, date_range, now) for s in sites}


def sparkline(series: tuple[int, ...], width: int = 120, height: int = 28) -> str:
    """The SVG polyline points of ``series`` scaled into ``width`` x ``height`` (the top
    is the range's busiest day; a flat zero line sits on the bottom edge)."""
    if not series:
        return ""
    top = max(series) or 1
    step = width / max(len(series) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - v * (height - 2) / top - 1:.1f}" for i, v in enumerate(series)
    )
