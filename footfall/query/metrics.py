"""Metric definitions (docs/design.md "Metric definitions"), each written once.

A metric names the exact SQL aggregates it needs from a source and a Python function that
finishes them (ratios and rounding happen here, once, not in each SQL dialect).

Sources: ``events`` rows whose ``ts`` is in the range; ``sessions`` whose first event
(``start_ts``) is in the range, because a visit belongs to the period of its first event;
``dropped`` counts of filtered events; and ``special`` metrics with their own query shape
(time on page, scroll depth, entries and exits), built in ``builder.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from footfall.query.dialects import Dialect


def ratio(num: Any, den: Any, places: int) -> float:
    """num/den rounded half-up to ``places`` decimals; 0 when there is nothing to divide."""
    if not den:
        return 0.0
    q = Decimal(1).scaleb(-places)
    return float((Decimal(int(num)) / Decimal(int(den))).quantize(q, rounding=ROUND_HALF_UP))


def money(total: Any, count: Any = 1) -> float:
    """``total / count`` in currency units, half-up to the cent; 0 when nothing to divide."""
    if total is None or not count:
        return 0.0
    cents = Decimal("0.01")
    return float((Decimal(str(total)) / int(count)).quantize(cents, rounding=ROUND_HALF_UP))


def money_value(total: Any, count: Any) -> float:
    """Plausible's average revenue, for /api/v2/query's money objects: ``total / count``
    at the amounts' three decimals, truncated (ClickHouse's Decimal(18, 3) division);
    Footfall's own figure is :func:`money`'s, to the cent. 0 when nothing to divide, as
    :func:`money` (so rows order the same)."""
    if total is None or not count:
        return 0.0
    q = (Decimal(str(total)) / int(count)).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    return float(q)


def percent_change(current: Any, previous: Any) -> float | None:
    """(current - previous) / previous x 100, one decimal; null when previous is 0."""
    if not previous or current is None:
        return None
    prev = Decimal(str(previous))
    change = (Decimal(str(current)) - prev) / prev * 100
    return float(change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# The columns of ``events`` that event_aggregates read (a statement that pre-selects the
# matching events keeps just these: builder.aggregate_pair): every aggregate reads the
# first three; load-time and revenue aggregates their own column too.
EVENT_AGGREGATE_COLUMNS = ("name", "visitor_id", "session_id")
_EXTRA_COLUMNS = {"load_": "load_time_ms", "revenue_": "revenue"}  # alias prefix -> column


def event_aggregate_columns(aliases: list[str]) -> list[str]:
    """The columns of ``events`` that the aggregates ``aliases`` read."""
    extra = [c for p, c in _EXTRA_COLUMNS.items() if any(a.startswith(p) for a in aliases)]
    return [*EVENT_AGGREGATE_COLUMNS, *extra]


def event_aggregates(d: Dialect) -> dict[str, str]:
    """Aggregates over matching events, by alias."""
    aggs = {
        "visitors": d.count_distinct("visitor_id"),
        "pageviews": "count(*) FILTER (WHERE name = 'pageview')",
        "events": "count(*) FILTER (WHERE name <> 'engagement')",
        "visits_e": d.count_distinct("session_id"),
    }
    aggs["revenue_sum"] = d.money_sum("revenue")
    aggs["revenue_n"] = "count(revenue)"
    aggs["load_n"] = "count(load_time_ms) FILTER (WHERE name = 'pageview')"
    for p in (50, 90, 99):
        aggs[f"load_p{p}"] = d.quantile("load_time_ms", p / 100, "name = 'pageview'")
    return aggs


_LAST = "greatest(coalesce(last_ts, end_ts), start_ts)"
# A bounced visit: one pageview and no other interactive event (a pageview is itself
# interactive).
BOUNCED = "pageviews = 1 AND interactive_events = 1"


def session_aggregates(d: Dialect) -> dict[str, str]:
    """Aggregates over matching visits, by alias."""
    return {
        "visits": "count(*)",
        "bounces": f"count(*) FILTER (WHERE {BOUNCED})",
        # to the last event that is not an engagement event (last_ts: 1970 when there is
        # none; NULL for visits stored before it was kept, which end at end_ts)
        "duration_ms": f"sum({d.millis_between('start_ts', _LAST)})",
    }


Values = Mapping[str, Any]


def _int(alias: str) -> Callable[[Values], Any]:
    return lambda v: int(v.get(alias) or 0)


def _ms(alias: str) -> Callable[[Values], Any]:
    return lambda v: None if v.get(alias) is None else round(float(v[alias]))


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    needs: tuple[str, ...]  # "source.alias" (or "total.alias" for the breakdown-wide value)
    finish: Callable[[Values], Any]


def _visits(v: Values) -> int:
    # By an event dimension, the visits with a matching event: the per-page sessions'
    # figures beside it are those of the visits that entered there (bounce rate's).
    return int(v.get("events.visits_e", v.get("sessions.visits")) or 0)


QUERY_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("visitors", ("events.visitors",), _int("events.visitors")),
        Metric("visits", ("visits",), _visits),
        Metric("pageviews", ("events.pageviews",), _int("events.pageviews")),
        Metric("events", ("events.events",), _int("events.events")),
        Metric(
            "views_per_visit",
            ("events.pageviews", "visits"),
            lambda v: ratio(v.get("events.pageviews") or 0, _visits(v), 2),
        ),
        Metric(
            "bounce_rate",
            ("sessions.visits", "sessions.bounces"),
            # Under a top-level event:page filter, over the visits that entered on the page
            # ("entered.*", footfall/query/runner.py), as Plausible defines it.
            lambda v: ratio(
                100 * int(v.get("entered.bounces", v.get("sessions.bounces")) or 0),
                v.get("entered.visits", v.get("sessions.visits")),
                1,
            ),
        ),
        Metric(
            "visit_duration",
            ("sessions.visits", "sessions.duration_ms"),
            lambda v: int(
                ratio(
                    v.get("sessions.duration_ms") or 0, 1000 * int(v.get("sessions.visits") or 0), 0
                )
            ),
        ),
        Metric(
            "total_revenue", ("events.revenue_sum",), lambda v: money(v.get("events.revenue_sum"))
        ),
        Metric(
            "average_revenue",
            ("events.revenue_sum", "events.revenue_n"),
            lambda v: money(v.get("events.revenue_sum"), v.get("events.revenue_n")),
        ),
        Metric("load_time_pageviews", ("events.load_n",), _int("events.load_n")),
        Metric("load_time_p50", ("events.load_p50",), _ms("events.load_p50")),
        Metric("load_time_p90", ("events.load_p90",), _ms("events.load_p90")),
        Metric("load_time_p99", ("events.load_p99",), _ms("events.load_p99")),
        Metric(
            "percentage",
            ("events.visitors", "total.visitors"),
            lambda v: ratio(100 * int(v.get("events.visitors") or 0), v.get("total.visitors"), 1),
        ),
        Metric(
            "conversion_rate",
            ("events.visitors", "base_total.visitors"),
            lambda v: ratio(
                100 * int(v.get("events.visitors") or 0), v.get("base_total.visitors"), 1
            ),
        ),
        Metric(
            "group_conversion_rate",
            ("events.visitors", "base.visitors"),
            lambda v: ratio(100 * int(v.get("events.visitors") or 0), v.get("base.visitors"), 1),
        ),
        Metric("bot_events", ("dropped.bots",), _int("dropped.bots")),
        Metric("time_on_page", ("special.time_on_page",), _int("special.time_on_page")),
        # null, not 0, where no pageview reported a scroll (Plausible's answer too)
        Metric("scroll_depth", ("special.scroll_depth",), _ms("special.scroll_depth")),
        Metric("entries", ("special.entries",), _int("special.entries")),
        Metric("exits", ("special.exits",), _int("special.exits")),
    )
}

# /api/v2/query's money objects (footfall/query/revenue.py) carry Plausible's value, which
# is not rounded to the cent; the runner finishes these instead when the query's include
# says ``money_value`` (set by the endpoint, never shown).
MONEY_VALUE: dict[str, Callable[[Values], Any]] = {
    "average_revenue": lambda v: money_value(v.get("events.revenue_sum"), v.get("events.revenue_n"))
}
