"""Time buckets in the site's zone across DST changes; page metrics from engagement
events; load time percentiles; bot counts; realtime. Expected values are literals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
ZONE = ZoneInfo("America/New_York")


def last_dst_end(now: datetime) -> date:
    """The most recent first Sunday of November (US DST ends) at least 2 days ago."""
    for year in (now.year, now.year - 1):
        nov1 = date(year, 11, 1)
        sunday = nov1 + timedelta(days=(6 - nov1.weekday()) % 7)
        if sunday <= now.date() - timedelta(days=2):
            return sunday
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def app_client(
    tmp_path_factory: pytest.TempPathFactory, store_url: str
) -> Iterator[tuple[TestClient, Any]]:
    # Accept timestamps up to 400 days old so the DST change is always reachable.
    app = create_app(
        make_settings(Path(tmp_path_factory.mktemp("t")), store_url=store_url, max_past_days=400)
    )
    with TestClient(app) as client:
        yield client, app


def make_site(client: TestClient, tz: str) -> tuple[str, str]:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    # A domain belongs to one site: each site of this module's app gets its own.
    domain = f"t{uuid.uuid4().hex[:8]}.com"
    r = client.post(
        "/api/site/create", json={"name": "T", "domains": [domain], "timezone": tz}, headers=auth
    )
    return r.json()["site_id"], r.json()["api_key"]


def send(client: TestClient, app: Any, key: str, events: list[dict[str, Any]]) -> None:
    for e in events:
        e.setdefault("user_agent", UA)
        e.setdefault("event_type", "pageview")
    r = client.post("/api/events", json={"events": events}, headers={"x-api-key": key})
    assert r.status_code == 202 and r.json()["rejected"] == [], r.text
    assert app.state.services.writer.wait_idle(15)


def query(client: TestClient, site: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(
        "/api/v2/query",
        json={"site_id": site, **body},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_days_and_hours_in_site_zone_across_dst_end(app_client: tuple[TestClient, Any]) -> None:
    client, app = app_client
    site, key = make_site(client, "America/New_York")
    sunday = last_dst_end(datetime.now(UTC))
    midnight_edt = datetime(
        sunday.year, sunday.month, sunday.day, 4, 0, tzinfo=UTC
    )  # 00:00 EDT on the Sunday
    at = [
        midnight_edt - timedelta(minutes=1),  # Saturday 23:59 EDT
        midnight_edt + timedelta(minutes=30),  # Sunday 00:30 EDT
        midnight_edt + timedelta(hours=1, minutes=30),  # Sunday 01:30 EDT (first one)
        midnight_edt + timedelta(hours=2, minutes=30),  # Sunday 01:30 EST (the repeated hour)
        midnight_edt + timedelta(hours=24, minutes=30),  # Sunday 23:30 EST (a 25-hour day)
        midnight_edt + timedelta(hours=25, minutes=30),  # Monday 00:30 EST
    ]
    send(
        client,
        app,
        key,
        [
            {"path": f"/{i}", "visitor_id": f"v{i}", "timestamp": t.isoformat()}
            for i, t in enumerate(at)
        ],
    )
    sat, mon = sunday - timedelta(days=1), sunday + timedelta(days=1)
    days = query(
        client,
        site,
        {
            "metrics": ["pageviews", "visits"],
            "dimensions": ["time:day"],
            "date_range": [sat.isoformat(), mon.isoformat()],
            "include": {"time_labels": True},
        },
    )
    assert {tuple(r["dimensions"]): r["metrics"] for r in days["results"]} == {
        (sat.isoformat(),): [1, 1],
        (sunday.isoformat(),): [4, 4],
        (mon.isoformat(),): [1, 1],
    }
    assert days["meta"]["time_labels"] == [sat.isoformat(), sunday.isoformat(), mon.isoformat()]
    hours = query(
        client,
        site,
        {
            "metrics": ["pageviews"],
            "dimensions": ["time:hour"],
            "date_range": [sunday.isoformat(), sunday.isoformat()],
        },
    )
    got = {r["dimensions"][0][11:13]: r["metrics"][0] for r in hours["results"]}
    assert got == {"00": 1, "01": 2, "23": 1}  # both 01:30s land in local hour 01
    # Weeks start on Monday: Saturday and Sunday fall in the week before Monday's, which
    # began before the range, so it is labelled with the range's first day (Plausible's).
    weeks = query(
        client,
        site,
        {
            "metrics": ["pageviews"],
            "dimensions": ["time:week"],
            "date_range": [sat.isoformat(), mon.isoformat()],
        },
    )
    assert {r["dimensions"][0]: r["metrics"][0] for r in weeks["results"]} == {
        sat.isoformat(): 5,
        mon.isoformat(): 1,
    }


def test_time_on_page_scroll_depth_and_load_time(app_client: tuple[TestClient, Any]) -> None:
    client, app = app_client
    site, key = make_site(client, "UTC")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

    def at(seconds: int) -> str:
        return (t0 + timedelta(seconds=seconds)).isoformat()

    send(client, app, key, [
        # Visit A: /docs with engagement (40 s engaged, scroll 60 then 80), then /pricing.
        {"path": "/docs", "visitor_id": "a", "timestamp": at(0), "load_time_ms": 100},
        {"event_type": "engagement", "path": "/docs", "visitor_id": "a", "timestamp": at(50), "engaged_ms": 30000, "scroll_depth": 60},
        {"event_type": "engagement", "path": "/docs", "visitor_id": "a", "timestamp": at(55), "engaged_ms": 10000, "scroll_depth": 80},
        {"path": "/pricing", "visitor_id": "a", "timestamp": at(60), "load_time_ms": 300},
        # Visit B: /docs without engagement events: 120 s until the next pageview.
        {"path": "/docs", "visitor_id": "b", "timestamp": at(0), "load_time_ms": 200},
        {"path": "/blog", "visitor_id": "b", "timestamp": at(120)},
        # Visit C: /docs only, no engagement, no next page: no time on page known.
        {"path": "/docs", "visitor_id": "c", "timestamp": at(10), "load_time_ms": 400},
        {"event_type": "engagement", "path": "/docs", "visitor_id": "c", "timestamp": at(20), "scroll_depth": 30},
    ])  # fmt: skip
    day = t0.date().isoformat()
    got = query(
        client,
        site,
        {
            "metrics": ["time_on_page", "scroll_depth", "load_time_p50", "load_time_p90"],
            "dimensions": ["event:page"],
            "date_range": [day, day],
        },
    )
    docs = {tuple(r["dimensions"]): r["metrics"] for r in got["results"]}[("/docs",)]
    assert docs[0] == 80  # mean of 40 s (engaged, A) and 120 s (gap, B); C unknown
    assert docs[1] == 55  # mean of max scroll per visit: A 80, C 30
    assert docs[2] == 200  # p50 of the /docs load times 100, 200, 400
    assert docs[3] == 360  # p90 of 100, 200, 400 (linear interpolation)
    total = query(
        client, site, {"metrics": ["pageviews", "events", "bounce_rate"], "date_range": [day, day]}
    )
    # engagement events are neither events nor interactive: C (one pageview + engagement) bounced
    assert total["results"][0]["metrics"] == [5, 5, 33.3]


def test_bot_events_are_counted_and_realtime_sees_the_last_30_minutes(
    app_client: tuple[TestClient, Any],
) -> None:
    client, app = app_client
    site, key = make_site(client, "UTC")
    now = datetime.now(UTC)
    send(client, app, key, [
        {"path": "/", "visitor_id": "r1", "timestamp": (now - timedelta(minutes=5)).isoformat()},
        {"path": "/", "visitor_id": "r2", "timestamp": (now - timedelta(minutes=40)).isoformat()},
        {"path": "/", "user_agent": BOT, "timestamp": (now - timedelta(minutes=3)).isoformat()},
        {"path": "/", "user_agent": BOT, "timestamp": (now - timedelta(minutes=2)).isoformat()},
    ])  # fmt: skip
    got = query(
        client, site, {"metrics": ["visitors", "pageviews", "bot_events"], "date_range": "day"}
    )
    today_events = [t for t in (5, 40) if (now - timedelta(minutes=t)).date() == now.date()]
    bots_today = sum((now - timedelta(minutes=t)).date() == now.date() for t in (3, 2))
    assert got["results"][0]["metrics"] == [len(today_events), len(today_events), bots_today]
    realtime = query(client, site, {"metrics": ["visitors"], "date_range": "realtime"})
    assert realtime["results"][0]["metrics"] == [1]


def test_revenue_totals_and_averages_per_goal_source_and_period(
    app_client: tuple[TestClient, Any],
) -> None:
    client, app = app_client
    site, key = make_site(client, "UTC")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)

    def at(seconds: int) -> str:
        return (t0 + timedelta(seconds=seconds)).isoformat()

    purchases = [("a", 19.99, "https://news.example/"), ("b", 5.0, ""), ("b", 0.1, ""),
                 ("c", 49.95, "https://news.example/")]  # fmt: skip
    events: list[dict[str, Any]] = []
    for i, (visitor, amount, referrer) in enumerate(purchases):
        events += [{"path": "/shop", "visitor_id": visitor, "timestamp": at(i * 10), "referrer": referrer},
                   {"event_type": "Purchase", "path": "/shop", "visitor_id": visitor,
                    "timestamp": at(i * 10 + 5), "revenue": amount, "referrer": referrer}]  # fmt: skip
    # A signup carries no revenue: it is not averaged in; another site's purchase is not counted.
    events.append({"event_type": "Signup", "path": "/", "visitor_id": "d", "timestamp": at(60)})
    send(client, app, key, events)
    _, other_key = make_site(client, "UTC")
    send(client, app, other_key, [{"event_type": "Purchase", "path": "/", "visitor_id": "a",
                                   "timestamp": at(0), "revenue": 1000.0}])  # fmt: skip

    def reference(rows: list[tuple[str, float, str]]) -> list[float]:
        """docs/design.md: the sum of the events' revenue; the mean over events that carry one."""
        total = sum(Decimal(str(amount)) for _, amount, _ in rows)
        average = (total / len(rows)).quantize(Decimal("0.01"), ROUND_HALF_UP) if rows else 0
        return [float(total), float(average)]

    day = t0.date().isoformat()
    # Footfall's plain sums: these events' goals carry no currency (Plausible: null).
    body = {"metrics": ["total_revenue", "average_revenue"], "date_range": [day, day],
            "include": {"plain_revenue": True}}  # fmt: skip
    got = query(client, site, body)["results"][0]["metrics"]
    assert got == reference(purchases) == [75.04, 18.76]
    goal = query(client, site, {**body, "filters": [["is", "event:name", ["Purchase"]]]})
    assert goal["results"][0]["metrics"] == [75.04, 18.76]
    # With a visit metric beside it, one statement reads the matching events for both.
    paired = query(client, site, {**body, "metrics": ["total_revenue", "visits", "bounce_rate"],
                                  "filters": [["is", "event:name", ["Purchase"]]]})  # fmt: skip
    assert paired["results"][0]["metrics"] == [75.04, 3, 0.0]  # a, b, c: none bounced
    by_source = query(client, site, {**body, "dimensions": ["visit:source"]})
    rows = {r["dimensions"][0]: r["metrics"] for r in by_source["results"]}
    news = [p for p in purchases if p[2]]
    assert rows["news.example"] == reference(news) == [69.94, 34.97]
    assert rows["Direct / None"] == reference([p for p in purchases if not p[2]]) == [5.1, 2.55]
    nothing = query(client, site, {**body, "filters": [["is", "event:name", ["Signup"]]]})
    assert nothing["results"][0]["metrics"] == [0.0, 0.0]
    # Compared with the day before, which has no events: its hours have nothing to sum.
    hourly = query(client, site, {**body, "metrics": ["total_revenue"], "dimensions": ["time:hour"],
                                  "compare": "previous_period"})  # fmt: skip
    assert sum(Decimal(str(r["metrics"][0])) for r in hourly["results"]) == Decimal("75.04")
    assert [r["comparison"]["metrics"] for r in hourly["results"]] == [[0.0]] * len(
        hourly["results"]
    )
