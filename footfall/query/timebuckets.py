"""Time buckets in a site's time zone, as portable SQL.

Rather than asking each engine to convert time zones row by row, the UTC offsets in force
during the queried period are found in Python (zoneinfo) and the local time is written as
``ts + offset``, with a CASE at each DST transition. That is exact, cheap, and the same
SQL on DuckDB and ClickHouse.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from footfall.query.dialects import Dialect

UNITS = ("minute", "hour", "day", "week", "month")


def _offset(zone: ZoneInfo, at: datetime) -> int:
    off = at.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    return int(off.total_seconds()) if off else 0


def offsets(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(from_utc, offset_seconds)] covering [start, end); naive UTC datetimes."""
    spans = [(start, _offset(zone, start))]
    day = start
    while day < end:
        nxt = min(day + timedelta(days=1), end)
        if _offset(zone, nxt) != spans[-1][1]:
            lo, hi = day, nxt  # the transition lies in (lo, hi]: bisect to the second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if _offset(zone, mid) == spans[-1][1]:
                    lo = mid
                else:
                    hi = mid
            hi = hi.replace(microsecond=0)
            spans.append((hi, _offset(zone, hi)))
        day = nxt
    return spans


def local_time(
    column: str, zone: ZoneInfo, start: datetime, end: datetime, d: Dialect
) -> tuple[str, list[object]]:
    spans = offsets(zone, start, end)
    if len(spans) == 1:
        return d.add_seconds(column, spans[0][1]), []
    parts: list[str] = []
    params: list[object] = []
    for (_, off), (until, _) in itertools.pairwise(spans):
        parts.append(f"WHEN {column} < ? THEN {d.add_seconds(column, off)}")
        params.append(until)
    return f"CASE {' '.join(parts)} ELSE {d.add_seconds(column, spans[-1][1])} END", params


def local_day_number(
    column: str, zone: ZoneInfo, start: datetime, end: datetime, d: Dialect
) -> tuple[str, list[object]]:
    """The site-local day number (days since 1970-01-01) of a naive-UTC ``column`` whose
    values lie in [start, end)."""
    expr, params = local_time(column, zone, start, end, d)
    return d.day_number(expr), params


def bucket_sql(
    unit: str, column: str, zone: ZoneInfo, start: datetime, end: datetime, d: Dialect
) -> tuple[str, list[object]]:
    expr, params = local_time(column, zone, start, end, d)
    return d.trunc(unit, expr), params


def auto_unit(first: date, last: date) -> str:
    days = (last - first).days + 1
    return "hour" if days <= 1 else "day" if days <= 40 else "week" if days <= 180 else "month"


def label(unit: str, value: object) -> str:
    """The ISO label of a bucket value returned by the engine (a local datetime)."""
    if isinstance(value, datetime):
        if unit == "minute":
            return value.strftime("%Y-%m-%d %H:%M:00")
        return value.strftime("%Y-%m-%d %H:00:00") if unit == "hour" else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def range_label(unit: str, text: str, first: date) -> str:
    """A bucket's label within a period starting on ``first``: a week that began before
    the period is labelled with the period's first day (Plausible's label), so no label
    lies outside the range asked."""
    if unit == "week" and text < first.isoformat():
        return first.isoformat()
    return text


def labels(unit: str, first: date, last: date) -> list[str]:
    """Every bucket label of a period, for charts that must show empty buckets."""
    out: list[str] = []
    if unit == "minute":
        return [f"{h[:14]}{m:02d}:00" for h in labels("hour", first, last) for m in range(60)]
    if unit == "hour":
        day = first
        while day <= last:
            out.extend(f"{day.isoformat()} {h:02d}:00:00" for h in range(24))
            day += timedelta(days=1)
        return out
    if unit == "day":
        return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    if unit == "week":
        cur = first - timedelta(days=first.weekday())
        while cur <= last:
            out.append(range_label(unit, cur.isoformat(), first))
            cur += timedelta(days=7)
        return out
    cur = first.replace(day=1)
    while cur <= last:
        out.append(cur.isoformat())
        cur = (cur + timedelta(days=32)).replace(day=1)
    return out
