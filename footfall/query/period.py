"""Date ranges in a site's time zone, turned into UTC instants for the store.

Custom ranges are inclusive dates in the site's zone (docs/design.md); a day is midnight to
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


def _months_back(day: date, months: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(y, m + 1, 1)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def named(name: str, today: date, first_data: date | None) -> tuple[date, date]:
    """Plausible's named ranges, inclusive dates ending at (or containing) ``today``."""
    if name == "day":
        return today, today
    if name.endswith("d") and name[:-1].isdigit():
        return today - timedelta(days=int(name[:-1]) - 1), today
    if name == "month":
        return today.replace(day=1), _month_end(today)
    if name.endswith("mo") and name[:-2].isdigit():
        return _months_back(today, int(name[:-2]) - 1), _month_end(today)
    if name == "year":
        return date(today.year, 1, 1), date(today.year, 12, 31)
    if name == "all":
        return min(first_data or today, today), today
    raise FieldError("date_range", f"unknown range {name!r}")


def shifted(p: Period, mode: str | tuple[str, str], timezone: str) -> Period:
    """The comparison period: previous period of equal length, a year earlier, or custom."""
    if isinstance(mode, tuple):
        return period(parse_date(mode[0], "compare"), parse_date(mode[1], "compare"), timezone)
    if mode == "year_over_year":

        def back(d: date) -> date:
            return d.replace(year=d.year - 1, day=28 if (d.month, d.day) == (2, 29) else d.day)

        return period(back(p.first), back(p.last), timezone)
    if p.first == p.last and p.end_utc - p.start_utc < timedelta(hours=23):  # realtime
        span = p.end_utc - p.start_utc
        return Period(p.first, p.last, p.start_utc - span, p.start_utc)
    length = (p.last - p.first).days + 1
    return period(p.first - timedelta(days=length), p.first - timedelta(days=1), timezone)
