"""Times and durations on server-rendered pages (the visits list and timeline): local to
the site's zone, and durations as the dashboard writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from footfall.dashboard.humanize import counted, duration, local_time


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (None, "0s"), (49, "49s"), (59.6, "1m 0s"), (769, "12m 49s"), (3600, "1h 0m"),
    (3 * 3600 + 5 * 60 + 59, "3h 5m"),
])  # fmt: skip
def test_duration(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_local_time_in_the_site_zone() -> None:
    # 23:30 UTC on 31 Dec is already New Year's Day in Kolkata (+05:30).
    assert local_time("2026-12-31T23:30:05.123Z", "Asia/Kolkata") == "1 Jan 2027, 05:00:05"
    assert local_time(datetime(2026, 7, 1, 12, 0), "America/New_York") == "1 Jul 2026, 08:00:00"
    assert local_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "UTC") == "1 Jul 2026, 12:00:00"
    assert local_time("not a time", "UTC") == "not a time"
    assert local_time("2026-07-01T12:00:00Z", "Not/A_Zone") == "1 Jul 2026, 12:00:00"


def test_counted() -> None:
    assert [counted(n, "day") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
