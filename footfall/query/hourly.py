"""Answers from a store's exact hourly rollups (``Capabilities.hourly_rollups``; the
ClickHouse store keeps ``visitor_hours``, footfall/store/clickhouse/rollups.py fills it).

Why hours: the daily rollups are by UTC day (their view knows no site's zone), so a
site-local day of a zone east or west of UTC straddles two of them and a time series by
local day read raw events, a ``uniqExact`` per day over every event of the range. A row
per site, UTC hour and visitor (with its pageview and event counts) lies whole inside
one local day whenever the zone's offsets are whole hours and its transitions fall on
whole hours (every zone a dashboard is likely to use: Europe/Berlin, America/New_York,
...): the bucket of the hour is the bucket of each of its events, so a distinct count of
those rows per bucket is the raw answer, exactly, over about a third of the rows.

Answered here: visitors, pageviews and events, unfiltered, grouped by time in hours,
days, weeks or months, over a range of whole hours. Anything else (a half-hour zone such
as Asia/Kolkata, a filter, another metric or dimension) goes to the daily rollups or raw
events. The days listed in ``rollup_dirty`` (a re-stamp or a retention cut made their
rows stale) are read from raw events, as in daily.py.
"""

from __future__ import annotations

from datetime import datetime

from footfall.query.builder import Scope, Statement
from footfall.query.dimensions import TIME_UNITS
from footfall.query.model import Filter
from footfall.query.rollup import ALIASES, DAILY_VERSION
from footfall.query.timebuckets import bucket_sql, offsets
from footfall.store.base import EventStore

UNITS = frozenset({"hour", "day", "week", "month"})  # buckets made of whole hours
# Per rollup row or raw event: its visitor and its pageview and event counts.
_RAW = ("visitor_id, toUInt64(name = 'pageview') AS pageviews, "
        "toUInt64(name <> 'engagement') AS events")  # fmt: skip
_MERGE = {"visitors": "uniqExact(visitor_id)", "pageviews": "sum(pageviews)",
          "events": "sum(events)"}  # fmt: skip


def _whole_hours(at: datetime) -> bool:
    return at.minute == 0 and at.second == 0 and at.microsecond == 0


def aligned(scope: Scope) -> bool:
    """True when every UTC hour of the range lies in one bucket of the site's zone: the
    range starts and ends on whole hours, and each offset in force and each change of
    offset is a whole number of hours."""
    if not (_whole_hours(scope.start) and _whole_hours(scope.end)):
        return False
    spans = offsets(scope.zone, scope.start, scope.end)
    return all(off % 3600 == 0 and _whole_hours(at) for at, off in spans)


def statement(
    store: EventStore,
    scope: Scope,
    aliases: list[str],
    dims: tuple[str, ...],
    filters: tuple[Filter, ...],
) -> Statement | None:
    """The statement on ``visitor_hours`` equal to ``builder.aggregate`` on events, or
    None when it cannot answer exactly (or the store keeps no hourly rollups yet)."""
    if not store.capabilities.hourly_rollups or filters:
        return None
    # Time series only: a range's totals are cheaper from the visitors' first days (daily.py).
    if not aliases or not set(aliases) <= ALIASES or len(dims) != 1:
        return None
    unit = scope.unit or "day"
    if (dims[0] != "time" and dims[0] not in TIME_UNITS) or unit not in UNITS:
        return None
    if scope.start >= scope.end or not aligned(scope):
        return None
    if store.rollup_state(scope.site_id) != ("UTC", DAILY_VERSION):
        return None
    site = scope.site_id
    # The whole range from the rollups but the dirty days, and those days from raw
    # events; both as (t, visitor_id, pageviews, events), t the hour or the event's time.
    inner = (
        "SELECT toDateTime64(hour, 3, 'UTC') AS t, visitor_id, pageviews, events "
        "FROM visitor_hours WHERE site_id = ? AND hour >= ? AND hour < ? "
        "AND day NOT IN (SELECT day FROM rollup_dirty WHERE site_id = ?) "
        f"UNION ALL SELECT ts AS t, {_RAW} FROM events WHERE site_id = ? AND ts >= ? "
        "AND ts < ? AND toDate(ts) IN (SELECT toDate(day) FROM rollup_dirty WHERE site_id = ?)"
    )
    params: list[object] = [site, scope.start, scope.end, site, site, scope.start, scope.end, site]
    measures = ", ".join(f"{_MERGE[a]} AS {a}" for a in aliases)
    # The same bucket expression as the raw statement (builder.dim_sql), on ``t``.
    key, kparams = bucket_sql(unit, "t", scope.zone, scope.start, scope.end, scope.dialect)
    # ``final = 0``: rows of one key not yet merged repeat a visitor or split a sum only.
    sql = f"SELECT {key} AS d0, {measures} FROM ({inner}) GROUP BY d0 SETTINGS final = 0"
    return Statement(sql, [*kparams, *params], tuple(aliases))
