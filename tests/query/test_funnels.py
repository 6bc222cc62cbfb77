"""Funnels (``/api/v1/funnels``, ``/api/v1/funnel``): visitors who completed a site's goals
in order, each step strictly after the one before and within 24 hours of the first.
Expected numbers are literals, and a plain-Python reference of docs/design.md's definition
computes them again from the events the test sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.meta.prefs import SitePrefs
from tests.conftest import ADMIN, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
T0 = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=5)
M, H = timedelta(minutes=1), timedelta(hours=1)


def page(who: str, path: str, at: datetime) -> dict[str, Any]:
    return {"event_type": "pageview", "path": path, "visitor_id": who, "timestamp": at.isoformat()}


def custom(who: str, name: str, at: datetime, **props: str) -> dict[str, Any]:
    e = {"event_type": name, "path": "/app", "visitor_id": who, "timestamp": at.isoformat()}
    return {**e, "metadata": props} if props else e


EVENTS = [
    page("a", "/pricing", T0), custom("a", "Signup", T0 + 10 * M),
    custom("a", "Purchase", T0 + 20 * M, plan="pro"),  # all three: step 3
    custom("b", "Signup", T0), page("b", "/pricing", T0 + 5 * M),  # wrong order: step 1
    page("c", "/pricing", T0), custom("c", "Signup", T0 + 25 * H),  # too late: step 1
    page("d", "/pricing", T0), custom("d", "Signup", T0 + M),
    custom("d", "Purchase", T0 + 2 * M, plan="basic"),  # not the pro plan: step 2
    page("e", "/blog", T0),  # a visitor who never enters
    page("f", "/pricing", T0), page("f", "/pricing", T0 + 30 * H),
    custom("f", "Signup", T0 + 31 * H),  # the second start reaches step 2
    custom("g", "Purchase", T0, plan="pro"), page("g", "/pricing", T0 + M),  # step 1
    page("h", "/pricing", T0), custom("h", "Signup", T0),  # same instant: step 1
    page("i", "/pricing/", T0), custom("i", "Signup", T0 + H),
    custom("i", "Purchase", T0 + 23 * H + 59 * M, plan="pro"),  # inside the day: step 3
]  # fmt: skip
GOALS = [  # name, kind, target, property
    ("Pricing", "page", "/pricing", ("", "")),
    ("Signup", "event", "Signup", ("", "")),
    ("Pro purchase", "event", "Purchase", ("plan", "pro")),
]


def completes(event: dict[str, Any], goal: tuple[str, str, str, tuple[str, str]]) -> bool:
    _, kind, target, (key, value) = goal
    if kind == "page":  # a path glob without wildcards: the path, with or without a "/"
        return re.fullmatch(re.escape(target) + "/?", event["path"]) is not None
    props = event.get("metadata") or {}
    return event["event_type"] == target and (not key or props.get(key) == value)


def reference(events: list[dict[str, Any]], goals: list[Any]) -> tuple[int, list[int]]:
    """docs/design.md "Metric definitions", literally: every start, every choice of later events."""

    def at(e: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(e["timestamp"])

    def longest(mine: list[dict[str, Any]], k: int, start: datetime, prev: datetime) -> int:
        if k == len(goals):
            return k
        nexts = [e for e in mine if completes(e, goals[k]) and prev < at(e) <= start + 24 * H]
        return max([longest(mine, k + 1, start, at(e)) for e in nexts], default=k)

    reached: dict[str, int] = {}
    for who in {e["visitor_id"] for e in events}:
        mine = [e for e in events if e["visitor_id"] == who]
        starts = [at(e) for e in mine if completes(e, goals[0])]
        reached[who] = max([longest(mine, 1, t, t) for t in starts], default=0)
    return len(reached), [sum(r >= k for r in reached.values()) for k in range(1, len(goals) + 1)]


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, store_url: str
) -> Iterator[tuple[TestClient, str, int]]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("f")), store_url=store_url))
    with TestClient(app) as client:
        r = client.post("/api/site/create", json={"name": "F", "domains": ["f.com"]}, headers=AUTH)
        site_id, key = r.json()["site_id"], r.json()["api_key"]
        events = [{**e, "user_agent": UA} for e in EVENTS]
        r = client.post("/api/events", json={"events": events}, headers={"x-api-key": key})
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)
        prefs = SitePrefs(app.state.services.meta)
        ids = [prefs.create_goal(site_id, n, k, t, *p).id for n, k, t, p in GOALS]
        funnel = prefs.create_funnel(site_id, "Checkout", ids)
        yield client, site_id, funnel.id


def get(client: TestClient, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers=AUTH)


def period() -> dict[str, str]:
    return {"period": "custom", "from": (T0 - 24 * H).date().isoformat(),
            "to": datetime.now(UTC).date().isoformat()}  # fmt: skip


def test_funnel_counts_visitors_who_completed_the_steps_in_order(site: Any) -> None:
    client, site_id, funnel_id = site
    r = get(client, "/api/v1/funnel", site_id=site_id, funnel_id=funnel_id, **period())
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["funnel"] == {"id": funnel_id, "name": "Checkout"}
    assert reference(EVENTS, GOALS) == (9, [8, 4, 2])
    assert (data["all_visitors"], data["entering_visitors"]) == (9, 8)
    assert data["never_entering_visitors"] == 1
    assert data["entering_visitors_percentage"] == 88.9
    assert data["never_entering_visitors_percentage"] == 11.1
    assert data["steps"] == [
        {"label": "Pricing", "visitors": 8, "conversion_rate": 100.0,
         "conversion_rate_step": 100.0, "dropoff": 0, "dropoff_percentage": 0.0,
         "median_seconds": None},
        # a 10 min, d 1 min, f and i 1 h: the median of 60, 600, 3600, 3600 s
        {"label": "Signup", "visitors": 4, "conversion_rate": 50.0,
         "conversion_rate_step": 50.0, "dropoff": 4, "dropoff_percentage": 50.0,
         "median_seconds": 2100},
        # a 10 min, i 22 h 59 min: (600 + 82740) / 2
        {"label": "Pro purchase", "visitors": 2, "conversion_rate": 25.0,
         "conversion_rate_step": 50.0, "dropoff": 2, "dropoff_percentage": 50.0,
         "median_seconds": 41670},
    ]  # fmt: skip
    assert data["window"] == "24h"


def test_funnel_honours_the_period_and_filters(site: Any) -> None:
    client, site_id, funnel_id = site
    # A filter applies to every event: /blog's visitor leaves the period's visitors, and
    # no step event is on /blog, so the steps keep theirs.
    flt = '[["is_not", "event:page", ["/blog"]]]'
    r = get(client, "/api/v1/funnel", site_id=site_id, funnel_id=funnel_id, filters=flt, **period())
    data = r.json()["data"]
    assert data["all_visitors"] == 8
    assert [s["visitors"] for s in data["steps"]] == [8, 4, 2]
    # The day before T0 holds nothing; T0's own day lacks c's, f's and i's later events.
    day = T0.date().isoformat()
    r = get(client, "/api/v1/funnel", site_id=site_id, funnel_id=funnel_id,
            period="custom", **{"from": day, "to": day})  # fmt: skip
    only_t0 = [e for e in EVENTS if e["timestamp"][:10] == day]
    assert reference(only_t0, GOALS) == (9, [8, 3, 1])
    assert [s["visitors"] for s in r.json()["data"]["steps"]] == [8, 3, 1]


def test_funnels_are_listed_with_their_steps(site: Any) -> None:
    client, site_id, funnel_id = site
    r = get(client, "/api/v1/funnels", site_id=site_id)
    assert r.status_code == 200
    assert r.json()["data"] == [
        {"id": funnel_id, "name": "Checkout", "steps": ["Pricing", "Signup", "Pro purchase"]}
    ]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({}, 400, "funnel_id"),
        ({"funnel_id": "1 OR 1=1"}, 400, "funnel_id"),
        ({"funnel_id": "-1"}, 400, "funnel_id"),
        ({"funnel_id": "99999"}, 404, None),
        ({"funnel_id": "1", "period": "custom", "from": "2026-13-01", "to": "x"}, 400, None),
        (
            {"funnel_id": "1", "filters": '[["is", "event:page\'; DROP TABLE events;--", [1]]]'},
            400,
            "filters[0]",
        ),
    ],
)
def test_bad_funnel_requests_are_4xx_naming_the_field(
    site: Any, params: dict[str, str], status: int, field: str | None
) -> None:
    client, site_id, _ = site
    r = get(client, "/api/v1/funnel", site_id=site_id, **params)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False
    if field:
        assert body["details"][0]["field"] == field


def test_a_funnel_of_another_site_is_not_found_and_a_token_is_needed(site: Any) -> None:
    client, site_id, funnel_id = site
    r = client.post("/api/site/create", json={"name": "O", "domains": ["o.com"]}, headers=AUTH)
    other = r.json()["site_id"]
    assert get(client, "/api/v1/funnel", site_id=other, funnel_id=funnel_id).status_code == 404
    r = client.get("/api/v1/funnel", params={"site_id": site_id, "funnel_id": funnel_id})
    assert r.status_code == 401
