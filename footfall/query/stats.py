"""The seed API's summary: totals and top paths of one site over one period.

A thin use of ``QueryRunner`` so the numbers are exactly those of every other report.
"""

from __future__ import annotations

from typing import Any

from footfall.meta.repo import SiteInfo
from footfall.query.model import Query
from footfall.query.period import Period
from footfall.query.runner import QueryRunner

SUMMARY = ("visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit")


def summary(runner: QueryRunner, site: SiteInfo, p: Period, top: int = 10) -> dict[str, Any]:
    rng = (p.first.isoformat(), p.last.isoformat())
    totals = runner.run(Query(site.id, SUMMARY, (), (), rng, None, (), 1, 0), site)
    values = totals["results"][0]["metrics"] if totals["results"] else [0] * len(SUMMARY)
    out: dict[str, Any] = dict(zip(SUMMARY, values, strict=True))
    pages = runner.run(
        Query(site.id, ("pageviews",), ("event:page",), (), rng, None, (), top, 0), site
    )
    out["top_paths"] = [
        {"path": r["dimensions"][0], "views": r["metrics"][0]}
        for r in pages["results"]
        if r["metrics"][0]
    ]
    return out
