"""Report presets: the seed systems' reports (summary, trends, top pages, breakdowns,
custom events, realtime, page performance) as v2 queries run by ``QueryRunner``.

No metric is computed here: each preset writes a Plausible-v2 query body, lets
``parse_query`` validate it (so filters and periods fail exactly as on /api/v2/query,
naming the field), runs it, and reshapes the rows for its endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from footfall.ingest.validate import FieldError
from footfall.meta.repo import SiteInfo
from footfall.query.dimensions import dimension
from footfall.query.goals import uses_goals
from footfall.query.model import NAMED_RANGES, Query, parse_query
from footfall.query.period import Period, parse_date
from footfall.query.runner import QueryRunner

PERIODS = (*(r for r in NAMED_RANGES if not r.startswith("realtime")), "custom")
INTERVALS = ("hour", "day", "week", "month")
TREND_METRICS = ("visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration",
                 "views_per_visit")  # fmt: skip
MAX_BUCKETS = 10_000

# The summary's names for the query layer's metrics (the seed API's vocabulary).
SUMMARY = {"total_views": "pageviews", "unique_visitors": "visitors", "sessions_count": "visits",
           "avg_session_duration": "visit_duration", "avg_pages_per_session": "views_per_visit",
           "bounce_rate": "bounce_rate"}  # fmt: skip

# ``?by=`` of each breakdown endpoint -> the query layer's dimension.
BREAKDOWNS: dict[str, dict[str, str]] = {
    "devices": {"device": "visit:device", "browser": "visit:browser", "os": "visit:os"},
    "sources": {
        "source": "visit:source", "referrer": "visit:referrer", "channel": "visit:channel",
        **{u: f"visit:{u}" for u in ("utm_source", "utm_medium", "utm_campaign", "utm_term",
                                     "utm_content")},
    },
    "countries": {"country": "visit:country", "region": "visit:region", "city": "visit:city"},
}  # fmt: skip
NOT_CUSTOM = ["is_not", "event:name", ["pageview", "engagement"]]


@dataclass(frozen=True, slots=True)
class Scope:
    """What every report of one request shares: the site, its period and its filters."""

    site: SiteInfo
    date_range: str | list[str]
    date: str | None = None  # reference "today" for named periods
    filters: list[Any] = field(default_factory=list)
    imports: bool = False  # add imported aggregates where they can be (include.imports)
    # What the answers said about imports: all included, or the first reason one was not.
    notes: dict[str, Any] = field(default_factory=dict)


def date_range(period: str, first: str | None, last: str | None) -> str | list[str]:
    """``period`` (+ ``from``/``to`` when custom) as a v2 ``date_range``."""
    if period not in PERIODS:
        raise FieldError("period", f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    if period != "custom":
        return period
    if not first or not last:
        raise FieldError("from" if not first else "to", "a custom period needs from and to")
    parse_date(first, "from")  # checked here to name the parameter the caller wrote
    parse_date(last, "to")
    return [first, last]


def query(s: Scope, **body: Any) -> Query:
    """One v2 query over the report scope, validated by ``parse_query``."""
    filters = [*body.pop("filters", []), *s.filters]
    raw: dict[str, Any] = {"site_id": s.site.id, "date_range": s.date_range, **body}
    raw.setdefault("metrics", ["visitors"])
    if filters:
        raw["filters"] = filters
    if s.date:
        raw["date"] = s.date
    if s.imports:
        raw["include"] = {**raw.get("include", {}), "imports": True}
    q = parse_query(raw)
    if uses_goals(q):  # these reports read no site settings (funnels name their goals)
        raise FieldError("filters", "event:goal is answered by POST /api/v2/query")
    return q


def period_of(runner: QueryRunner, s: Scope) -> Period:
    """The scope's period resolved in the site's zone (for reports that read rows)."""
    return runner.resolve(query(s), s.site)


def run(runner: QueryRunner, s: Scope, **body: Any) -> dict[str, Any]:
    result = runner.run(query(s, **body), s.site)
    if s.imports:
        meta, notes = result["meta"], s.notes
        included = bool(meta.get("imports_included")) and notes.get("imports_included", True)
        notes["imports_included"] = included
        if "imports_skip_reason" in meta:
            notes.setdefault("imports_skip_reason", meta["imports_skip_reason"])
    return result


def _named(result: dict[str, Any], names: list[str]) -> list[dict[str, Any]]:
    """Rows as objects: ``names`` = the query's dimension keys then its metric keys."""
    return [
        dict(zip(names, r["dimensions"] + r["metrics"], strict=True)) for r in result["results"]
    ]


def summary(runner: QueryRunner, s: Scope) -> dict[str, Any]:
    """Top stats with period-over-period change (null when the previous value is 0)."""
    metrics = list(SUMMARY.values())
    result = run(runner, s, metrics=metrics, compare="previous_period", include={"totals": True})
    totals = result["meta"]["totals"]
    out: dict[str, Any] = {k: totals["metrics"][m] for k, m in SUMMARY.items()}
    out.update({f"change_{k}": totals["change"][m] for k, m in SUMMARY.items()})
    out["comparison"] = {k: totals["comparison"][m] for k, m in SUMMARY.items()}
    out["period"] = result["meta"]["period"]
    out["comparison_period"] = result["meta"]["comparison_period"]
    return out


def trends(runner: QueryRunner, s: Scope, interval: str, metrics: list[str]) -> dict[str, Any]:
    """Every bucket of the period, zero-filled, with ``metrics``."""
    if interval not in INTERVALS:
        raise FieldError("interval", f"use one of {', '.join(INTERVALS)}")
    for m in metrics:
        if m not in TREND_METRICS:
            raise FieldError("metrics", f"unknown metric {m!r}; use {', '.join(TREND_METRICS)}")
    result = run(runner, s, metrics=metrics, dimensions=[f"time:{interval}"],
                 include={"time_labels": True}, limit=MAX_BUCKETS)  # fmt: skip
    buckets = result["meta"]["time_labels"]
    if len(buckets) > MAX_BUCKETS:
        raise FieldError("interval", f"more than {MAX_BUCKETS} buckets; use a longer interval")
    found = {r["dimensions"][0]: r["metrics"] for r in result["results"]}
    zero = [0] * len(metrics)
    series = [{"date": b, **dict(zip(metrics, found.get(b, zero), strict=True))} for b in buckets]
    return {"interval": interval, "period": result["meta"]["period"], "series": series}


def pages(runner: QueryRunner, s: Scope, kind: str, limit: int) -> list[dict[str, Any]]:
    """Top pages (pageviews, visitors, entries, exits), or entry / exit pages."""
    if kind == "all":
        metrics = ["pageviews", "visitors", "entries", "exits"]
        result = run(runner, s, metrics=metrics, dimensions=["event:page"], limit=limit)
        # Rows come by pageviews, most first: the paths only custom events carried (no
        # page anyone viewed) are at the end, and dropping them never drops a page.
        return [r for r in _named(result, ["path", *metrics]) if r["pageviews"]]
    if kind not in ("entry", "exit"):
        raise FieldError("kind", "use all, entry or exit")
    metric = "entries" if kind == "entry" else "exits"
    # A visit of custom events only has no entry or exit page: it is not a "(none)" page.
    none = dimension("event:page").empty_label
    result = run(runner, s, metrics=[metric], dimensions=["event:page"],
                 filters=[["is_not", "event:page", [none]]], limit=limit)  # fmt: skip
    return [r for r in _named(result, ["path", metric]) if r[metric]]


def breakdown(
    runner: QueryRunner, s: Scope, report: str, by: str, limit: int
) -> list[dict[str, Any]]:
    """Visitors and percentage per value of one visit dimension."""
    dims = BREAKDOWNS[report]
    if by not in dims:
        raise FieldError("by", f"use one of {', '.join(dims)}")
    result = run(runner, s, metrics=["visitors", "visits", "percentage"],
                 dimensions=[dims[by]], limit=limit)  # fmt: skip
    return _named(result, ["name", "visitors", "visits", "percentage"])


def custom_events(
    runner: QueryRunner, s: Scope, name: str | None, prop: str | None, limit: int
) -> list[dict[str, Any]]:
    """Top custom events, or one event's breakdown by one of its properties."""
    metrics = ["visitors", "events", "percentage"]
    if prop is not None and name is None:
        raise FieldError("property", "a property breakdown needs name=<event>")
    if name is None:
        result = run(runner, s, metrics=metrics, dimensions=["event:name"],
                     filters=[NOT_CUSTOM], limit=limit)  # fmt: skip
        return _named(result, ["name", *metrics])
    flt = [["is", "event:name", [name]]]
    if prop is None:
        result = run(runner, s, metrics=metrics, dimensions=["event:name"], filters=flt)
        return _named(result, ["name", *metrics])
    try:
        result = run(runner, s, metrics=metrics, dimensions=[f"event:props:{prop}"],
                     filters=flt, limit=limit)  # fmt: skip
    except FieldError as exc:
        raise FieldError("property", exc.message) from None
    return _named(result, ["value", *metrics])


def realtime(runner: QueryRunner, site: SiteInfo, limit: int) -> dict[str, Any]:
    """Current visitors and their pages: events in the last 5 minutes."""
    s = Scope(site, "realtime_5m")
    total = run(runner, s, metrics=["visitors"])["results"]
    top = run(runner, s, metrics=["visitors"], dimensions=["event:page"], limit=limit)
    return {
        "current_visitors": total[0]["metrics"][0] if total else 0,
        "pages": _named(top, ["path", "visitors"]),
    }


def performance(runner: QueryRunner, s: Scope, limit: int) -> list[dict[str, Any]]:
    """Load-time percentiles per page, over the pageviews that carry a load time."""
    metrics = ["load_time_pageviews", "load_time_p50", "load_time_p90", "load_time_p99"]
    result = run(runner, s, metrics=metrics, dimensions=["event:page"], limit=limit)
    return [r for r in _named(result, ["path", *metrics]) if r["load_time_pageviews"]]
