"""Date ranges in a site's time zone, turned into UTC instants for the store.

Custom ranges are inclusive dates in the site's zone (docs/design.md); a day is midnight to
midnight local time, which is 23 or 25 hours long across a DST change.

Every date read from a request, and every period derived from one (a named range, the
comparison), lies in [FIRST_DAY, LAST_DAY]: the span of ClickHouse's DateTime64, the
narrower of the two stores. Outside it the arithmetic overflows Python's dates at year
1 and 9999 and the store cannot hold the instants, so such a date is the caller's 400
naming the field.
"""

from __future__ import annotations

import re
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
    exact: bool = False  # instants given by the caller, not whole local days


FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2299, 12, 31)
_SPAN = f"between {FIRST_DAY} and {LAST_DAY}"


def local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC).replace(tzinfo=None)


def period(first: date, last: date, timezone: str, field: str = "date_range") -> Period:
    """The inclusive local dates ``first``..``last`` as UTC instants; ``field`` is named
    when the period reaches outside the supported dates."""
    if first < FIRST_DAY or last > LAST_DAY:
        raise FieldError(field, f"the period {first} to {last} is not {_SPAN}")
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
        day = date.fromisoformat(value)
    except ValueError:
        raise FieldError(field, "must be a date as YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise FieldError(field, f"must be a date {_SPAN}")
    return day


# Plausible's "last N days" and "last N calendar months" ranges, of any length the
# supported dates allow (the longest range is 20 years).
SHORTCUT = re.compile(r"([1-9][0-9]{0,4})(d|mo)")
MAX_DAYS, MAX_MONTHS = 366 * 20, 12 * 20


def shortcut(name: str) -> bool:
    """Whether ``name`` is an ``Nd`` or ``Nmo`` range; FieldError if N is too large."""
    m = SHORTCUT.fullmatch(name)
    if m is None:
        return False
    if int(m[1]) > (MAX_DAYS if m[2] == "d" else MAX_MONTHS):
        raise FieldError("date_range", f"{name!r} is longer than 20 years")
    return True


def parse_instant(value: str, field: str) -> datetime:
    """An ISO-8601 date-time with its UTC offset (``2026-01-01T09:00:00+03:00``, ``...Z``),
    as naive UTC."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(field, f"{value!r} is not a date (YYYY-MM-DD) or a date-time") from None
    if at.tzinfo is None:
        raise FieldError(field, f"the date-time {value!r} needs its UTC offset (Z or +hh:mm)")
    # The local date first: converting year 1 or 9999 to UTC can overflow.
    if (
        not FIRST_DAY <= at.date() <= LAST_DAY
        or not FIRST_DAY <= at.astimezone(UTC).date() <= LAST_DAY
    ):
        raise FieldError(field, f"must be a date-time {_SPAN}")
    return at.astimezone(UTC).replace(tzinfo=None)


def is_instant(value: str) -> bool:
    """Whether a range bound is a date-time (else it is read as a date)."""
    return "T" in value or " " in value


def instants(first: str, last: str, timezone: str, field: str = "date_range") -> Period:
    """The instants ``first`` to ``last`` (inclusive to the second, as Plausible counts
    whole-second timestamps); its dates are those of the site's zone."""
    start = parse_instant(first, field)
    end = parse_instant(last, field).replace(microsecond=0) + timedelta(seconds=1)
    if end <= start:
        raise FieldError(field, "the range ends before it starts")
    if (end - start).days > MAX_DAYS:
        raise FieldError(field, "range longer than 20 years")
    return _exact(start, end, timezone, field)


def _exact(start: datetime, end: datetime, timezone: str, field: str) -> Period:
    if start < datetime.combine(FIRST_DAY, time(0)):
        raise FieldError(field, f"the period starting {start} UTC is not {_SPAN}")
    zone = ZoneInfo(timezone)

    def local(at: datetime) -> date:
        return at.replace(tzinfo=UTC).astimezone(zone).date()

    return Period(local(start), local(end - timedelta(microseconds=1)), start, end, exact=True)


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
        first, last = parse_date(mode[0], "compare"), parse_date(mode[1], "compare")
        return period(first, last, timezone, "compare")
    if mode == "year_over_year":

        def back(d: date) -> date:
            return d.replace(year=d.year - 1, day=28 if (d.month, d.day) == (2, 29) else d.day)

        if p.exact:
            return _exact(
                datetime.combine(back(p.start_utc.date()), p.start_utc.time()),
                datetime.combine(back(p.end_utc.date()), p.end_utc.time()),
                timezone,
                "compare",
            )
        return period(back(p.first), back(p.last), timezone, "compare")
    if p.exact:  # the same length of time, right before
        return _exact(p.start_utc - (p.end_utc - p.start_utc), p.start_utc, timezone, "compare")
    if p.first == p.last and p.end_utc - p.start_utc < timedelta(hours=23):  # realtime
        span = p.end_utc - p.start_utc
        return Period(p.first, p.last, p.start_utc - span, p.start_utc)
    length = (p.last - p.first).days + 1
    return period(
        p.first - timedelta(days=length), p.first - timedelta(days=1), timezone, "compare"
    )
