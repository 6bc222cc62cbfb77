"""Imported aggregates in query answers: Plausible's ``include.imports``.

A query with ``"include": {"imports": true}`` adds the site's imported daily aggregates
(``imported_stats``, see :mod:`footfall.store.imported`) to the collected numbers, as
Plausible adds its imported tables: the imported visitors, visits, pageviews, events,
bounces and visit durations of the period's days are summed into the same rows before the
metrics are finished (``footfall/query/metrics.py``), so bounce rate, visit duration and
views per visit are computed once over both. As in Plausible, visitors of different days
(and of imported and collected data) are added, not de-duplicated.

Imports are included only where Plausible can include them: dimensions besides time that
one exported table has (:data:`DIMENSIONS`: city and country names together, say) or
``event:goal`` alone, filters the
one imported table read can answer (:mod:`footfall.query.imported_filters`), time buckets
of a day or longer, and these metrics (:data:`METRICS`). Otherwise the answer says so in
``meta.imports_included`` (false) and ``meta.imports_skip_reason``. As in Plausible, a
page row needs pageviews, a UTM breakdown has no row for an empty value, an entry or exit
page's visits are its entrances or exits, and the totals behind ``percentage`` and
``conversion_rate`` add the imported visitors.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from footfall.query.builder import Scope
from footfall.query.dimensions import dimension
from footfall.query.goals import GOAL
from footfall.query.imported_filters import Unsupported, keeps, kinds
from footfall.query.model import Condition, Filter, Query
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
    "visit:city": ("locations", "city"),  # a name too (docs/plausible-compat.md)
    "visit:country_name": ("locations", "country"),
    "visit:region_name": ("locations", "region"),  # kept by name, as collected
    "visit:city_name": ("locations", "city"),  # Footfall keeps a city by its name
    "event:name": ("custom_events", "name"),
}  # fmt: skip
METRICS = frozenset(
    {"visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration",
     "views_per_visit", "percentage", "conversion_rate"}
)  # fmt: skip
TIME_UNITS = frozenset({"time", "time:day", "time:week", "time:month"})
# The runner's aggregate aliases and the imported sums that add to them.
SUMS = ("visitors", "pageviews", "events", "visits", "bounces", "visit_duration", "exits",
        "entrances")  # fmt: skip


def skip_reason(q: Query, unit: str | None) -> str | None:
    """None when imports can be added to ``q``'s answer, else Plausible's reason."""
    # Any time dimension is an interval (time:hour and time:minute too): Plausible says
    # unsupported_interval for those, not unsupported_query.
    plain = [d for d in q.dimensions if d != "time" and not d.startswith("time:")]
    # Several dimensions only from one table (Plausible: city and country names together).
    if any(d not in DIMENSIONS and d != GOAL for d in plain):
        return "unsupported_query"
    if GOAL in plain and len(plain) > 1:
        return "unsupported_query"
    try:
        tables = kinds(DIMENSIONS, q.filters, q.goals or ())
    except Unsupported:
        return "unsupported_query"
    if GOAL in plain:  # one table per goal: goal filters only
        if not all(isinstance(f, Condition) and f.dim == GOAL for f in q.filters):
            return "unsupported_query"
        try:
            kinds(DIMENSIONS, [Condition("contains", GOAL, ("",))], q.goals or ())
        except Unsupported:
            return "unsupported_query"
    elif len(tables | {DIMENSIONS[d][0] for d in plain}) > 1:
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
    store: EventStore,
    scope: Scope,
    dims: tuple[str, ...],
    out: dict[tuple[str, ...], Any],
    filters: tuple[Filter, ...] = (),
) -> None:
    """Add the imported sums of the period to the runner's values ``out`` (by row key), of
    the rows that pass ``filters`` (a goal breakdown calls this once per goal)."""
    plain = [d for d in dims if d not in TIME_UNITS]
    named = kinds(DIMENSIONS, filters, scope.goals)
    kind = DIMENSIONS[plain[0]][0] if plain else min(named, default="visitors")
    columns = [DIMENSIONS[d][1] for d in plain]  # one table's (skip_reason)
    # A filter is tested on the row's columns: group by every column of the kind then.
    cols = sorted({c for k, c in DIMENSIONS.values() if k == kind}) if filters else []
    first, last = _local_days(scope)
    timed = len(plain) < len(dims)
    select = ["date" if timed else "NULL", *columns, *cols]
    # Plausible: a table other than custom events counts its pageviews as events.
    events = "events" if kind == "custom_events" else "pageviews"
    sums = ", ".join(f"sum({events if s == 'events' else s})" for s in SUMS)
    group = ", ".join(dict.fromkeys(["date"] * timed + columns + cols))
    sql = (
        f"SELECT {', '.join(select)}, {sums} FROM imported_stats "
        "WHERE site_id = ? AND kind = ? AND date BETWEEN ? AND ?"
        + (f" GROUP BY {group}" if group else "")
    )
    event_level = any(dimension(d).event_level for d in plain)
    visits_alias = "events.visits_e" if event_level else "sessions.visits"
    before = {a: v[a] for v in out.values() for a in TOTALS if a in v}
    added = 0
    for row in store.query(sql, [scope.site_id, kind, first, last]):
        day, *labels = row[: 1 + len(columns) + len(cols)]
        values, fvals = dict(zip(plain, labels, strict=False)), labels[len(columns) :]
        visitors, pageviews, n_events, visits, bounces, duration, exits, entrances = row[
            1 + len(columns) + len(cols) :
        ]
        passed = dict(zip(cols, fvals, strict=True))
        if filters and not all(keeps(DIMENSIONS, f, kind, passed, scope.goals) for f in filters):
            continue
        visits = {"exit_pages": exits, "entry_pages": entrances}.get(kind, visits)
        if not visitors and not visits and not n_events and not pageviews:
            continue
        if (kind == "pages" and not pageviews) or any(
            DIMENSIONS[d][1] in UNSET_SKIPPED and not values[d] for d in plain
        ):
            continue  # Plausible's imported pages need pageviews; these rows a value
        added += int(visitors or 0)
        key = tuple(
            _bucket(scope.unit or "day", day) if d in TIME_UNITS else dimension(d).label(values[d])
            for d in dims
        )
        v = out.setdefault(key, {})
        for alias, n in (("events.visitors", visitors), ("events.pageviews", pageviews),
                         ("events.events", n_events), (visits_alias, visits),
                         ("sessions.bounces", bounces),
                         ("sessions.duration_ms", int(duration or 0) * 1000)):  # fmt: skip
            v[alias] = int(v.get(alias) or 0) + int(n or 0)
    _add_totals(store, scope, out, filters, before, added, (first, last))


# Columns whose empty imported value Plausible leaves out of a breakdown (a city the
# GeoNames table lacks: footfall/imports/plausible/places.py).
UNSET_SKIPPED = frozenset({"city", "region", "utm_source", "utm_medium", "utm_campaign",
                           "utm_content", "utm_term"})  # fmt: skip

# The runner's totals behind percentage and conversion_rate, which imports add to.
TOTALS = ("total.visitors", "base_total.visitors")


def _add_totals(
    store: EventStore,
    scope: Scope,
    out: dict[tuple[str, ...], Any],
    filters: tuple[Filter, ...],
    before: dict[str, Any],
    added: int,
    days: tuple[date, date],
) -> None:
    """Imported visitors in the totals: the imported visitors table's for the unfiltered
    totals (and for a conversion rate's, which drops goal filters), else the rows kept."""
    if not before:
        return
    found = store.query(
        "SELECT sum(visitors) FROM imported_stats WHERE site_id = ? AND kind = 'visitors' "
        "AND date BETWEEN ? AND ?",
        [scope.site_id, *days],
    )
    everyone = int(found[0][0] or 0) if found else 0
    only_goals = all(isinstance(f, Condition) and f.dim == GOAL for f in filters)
    extra = {"total.visitors": everyone if not filters else added,
             "base_total.visitors": everyone if only_goals else added}  # fmt: skip
    for v in out.values():
        for alias, native in before.items():
            v[alias] = int(native or 0) + extra[alias]
