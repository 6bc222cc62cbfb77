"""What a report says: the figures of one site for one period, through the query layer.

Every number is what ``POST /api/v2/query`` answers for the same body (the same
``QueryRunner``, the site's goals attached the same way), so a mail never disagrees with
the dashboard or the API. A weekly report covers the last complete Monday-to-Sunday week
in the site's time zone; a monthly one the last complete calendar month; each is compared
with the period before it (``compare: previous_period``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import Metadata, SiteInfo
from footfall.query.goals import attach, uses_goals
from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner

TOP = 10
# (metric, label) of the top stats, in the order shown.
STATS = (
    ("visitors", "Unique visitors"),
    ("visits", "Total visits"),
    ("pageviews", "Total pageviews"),
    ("bounce_rate", "Bounce rate"),
    ("visit_duration", "Visit duration"),
)


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    kind: str  # "weekly" or "monthly"
    first: date
    last: date

    @property
    def label(self) -> str:
        """Names the period once: the scheduler sends each label once per recipient."""
        if self.kind == "monthly":
            return self.first.strftime("%Y-%m")
        year, week, _ = self.first.isocalendar()
        return f"{year}-W{week:02d}"

    @classmethod
    def last_complete(cls, kind: str, today: date) -> ReportPeriod:
        if kind == "monthly":
            last = today.replace(day=1) - timedelta(days=1)
            return cls(kind, last.replace(day=1), last)
        monday = today - timedelta(days=today.weekday())
        return cls("weekly", monday - timedelta(days=7), monday - timedelta(days=1))


@dataclass(slots=True)
class Stat:
    metric: str
    label: str
    value: float | int | None
    previous: float | int | None
    change: float | None  # percent, as the API gives it

    @property
    def shown(self) -> str:
        return show(self.metric, self.value)


@dataclass(slots=True)
class Report:
    site: SiteInfo
    period: ReportPeriod
    stats: list[Stat] = field(default_factory=list)
    pages: list[tuple[str, int, int]] = field(default_factory=list)  # page, visitors, views
    sources: list[tuple[str, int]] = field(default_factory=list)
    goals: list[tuple[str, int, float]] = field(default_factory=list)  # goal, visitors, CR %


def show(metric: str, value: float | int | None) -> str:
    """A figure as people read it: 1,234 · 45.2% · 2m 05s."""
    if value is None:
        return "-"
    if metric in ("bounce_rate", "conversion_rate"):
        return f"{value:g}%"
    if metric == "visit_duration":
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
    return f"{int(value):,}"


def run(
    runner: QueryRunner, meta: Metadata, site: SiteInfo, body: dict[str, Any]
) -> dict[str, Any]:
    """One v2 query body for the site, answered as ``/api/v2/query`` answers it."""
    query = parse_query({"site_id": site.id, **body})
    if uses_goals(query):
        query = attach(query, SitePrefs(meta).goals(site.id))
    return runner.run(query, site)


def gather(runner: QueryRunner, meta: Metadata, site: SiteInfo, period: ReportPeriod) -> Report:
    span = [period.first.isoformat(), period.last.isoformat()]
    report = Report(site, period)
    metrics = [m for m, _ in STATS]
    top = run(runner, meta, site, {"metrics": metrics, "date_range": span,
                                   "compare": "previous_period"})  # fmt: skip
    row = top["results"][0] if top["results"] else None
    for i, (metric, label) in enumerate(STATS):
        value = row["metrics"][i] if row else None
        comparison = (row or {}).get("comparison") or {}
        previous = comparison["metrics"][i] if comparison else None
        change = comparison["change"][i] if comparison else None
        report.stats.append(Stat(metric, label, value, previous, change))
    pages = run(runner, meta, site, {
        "metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "date_range": span,
        "order_by": [["visitors", "desc"]], "pagination": {"limit": TOP}})  # fmt: skip
    report.pages = [(r["dimensions"][0], *r["metrics"]) for r in pages["results"]]
    sources = run(runner, meta, site, {
        "metrics": ["visitors"], "dimensions": ["visit:source"], "date_range": span,
        "order_by": [["visitors", "desc"]], "pagination": {"limit": TOP}})  # fmt: skip
    report.sources = [(r["dimensions"][0], r["metrics"][0]) for r in sources["results"]]
    if SitePrefs(meta).goals(site.id):
        goals = run(runner, meta, site, {
            "metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal"],
            "date_range": span, "order_by": [["visitors", "desc"]]})  # fmt: skip
        report.goals = [(r["dimensions"][0], *r["metrics"]) for r in goals["results"]]
    return report


def pageviews_between(
    runner: QueryRunner, meta: Metadata, site: SiteInfo, start: datetime, end: datetime
) -> int:
    """Pageviews in [start, end) (aware, whole seconds), for the spike alert."""
    # A date-time range is inclusive to the second (footfall/query/period.py).
    span = [start.isoformat(), (end - timedelta(seconds=1)).isoformat()]
    found = run(runner, meta, site, {"metrics": ["pageviews"], "date_range": span})
    return int(found["results"][0]["metrics"][0] or 0) if found["results"] else 0
