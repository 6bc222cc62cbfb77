"""How server-rendered pages show times, durations and counts: an instant in the site's
time zone as a readable local date and time, seconds as "12m 49s" (the dashboard's
duration format, dom.js ``duration``), and "1 day" / "3 days". Registered as Jinja
filters by ``render``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_time(instant: str | datetime, timezone: str) -> str:
    """``instant`` (RFC 3339, or an aware or naive-UTC datetime) in ``timezone``, as
    "6 Dec 2026, 14:03:12"; unparseable text is shown as it is."""
    if isinstance(instant, str):
        try:
            at = datetime.fromisoformat(instant.replace("Z", "+00:00"))
        except ValueError:
            return instant
    else:
        at = instant
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M:%S}"


def duration(seconds: float | int | None) -> str:
    """Seconds as "49s", "12m 49s" or "1h 5m" (rounded to the second)."""
    s = round(seconds or 0)
    if s < 60:
        return f"{s}s"
    m = s // 60
    if m < 60:
        return f"{m}m {s % 60}s"
    return f"{m // 60}h {m % 60}m"


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1 (English nouns that take an "s")."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
