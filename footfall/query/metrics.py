"""Metric definitions (DESIGN.md "Metric definitions"), each written once.

A metric is a set of exact SQL aggregates over one source table plus a Python function
that finishes them (ratios and rounding happen here, once, not in each dialect). Event
metrics read ``events`` rows whose ``ts`` is in the range; visit metrics read ``sessions``
whose first event (``start_ts``) is in the range, because a visit belongs to the period of
its first event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

Source = Literal["events", "sessions"]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    source: Source
    aggregates: Mapping[str, str]  # alias -> SQL aggregate over the source table
    finish: Callable[[Mapping[str, Any]], Any]


def ratio(num: Any, den: Any, places: int) -> float:
    """num/den rounded half-up to ``places`` decimals; 0 when there is nothing to divide."""
    if not den:
        return 0.0
    q = Decimal(1).scaleb(-places)
    return float((Decimal(int(num)) / Decimal(int(den))).quantize(q, rounding=ROUND_HALF_UP))


def _count(alias: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda a: int(a[alias] or 0)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "pageviews",
            "events",
            {"pageviews": "count(*) FILTER (WHERE name = 'pageview')"},
            _count("pageviews"),
        ),
        Metric(
            "events",
            "events",
            {"events": "count(*) FILTER (WHERE name <> 'engagement')"},
            _count("events"),
        ),
        Metric(
            "visitors", "events", {"visitors": "count(DISTINCT visitor_id)"}, _count("visitors")
        ),
        Metric("visits", "sessions", {"visits": "count(*)"}, _count("visits")),
        Metric(
            "bounce_rate",
            "sessions",
            {
                "visits": "count(*)",
                # one pageview and no other interactive event (a pageview is interactive)
                "bounces": "count(*) FILTER (WHERE pageviews = 1 AND interactive_events = 1)",
            },
            lambda a: ratio(100 * int(a["bounces"] or 0), a["visits"], 1),
        ),
        Metric(
            "visit_duration",
            "sessions",
            {
                "visits": "count(*)",
                "duration_ms": "sum(date_diff('millisecond', start_ts, end_ts))",
            },
            lambda a: int(ratio(a["duration_ms"] or 0, 1000 * int(a["visits"] or 0), 0)),
        ),
    )
}

# views per visit spans both sources: pageviews (by event time) / visits (by first event).
VIEWS_PER_VISIT = ("pageviews", "visits")


def views_per_visit(pageviews: int, visits: int) -> float:
    return ratio(pageviews, visits, 2)
