"""GET /api/v1/* reports against a hand-built dataset sent through the collection API,
checked with a plain-Python reference written from docs/design.md's metric definitions."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings
from tests.reference import half_up, split_visits

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
SOURCES = [
    ("https://www.google.com/search?q=a", "Google"),
    ("", "Direct / None"),
    ("https://t.co/abc", "Twitter"),
]
PLACES = [("8.8.8.8", "US"), ("81.2.69.160", "GB"), ("5.9.0.1", "DE")]
AGENTS = [
    (CHROME, "Chrome", "Desktop"),
    (FIREFOX, "Firefox", "Desktop"),
    (IPHONE, "Safari", "Mobile"),
]
PAGES = ["/", "/pricing", "/blog/a", "/docs"]
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def build(seed: int = 7, visits: int = 50) -> list[dict[str, Any]]:
    """Visits over the last 10 days (never in the last hour); each has one source/place/agent."""
    rng = random.Random(seed)
    events = []
    for n in range(visits):
        visitor = f"v{n % 35}"
        ref, source = rng.choice(SOURCES)
        ip, country = rng.choice(PLACES)
        ua, browser, device = rng.choice(AGENTS)
        user = f"user-{n % 5}" if n % 3 == 0 else None
        at = NOW - timedelta(days=rng.randint(0, 9), minutes=rng.randint(60, 600))
        for i in range(rng.choice([1, 1, 2, 3, 4])):
            kind = (
                "pageview" if i == 0 or rng.random() < 0.7 else rng.choice(["signup", "download"])
            )
            events.append(
                {
                    "event_type": kind,
                    "path": rng.choice(PAGES),
                    "at": at,
                    "visitor_id": visitor,
                    "referrer": ref if i == 0 else "https://example.com/",
                    "ip": ip,
                    "user_agent": ua,
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "user_id": user,
                    "metadata": {"plan": rng.choice(["free", "pro"])} if kind == "signup" else None,
                    "load_time_ms": rng.choice([None, 100, 250, 400, 1200])
                    if kind == "pageview"
                    else None,
                    "_source": source,
                    "_country": country,
                    "_browser": browser,
                    "_device": device,
                }
            )
            at += timedelta(minutes=rng.choice([1, 4, 9]))
    return events


def sessionize(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """30-minute rule per visitor on event time; visit attributes are the first event's."""
    visits = split_visits(events)
    for v in visits:
        pages = [e["path"] for e in v if e["event_type"] == "pageview"]
        for e in v:
            for k in ("source", "country", "browser", "device"):
                e["v_" + k] = v[0]["_" + k]
            e["v_entry"], e["v_exit"] = (pages[0], pages[-1]) if pages else ("", "")
            e["visit"] = id(v)
    visits.sort(key=lambda v: v[0]["at"])
    return visits


def wire(e: dict[str, Any]) -> dict[str, Any]:
    body = {
        k: v
        for k, v in e.items()
        if not k.startswith(("_", "v_")) and k not in ("at", "visit") and v is not None
    }
    body["timestamp"] = e["at"].isoformat()
    body["url"] = "https://example.com" + e["path"]
    return body


class World:
    def __init__(self, client: TestClient, app: Any) -> None:
        self.client, self.app = client, app
        auth = {"Authorization": f"Bearer {ADMIN}"}
        site = client.post(
            "/api/site/create", json={"name": "R", "domains": ["example.com"]}, headers=auth
        ).json()
        other = client.post(
            "/api/site/create", json={"name": "O", "domains": ["other.org"]}, headers=auth
        ).json()
        self.site_id, self.api_key, self.other_id = (
            site["site_id"],
            site["api_key"],
            other["site_id"],
        )
        self.token = client.post(
            "/api/tokens", json={"site_id": self.site_id}, headers=auth
        ).json()["token"]
        self.other_token = client.post(
            "/api/tokens", json={"site_id": self.other_id}, headers=auth
        ).json()["token"]
        self.other_key = other["api_key"]

    def send(self, events: list[dict[str, Any]], key: str | None = None) -> None:
        for i in range(0, len(events), 200):
            r = self.client.post(
                "/api/events",
                json={"events": [wire(e) for e in events[i : i + 200]]},
                headers={"x-api-key": key or self.api_key},
            )
            assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert self.app.state.services.writer.wait_idle(15)

    def get(self, path: str, status: int = 200, token: str | None = "", **params: Any) -> Any:
        params = {"site_id": self.site_id, **params}
        headers = {"Authorization": f"Bearer {token or self.token}"} if token is not None else {}
        r = self.client.get(path, params=params, headers=headers)
        assert r.status_code == status, r.text
        return r.json()

    def data(self, path: str, **params: Any) -> Any:
        body = self.get(path, **params)
        assert body["success"] is True
        return body["data"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[dict[str, Any]]:
    app = create_app(
        make_settings(Path(tmp_path_factory.mktemp("r")), store_url=store_url, flush_interval_ms=20)
    )
    with TestClient(app) as client:
        w = World(client, app)
        events = build()
        visits = sessionize(events)
        w.send(events)
        yield {"w": w, "events": events, "visits": visits}


def days(events: list[dict[str, Any]], first: int, last: int) -> list[dict[str, Any]]:
    """Events from TODAY-first to TODAY-last (days back), inclusive, UTC (the site's zone)."""
    lo, hi = TODAY - timedelta(days=first), TODAY - timedelta(days=last)
    return [e for e in events if lo <= e["at"].date() <= hi]


def top_stats(events: list[dict[str, Any]], visits: list[list[dict[str, Any]]]) -> dict[str, Any]:
    ids = {id(e) for e in events}
    vs = [v for v in visits if id(v[0]) in ids]  # a visit belongs to its first event's day
    pv = sum(e["event_type"] == "pageview" for e in events)
    bounces = sum(1 for v in vs if len(v) == 1)
    dur = sum((v[-1]["at"] - v[0]["at"]).total_seconds() for v in vs)
    n = len(vs)
    return {
        "total_views": pv,
        "unique_visitors": len({e["visitor_id"] for e in events}),
        "sessions_count": n,
        "avg_session_duration": int(half_up(Decimal(dur) / n, 0)) if n else 0,
        "avg_pages_per_session": half_up(Decimal(pv) / n, 2) if n else 0.0,
        "bounce_rate": half_up(Decimal(100 * bounces) / n, 1) if n else 0.0,
    }


def change(cur: Any, prev: Any) -> float | None:
    return (
        None
        if not prev
        else half_up((Decimal(str(cur)) - Decimal(str(prev))) / Decimal(str(prev)) * 100, 1)
    )


def test_summary_with_change(world: dict[str, Any]) -> None:
    got = world["w"].data("/api/v1/summary", period="7d", date=TODAY.isoformat())
    cur = top_stats(days(world["events"], 6, 0), world["visits"])
    prev = top_stats(days(world["events"], 13, 7), world["visits"])
    assert prev["total_views"] > 0, "the dataset must reach into the previous period"
    for k, v in cur.items():
        assert got[k] == v, k
        assert got["change_" + k] == change(v, prev[k]), k
    assert got["period"] == {
        "from": (TODAY - timedelta(days=6)).isoformat(),
        "to": TODAY.isoformat(),
    }
    assert got["comparison_period"]["to"] == (TODAY - timedelta(days=7)).isoformat()
    # Nothing in the previous period: every change is null, never a division by zero.
    got = world["w"].data(
        "/api/v1/summary", period="custom", **{"from": "2025-01-01", "to": "2025-01-07"}
    )
    assert all(got[f"change_{k}"] is None for k in cur)


def test_trends_zero_filled(world: dict[str, Any]) -> None:
    first = TODAY - timedelta(days=12)
    got = world["w"].data(
        "/api/v1/trends",
        period="custom",
        interval="day",
        metrics="visitors,pageviews",
        **{"from": first.isoformat(), "to": TODAY.isoformat()},
    )
    assert [b["date"] for b in got["series"]] == [
        (first + timedelta(days=i)).isoformat() for i in range(13)
    ]
    for b in got["series"]:
        evs = [e for e in world["events"] if e["at"].date().isoformat() == b["date"]]
        assert b == {
            "date": b["date"],
            "visitors": len({e["visitor_id"] for e in evs}),
            "pageviews": sum(e["event_type"] == "pageview" for e in evs),
        }
    assert got["series"][0] == {"date": first.isoformat(), "visitors": 0, "pageviews": 0}
    hours = world["w"].data(
        "/api/v1/trends", period="day", interval="hour", metrics="pageviews", date=TODAY.isoformat()
    )
    assert len(hours["series"]) == 24
    assert sum(b["pageviews"] for b in hours["series"]) == sum(
        e["event_type"] == "pageview" for e in days(world["events"], 0, 0)
    )


def test_pages_with_entries_and_exits(world: dict[str, Any]) -> None:
    got = world["w"].data("/api/v1/pages", period="30d", limit="100")
    evs, visits = world["events"], world["visits"]
    want = []
    for page in PAGES:
        mine = [e for e in evs if e["path"] == page]
        want.append(
            {
                "path": page,
                "pageviews": sum(e["event_type"] == "pageview" for e in mine),
                "visitors": len({e["visitor_id"] for e in mine}),
                "entries": sum(v[0]["v_entry"] == page for v in visits),
                "exits": sum(v[0]["v_exit"] == page for v in visits),
            }
        )
    want.sort(key=lambda r: (-r["pageviews"], r["path"]))
    assert got == want
    entry = world["w"].data("/api/v1/pages", period="30d", kind="entry")
    assert {r["path"]: r["entries"] for r in entry} == {
        r["path"]: r["entries"] for r in want if r["entries"]
    }
    exits = world["w"].data("/api/v1/pages", period="30d", kind="exit", limit="2")
    assert len(exits) == 2 and exits[0]["exits"] == max(r["exits"] for r in want)


@pytest.mark.parametrize(
    ("path", "by", "key"),
    [
        ("/api/v1/devices", "browser", "v_browser"),
        ("/api/v1/devices", "device", "v_device"),
        ("/api/v1/sources", "source", "v_source"),
        ("/api/v1/countries", "country", "v_country"),
    ],
)
def test_breakdowns_with_percentage(world: dict[str, Any], path: str, by: str, key: str) -> None:
    evs = world["events"]
    got = world["w"].data(path, period="30d", by=by)
    total = len({e["visitor_id"] for e in evs})
    want = {}
    for value in {e[key] for e in evs}:
        visitors = len({e["visitor_id"] for e in evs if e[key] == value})
        want[value] = {
            "name": value,
            "visitors": visitors,
            "visits": len({e["visit"] for e in evs if e[key] == value}),
            "percentage": half_up(Decimal(100 * visitors) / total, 1),
        }
    assert {r["name"]: r for r in got} == want


def test_breakdown_with_json_filters(world: dict[str, Any]) -> None:
    flt = json.dumps([["is", "visit:country", ["US"]], ["contains", "event:page", ["blog"]]])
    got = world["w"].data("/api/v1/sources", period="30d", by="source", filters=flt)
    evs = [e for e in world["events"] if e["v_country"] == "US" and "blog" in e["path"]]
    total = len({e["visitor_id"] for e in evs})
    want = {
        s: len({e["visitor_id"] for e in evs if e["v_source"] == s})
        for s in {e["v_source"] for e in evs}
    }
    assert {r["name"]: r["visitors"] for r in got} == want
    assert {r["name"]: r["percentage"] for r in got} == {
        s: half_up(Decimal(100 * n) / total, 1) for s, n in want.items()
    }


def test_custom_events_and_property_breakdown(world: dict[str, Any]) -> None:
    custom = [e for e in world["events"] if e["event_type"] not in ("pageview", "engagement")]
    total = len({e["visitor_id"] for e in custom})
    got = world["w"].data("/api/v1/events", period="30d")
    want = {}
    for name in {e["event_type"] for e in custom}:
        mine = [e for e in custom if e["event_type"] == name]
        visitors = len({e["visitor_id"] for e in mine})
        want[name] = {
            "name": name,
            "visitors": visitors,
            "events": len(mine),
            "percentage": half_up(Decimal(100 * visitors) / total, 1),
        }
    assert {r["name"]: r for r in got} == want
    signups = [e for e in custom if e["event_type"] == "signup"]
    got = world["w"].data("/api/v1/events", period="30d", name="signup", property="plan")
    assert {r["value"]: (r["visitors"], r["events"]) for r in got} == {
        p: (
            len({e["visitor_id"] for e in signups if e["metadata"]["plan"] == p}),
            sum(e["metadata"]["plan"] == p for e in signups),
        )
        for p in {e["metadata"]["plan"] for e in signups}
    }


def quantile_cont(values: list[int], q: float) -> float:
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def test_performance_percentiles(world: dict[str, Any]) -> None:
    got = {r["path"]: r for r in world["w"].data("/api/v1/performance", period="30d", limit="100")}
    for page in PAGES:
        loads = [
            e["load_time_ms"]
            for e in world["events"]
            if e["path"] == page and e["load_time_ms"] is not None
        ]
        if not loads:
            assert page not in got
            continue
        row = got[page]
        assert row["load_time_pageviews"] == len(loads)
        for p in (50, 90, 99):
            assert abs(row[f"load_time_p{p}"] - quantile_cont(loads, p / 100)) <= 0.5, (page, p)


def test_realtime_last_five_minutes(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, flush_interval_ms=20))
    with TestClient(app) as client:
        w = World(client, app)
        now = datetime.now(UTC)
        recent = [
            {
                "event_type": "pageview",
                "path": p,
                "at": now - timedelta(minutes=m),
                "visitor_id": v,
                "ip": "8.8.8.8",
                "user_agent": CHROME,
            }
            for p, m, v in [("/a", 2, "x"), ("/a", 1, "y"), ("/b", 3, "y"), ("/old", 10, "z")]
        ]
        w.send(recent)
        w.send([{**recent[0], "visitor_id": "elsewhere"}], key=w.other_key)
        got = w.data("/api/v1/realtime")
        assert got == {
            "current_visitors": 2,
            "pages": [{"path": "/a", "visitors": 2}, {"path": "/b", "visitors": 1}],
        }


BAD = [
    ("/api/v1/summary", {"period": "fortnight"}, "period"),
    ("/api/v1/summary", {"period": "7d'; DROP TABLE events; --"}, "period"),
    ("/api/v1/summary", {"period": "custom", "from": "2026-01-01"}, "to"),
    ("/api/v1/summary", {"period": "custom", "from": "yesterday", "to": "2026-01-01"}, "from"),
    ("/api/v1/summary", {"period": "custom", "from": "2026-02-01", "to": "2026-01-01"}, "to"),
    ("/api/v1/trends", {"interval": "minute"}, "interval"),
    ("/api/v1/trends", {"metrics": "visitors,1;DROP"}, "metrics"),
    ("/api/v1/trends", {"metrics": "visitors,visitors"}, "metrics"),
    ("/api/v1/pages", {"limit": "1 OR 1=1"}, "limit"),
    ("/api/v1/pages", {"limit": "0"}, "limit"),
    ("/api/v1/pages", {"kind": "middle"}, "kind"),
    ("/api/v1/devices", {"by": "device; DROP TABLE events"}, "by"),
    ("/api/v1/sources", {"by": "country"}, "by"),
    ("/api/v1/countries", {"filters": "not json"}, "filters"),
    ("/api/v1/countries", {"filters": '{"is": 1}'}, "filters"),
    ("/api/v1/countries", {"filters": '[["like", "event:page", ["/"]]]'}, "filters[0]"),
    ("/api/v1/countries", {"filters": '[["is", "visit:nope", ["x"]]]'}, "filters[0]"),
    ("/api/v1/events", {"property": "plan"}, "property"),
    ("/api/v1/events", {"name": "signup", "property": "x" * 200}, "property"),
    ("/api/v1/performance", {"period": "realtime"}, "period"),
    ("/api/v1/summary", {"site_id": ""}, "site_id"),
]


@pytest.mark.parametrize(("path", "params", "field"), BAD, ids=[f"{p}-{f}" for p, _, f in BAD])
def test_bad_input_is_400_naming_the_field(
    world: dict[str, Any], path: str, params: dict[str, str], field: str
) -> None:
    body = world["w"].get(path, status=400, **params)
    assert body["success"] is False and body["error"]
    assert body["details"][0]["field"] == field, body


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/summary",
        "/api/v1/trends",
        "/api/v1/pages",
        "/api/v1/devices",
        "/api/v1/sources",
        "/api/v1/countries",
        "/api/v1/events",
        "/api/v1/realtime",
        "/api/v1/performance",
        "/api/v1/sessions",
        "/api/v1/journey",
    ],
)
def test_auth_like_v2_query(world: dict[str, Any], path: str) -> None:
    w = world["w"]
    assert w.get(path, status=401, token=None)["success"] is False
    w.get(path, status=401, token="fft_wrong")
    w.get(path, status=404, token=w.other_token)
    w.get(path, status=404, token=ADMIN, site_id="no-such-site")
    w.get(path, status=404, token=w.token, site_id=w.other_id)
