"""GET /api/v1/retention: cohorts of people with a lasting identity (a persistent visitor
id or a user id), across month and year ends and in the site's time zone. Expected
figures are literals worked out by hand, and a plain-Python reference of the definition
(docs/design.md "Metric definitions", retention) for the weekly and daily triangles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.product.conftest import World

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def ev(at: str, path: str = "/", *, visitor: str = "", user: str = "", name: str = "pageview"
       ) -> dict[str, Any]:  # fmt: skip
    e: dict[str, Any] = {"event_type": name, "path": path, "timestamp": at, "user_agent": UA,
                         "ip": "198.51.100.7"}  # fmt: skip
    if visitor:
        e["visitor_id"] = visitor
    if user:
        e["user_id"] = user
    return e


# (who, when UTC); who is the person the definition follows, "-" for a cookieless visitor.
EVENTS = [
    ("p1", ev("2025-12-31T23:30:00Z", visitor="p1")),
    ("p1", ev("2026-01-01T00:10:00Z", "/x", visitor="p1")),  # a new year in UTC, not in New York
    ("p1", ev("2026-02-15T12:00:00Z", visitor="p1")),
    ("p2", ev("2025-12-10T08:00:00Z", visitor="p2")),
    ("p2", ev("2026-02-01T08:00:00Z", visitor="p2")),
    ("u1", ev("2026-01-31T20:00:00Z", user="u1")),  # a server-side sender's user id only
    ("u1", ev("2026-02-01T09:00:00Z", user="u1")),
    ("u2", ev("2026-01-05T10:00:00Z")),  # anonymous, then identified: the same person
    ("u2", ev("2026-01-05T10:05:00Z", "/in", user="u2")),
    ("u2", ev("2026-02-10T10:00:00Z", user="u2")),
    ("u3", ev("2025-12-05T10:00:00Z", visitor="p3")),  # a persistent browser that logs in
    ("u3", ev("2026-01-20T10:00:00Z", visitor="p3", user="u3")),
    # Cookieless: sent today, so one daily id on every date, which must still not count.
    ("-", ev("2025-12-03T10:00:00Z")),
    ("-", ev("2026-01-03T10:00:00Z")),
    ("-", ev("2026-02-03T10:00:00Z")),
]
PERIOD = {"period": "custom", "from": "2025-12-01", "to": "2026-02-28"}


@pytest.fixture(scope="module")
def sites(world: World) -> dict[str, str]:
    out = {}
    for name, tz in (("utc", "UTC"), ("ny", "America/New_York")):
        site = world.site(f"retention-{name}.example", tz)
        world.send(site, [e for _, e in EVENTS])
        out[name] = site["site_id"]
    return out


def retention(world: World, site: str, **params: Any) -> dict[str, Any]:
    out: dict[str, Any] = world.get("/api/v1/retention", site_id=site, **params)
    return out


def test_monthly_cohorts_across_the_year_end(world: World, sites: dict[str, str]) -> None:
    got = retention(world, sites["utc"], interval="month", **PERIOD)
    assert got["interval"] == "month" and got["eligible_visitors"] == 5
    assert got["cohorts"] == [
        {"cohort": "2025-12-01", "visitors": 3, "returning": [3, 2, 2],
         "percentages": [100.0, 66.7, 66.7]},
        {"cohort": "2026-01-01", "visitors": 2, "returning": [2, 2], "percentages": [100.0, 100.0]},
        {"cohort": "2026-02-01", "visitors": 0, "returning": [0], "percentages": [0.0]},
    ]  # fmt: skip


def test_intervals_are_the_sites_own(world: World, sites: dict[str, str]) -> None:
    """In New York p1's two first events are both on 31 December; u1's 31 January
    20:00 UTC is still January and their 1 February 09:00 UTC is 04:00 there."""
    got = retention(world, sites["ny"], interval="month", **PERIOD)
    assert [c["returning"] for c in got["cohorts"]] == [[3, 1, 2], [2, 2], [0]]


def reference(unit: str, first: date, last: date, zone: str) -> list[list[int]]:
    """The definition in plain Python: each person's active intervals in the period."""

    def start(d: date) -> date:
        if unit == "week":
            return d - timedelta(days=d.weekday())
        return d if unit == "day" else d.replace(day=1)

    buckets = []
    cur = start(first)
    while cur <= last:
        buckets.append(cur)
        cur = cur + timedelta(days=7 if unit == "week" else 1)
    active: dict[str, set[int]] = {}
    for who, e in EVENTS:
        at = datetime.fromisoformat(e["timestamp"]).astimezone(ZoneInfo(zone)).date()
        if who != "-" and first <= at <= last:
            active.setdefault(who, set()).add(buckets.index(start(at)))
    out = [[0] * (len(buckets) - i) for i in range(len(buckets))]
    for seen in active.values():
        c = min(seen)
        for b in seen:
            out[c][b - c] += 1
    return out


@pytest.mark.parametrize(("unit", "first", "last"), [
    ("week", date(2025, 12, 22), date(2026, 2, 8)),
    ("day", date(2025, 12, 29), date(2026, 1, 6)),
])  # fmt: skip
def test_weekly_and_daily_triangles_match_the_definition(
    world: World, sites: dict[str, str], unit: str, first: date, last: date
) -> None:
    for name, zone in (("utc", "UTC"), ("ny", "America/New_York")):
        got = retention(world, sites[name], interval=unit, period="custom",
                        **{"from": first.isoformat(), "to": last.isoformat()})  # fmt: skip
        want = reference(unit, first, last, zone)
        assert [c["returning"] for c in got["cohorts"]] == want, name
        assert got["eligible_visitors"] == sum(row[0] for row in want)
        if unit == "week":
            assert got["cohorts"][0]["cohort"] == "2025-12-22"  # a Monday


def test_filters_narrow_the_people_counted(world: World, sites: dict[str, str]) -> None:
    flt = '[["is", "event:page", ["/x", "/in"]]]'
    got = retention(world, sites["utc"], interval="month", filters=flt, **PERIOD)
    # p1 on /x (January) and u2 on /in (January): two people, both first seen in January.
    assert got["eligible_visitors"] == 2
    assert [c["returning"] for c in got["cohorts"]] == [[0, 0, 0], [2, 0], [0]]


def test_cookieless_visitors_are_never_counted(world: World) -> None:
    site = world.site("retention-anon.example")
    now = datetime.now(UTC).replace(microsecond=0)
    world.send(site, [ev((now - timedelta(days=d)).isoformat()) for d in (1, 2, 9)])
    got = retention(world, site["site_id"], interval="day", period="30d")
    assert got["eligible_visitors"] == 0
    assert all(c["visitors"] == 0 for c in got["cohorts"])


@pytest.mark.parametrize(("params", "field"), [
    ({"interval": "year"}, "interval"),
    ({"period": "eternity"}, "period"),
    ({"period": "custom", "from": "2025-01-01"}, "to"),
    ({"filters": "[1"}, "filters"),
    ({"interval": "day", "period": "custom", "from": "2020-01-01", "to": "2026-01-01"},
     "interval"),
])  # fmt: skip
def test_bad_parameters_are_400_naming_them(
    world: World, sites: dict[str, str], params: dict[str, str], field: str
) -> None:
    body = world.get("/api/v1/retention", 400, site_id=sites["utc"], **params)
    assert [d["field"] for d in body["details"]] == [field]


def test_new_and_returning_visitors_and_visits_per_visitor(
    world: World, sites: dict[str, str]
) -> None:
    """31 December to 31 January: p1 (two visits, 40 minutes apart), u1 and u2 are first
    seen in it; u3's persistent id p3 was seen on 5 December; the cookieless visitor of
    3 January is not counted."""
    got = world.get("/api/v1/returning", site_id=sites["utc"], period="custom",
                    **{"from": "2025-12-31", "to": "2026-01-31"})  # fmt: skip
    assert got == {
        "date_range": ["2025-12-31", "2026-01-31"], "eligible_visitors": 4, "new_visitors": 3,
        "returning_visitors": 1, "returning_percentage": 25.0, "visits_per_visitor": 1.25,
    }  # fmt: skip
    # February: all four seen before (u1 by their user id's visitor of 31 January).
    got = world.get("/api/v1/returning", site_id=sites["utc"], period="custom",
                    **{"from": "2026-02-01", "to": "2026-02-28"})  # fmt: skip
    assert (got["eligible_visitors"], got["new_visitors"], got["returning_visitors"]) == (4, 0, 4)
