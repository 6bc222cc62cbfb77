"""/api/stats numbers equal a plain-Python reference computed from docs/design.md's metric
definitions over a hand-built dataset spread across days and time zones."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ADMIN, Footfall
from tests.reference import half_up, split_visits

NOW = datetime.now(UTC).replace(microsecond=0)
# Chrome on Windows: a real browser UA, so the bot filter keeps these events.
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


def reference(events: list[dict], first: date, last: date, tz: str) -> dict:
    """docs/design.md metric definitions, written out plainly. Sessions are cut on event time
    with the 30-minute rule per visitor; a visit belongs to the day of its first event."""
    zone = ZoneInfo(tz)
    lo = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    visits = split_visits(events)
    in_range = [e for e in events if lo <= e["at"] < hi]
    pageviews = sum(1 for e in in_range if e["event_type"] == "pageview")
    my_visits = [v for v in visits if lo <= v[0]["at"] < hi]
    bounces = sum(
        1
        for v in my_visits
        if sum(e["event_type"] == "pageview" for e in v) == 1
        and sum(e["event_type"] != "engagement" and e.get("interactive", True) for e in v) == 1
    )
    # to the visit's last event that is not an engagement event (these do not lengthen it)
    ends = [max([e["at"] for e in v if e["event_type"] != "engagement"] or [v[0]["at"]]) for v in my_visits]  # fmt: skip
    durations = [(end - v[0]["at"]).total_seconds() for v, end in zip(my_visits, ends, strict=True)]
    paths: dict[str, int] = defaultdict(int)
    for e in in_range:
        if e["event_type"] == "pageview":
            paths[e["path"]] += 1
    top = sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    n = len(my_visits)
    return {
        "pageviews": pageviews,
        "visitors": len({e["visitor_id"] for e in in_range}),
        "visits": n,
        "bounce_rate": half_up(Decimal(100 * bounces) / n, 1) if n else 0.0,
        "visit_duration": int(half_up(Decimal(sum(durations)) / n, 0)) if n else 0,
        "views_per_visit": half_up(Decimal(pageviews) / n, 2) if n else 0.0,
        "top_paths": [{"path": p, "views": c} for p, c in top],
    }


def build_dataset(seed: int) -> list[dict]:
    """Visitors with visits over the last 6 days: gaps under and over 30 minutes, custom
    events, non-interactive events, engagement events, bounces, 12 pages."""
    rng = random.Random(seed)
    events = []
    start = NOW - timedelta(days=6)
    for v in range(40):
        visitor = f"visitor-{v}"
        at = start + timedelta(minutes=rng.randrange(0, 6 * 24 * 60 - 300))
        for _ in range(rng.randint(1, 8)):
            kind = rng.choices(["pageview", "signup", "quiet", "engagement"], [70, 10, 10, 10])[0]
            event = {
                "event_type": "pageview"
                if kind == "pageview"
                else ("engagement" if kind == "engagement" else "signup"),
                "path": f"/page/{rng.randint(0, 11)}",
                "url": "https://example.com/",
                "user_agent": UA,
                "visitor_id": visitor,
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "at": at,
            }
            if kind == "quiet":
                event["interactive"] = False
            events.append(event)
            at += timedelta(minutes=rng.choice([0.5, 3, 12, 29, 31, 45, 200]))
    return [e for e in events if e["at"] <= NOW]


def wire(e: dict) -> dict:
    body = {k: v for k, v in e.items() if k != "at"}
    body["timestamp"] = e["at"].isoformat()
    return body


def post_all(ff: Footfall, events: list[dict]) -> None:
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)  # out of order: sessions are cut on event time
    for i in range(0, len(shuffled), 50):
        r = ff.send_batch([wire(e) for e in shuffled[i : i + 50]])
        assert r.status_code == 202, r.text
        assert r.json()["rejected"] == []


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_stats_match_reference_over_days_and_timezones(footfall: Footfall, tz: str) -> None:
    # The events' pages are on example.com, which belongs to one site: move it to this one.
    footfall.services.meta.update_site(footfall.site_id, domains=["fixture.example"])
    r = footfall.client.post(
        "/api/site/create",
        json={"name": "Zoned", "domains": ["example.com"], "timezone": tz},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 201, r.text
    footfall.site_id = r.json()["site_id"]
    footfall.api_key = r.json()["api_key"]
    events = build_dataset(seed=len(tz))
    post_all(footfall, events)
    zone = ZoneInfo(tz)
    today = NOW.astimezone(zone).date()
    ranges = [(today - timedelta(days=d), today - timedelta(days=d)) for d in range(7)]
    ranges += [
        (today - timedelta(days=6), today),
        (today - timedelta(days=3), today - timedelta(days=1)),
    ]
    for first, last in ranges:
        got = footfall.stats_admin(first, last)
        want = reference(events, first, last, tz)
        for key, value in want.items():
            assert got[key] == value, (key, first, last, got[key], value)
        assert got["total_views"] == want["pageviews"]
        assert got["unique_users_count"] == want["visitors"]


def test_stats_simple_literals(footfall: Footfall) -> None:
    """A tiny dataset whose numbers can be checked by eye."""
    t0 = NOW - timedelta(hours=3)
    sends = [
        # visitor a: one visit of 3 pageviews over 10 minutes
        ("a", "/", 0), ("a", "/pricing", 5 * 60), ("a", "/signup", 10 * 60),
        # visitor b: a bounce, then another bounce 2 hours later (two visits)
        ("b", "/", 0), ("b", "/blog", 2 * 3600),
    ]  # fmt: skip
    for visitor, path, offset in sends:
        r = footfall.send(
            {
                "event_type": "pageview",
                "path": path,
                "visitor_id": visitor,
                "user_agent": UA,
                "timestamp": (t0 + timedelta(seconds=offset)).isoformat(),
            }
        )
        assert r.status_code == 202, r.text
    day = (t0).date()
    data = footfall.stats(
        **{
            "from": (day - timedelta(days=1)).isoformat(),
            "to": (day + timedelta(days=1)).isoformat(),
        }
    )
    assert data["pageviews"] == 5
    assert data["visitors"] == 2
    assert data["visits"] == 3
    assert data["bounce_rate"] == 66.7  # 2 of 3 visits
    assert data["visit_duration"] == 200  # (600 + 0 + 0) / 3
    assert data["views_per_visit"] == 1.67
    assert data["top_paths"][0] == {"path": "/", "views": 2}


def test_retried_event_id_is_stored_once(footfall: Footfall) -> None:
    event = {
        "event_type": "pageview",
        "path": "/once",
        "event_id": str(uuid.uuid4()),
        "user_agent": UA,
        "timestamp": NOW.isoformat(),
    }
    for _ in range(3):
        assert footfall.send(event).status_code == 202
        footfall.flush()
    assert footfall.send_batch([event, event]).status_code == 202
    data = footfall.stats()
    assert data["pageviews"] == 1


def test_late_event_joins_two_visits(footfall: Footfall) -> None:
    """Visits at t and t+50min are separate until an event at t+25min arrives late."""
    t0 = NOW - timedelta(hours=2)

    def send(minutes: int, path: str) -> None:
        r = footfall.send(
            {
                "event_type": "pageview",
                "path": path,
                "visitor_id": "late",
                "user_agent": UA,
                "timestamp": (t0 + timedelta(minutes=minutes)).isoformat(),
            }
        )
        assert r.status_code == 202

    send(0, "/a")
    send(50, "/c")
    day = {"from": (t0.date() - timedelta(days=1)).isoformat(), "to": (NOW.date()).isoformat()}
    assert footfall.stats(**day)["visits"] == 2
    send(25, "/b")
    data = footfall.stats(**day)
    assert data["visits"] == 1
    assert data["visit_duration"] == 50 * 60
    assert data["bounce_rate"] == 0.0
    rows = footfall.services.store.query(
        "SELECT entry_page, exit_page, pageviews FROM sessions WHERE site_id = ?",
        [footfall.site_id],
    )
    assert rows == [("/a", "/c", 3)]
