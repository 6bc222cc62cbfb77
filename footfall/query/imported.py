"""Imported aggregates in query answers: Plausible's ``include.imports``.

A query with ``"include": {"imports": true}`` adds the site's imported daily aggregates
(``imported_stats``, see :mod:`footfall.store.imported`) to the collected numbers, as
Plausible adds its imported tables: the imported visitors, visits, pageviews, events,
bounces and visit durations of the period's days are summed into the same rows before the
metrics are finished (``footfall/query/metrics.py``), so bounce rate, visit duration and
views per visit are computed once over both. As in Plausible, visitors of different days
(and of imported and collected data) are added, not de-duplicated.

Imports are included only where Plausible can include them: no filters, at most one
dimension besides time, one that an export has (:data:`DIMENSIONS`), time buckets of a
day or longer, and these metrics (:data:`METRICS`). Otherwise the answer says so in
``meta.imports_included`` (false) and ``meta.imports_skip_reason``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from footfall.query.builder import Scope
from footfall.query.dimensions import dimension
from footfall.query.model import Query
from footfall.query.timebuckets import label
from footfall.store.base import EventStore

# query dimension -> (export kind, column)
DIMENSIONS: dict[str, tuple[str, str]] = {
    "event:page": ("pages", "page"),
    "event:hostname": ("pages", "hostname"),
    "visit:entry_page": ("entry_pages", "entry_page"),
    "visit:exit_page": ("exit_pages", "exit_page"),
    "visit:source": ("sources", "source"),
    "visit:referrer": ("sources", "referrer"),
    **{f"visit:utm_{u}": ("sources", f"utm_{u}")
       for u in ("source", "medium", "campaign", "content", "term")},
    "visit:device": ("devices", "device"),
    "visit:browser": ("browsers", "browser"),
    "visit:browser_version": ("browsers", "browser_version"),
    "visit:os": ("operating_systems", "os"),
    "visit:os_version": ("operating_systems", "os_version"),
    "visit:country": ("locations", "country"),
    "visit:region": ("locations", "region"),
    "event:name": ("custom_events", "name"),
}  # fmt: skip
METRICS = frozenset(
    {"visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration",
     "views_per_visit"}
)  # fmt: skip
TIME_UNITS = frozenset({"time", "time:day", "time:week", "time:month"})
# The runner's aggregate aliases and the imported sums that add to them.
SUMS = ("visitors", "pageviews", "events", "visits", "bounces", "visit_duration")


def skip_reason(q: Query, unit: str | None) -> str | None:
    """None when imports can be added to ``q``'s answer, else Plausible's reason."""
    if q.filters:
        return "unsupported_query"
    # Any time dimension is an interval (time:hour and time:minute too): Plausible says
    # unsupported_interval for those, not unsupported_query.
    plain = [d for d in q.dimensions if d != "time" and not d.startswith("time:")]
    if len(plain) > 1 or any(d not in DIMENSIONS for d in plain):
        return "unsupported_query"
    if len(plain) < len(q.dimensions) and unit not in (None, "day", "week", "month"):
        return "unsupported_interval"
    if not set(q.metrics) <= METRICS:
        return "unsupported_query"
    return None


def meta(store: EventStore, q: Query, scope: Scope) -> dict[str, Any]:
    """What the answer's ``meta`` says about imports (Plausible's keys): included when the
    query could take them and the site has imported days in the period (the dashboard
    marks its figures then)."""
    reason = skip_reason(q, scope.unit)
    if reason is not None:
        return {"imports_included": False, "imports_skip_reason": reason}
    first, last = _local_days(scope)
    found = store.query(
        "SELECT count(*) FROM imported_stats WHERE site_id = ? AND date BETWEEN ? AND ?",
        [scope.site_id, first, last],
    )
    return {"imports_included": bool(found and found[0][0])}


def _bucket(unit: str, day: date) -> str:
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    return label(unit, day)


def _local_days(scope: Scope) -> tuple[date, date]:
    def local(ts: datetime) -> date:
        return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(scope.zone).date()

    return local(scope.start), local(scope.end - timedelta(microseconds=1))


def add(
    store: EventStore, scope: Scope, dims: tuple[str, ...], out: dict[tuple[str, ...], Any]
) -> None:
    """Add the imported sums of the period to the runner's values ``out`` (by row key)."""
    plain = [d for d in dims if d not in TIME_UNITS]
    kind, column = DIMENSIONS[plain[0]] if plain else ("visitors", "")
    first, last = _local_days(scope)
    timed = len(plain) < len(dims)
    select = ["date" if timed else "NULL", column or "NULL"]
    events = "pageviews" if kind == "visitors" else "events"  # Plausible: events = pageviews
    sums = ", ".join(f"sum({events if s == 'events' else s})" for s in SUMS)
    group = ", ".join(c for c, on in (("date", timed), (column, bool(column))) if on)
    sql = (
        f"SELECT {select[0]} AS d, {select[1]} AS v, {sums} FROM imported_stats "
        "WHERE site_id = ? AND kind = ? AND date BETWEEN ? AND ?"
        + (f" GROUP BY {group}" if group else "")
    )
    event_level = any(dimension(d).event_level for d in plain)
    visits_alias = "events.visits_e" if event_level else "sessions.visits"
    for row in store.query(sql, [scope.site_id, kind, first, last]):
        day, value, visitors, pageviews, n_events, visits, bounces, duration = row
        if not visitors and not visits and not n_events and not pageviews:
            continue
        key = tuple(
            _bucket(scope.unit or "day", day) if d in TIME_UNITS else dimension(d).label(value)
            for d in dims
        )
        v = out.setdefault(key, {})
        for alias, n in (("events.visitors", visitors), ("events.pageviews", pageviews),
                         ("events.events", n_events), (visits_alias, visits),
                         ("sessions.bounces", bounces),
                         ("sessions.duration_ms", int(duration or 0) * 1000)):  # fmt: skip
            v[alias] = int(v.get(alias) or 0) + int(n or 0)
