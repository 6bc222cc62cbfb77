"""Date ranges in a site's time zone, turned into UTC instants for the store.

Custom ranges are inclusive dates in the site's zone (DESIGN.md); a day is midnight to
midnight local time, which is 23 or 25 hours long across a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from footfall.ingest.validate import FieldError


@dataclass(frozen=True, slots=True)
class Period:
    first: date  # inclusive, site-local
    last: date  # inclusive, site-local
    start_utc: datetime  # naive UTC, inclusive
    end_utc: datetime  # naive UTC, exclusive


def local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC).replace(tzinfo=None)


def period(first: date, last: date, timezone: str) -> Period:
    if last < first:
        raise FieldError("to", "must not be before from")
    if (last - first).days > 366 * 20:
        raise FieldError("to", "range longer than 20 years")
    zone = ZoneInfo(timezone)
    return Period(
        first,
        last,
        local_midnight_utc(first, zone),
        local_midnight_utc(last + timedelta(days=1), zone),
    )


def today_in(timezone: str, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, "must be a date as YYYY-MM-DD") from None
