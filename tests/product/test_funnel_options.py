"""Funnels, further: a conversion window per funnel (the same visit, or N hours by
visitor), a breakdown by one dimension, the median time between steps and a comparison
with the previous period. Five visitors built by hand; every figure a literal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.product.conftest import AUTH, World

T0 = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=2)
GOOGLE = "https://www.google.com/"


def ev(who: str, minutes: int, name: str = "pageview", path: str = "/pricing", ref: str = ""
       ) -> dict[str, Any]:  # fmt: skip
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"event_type": name, "path": path, "visitor_id": who, "timestamp": at, "referrer": ref}


EVENTS = [
    ev("a", 0, ref=GOOGLE), ev("a", 5, "Signup"),  # the same visit
    ev("b", 0, ref=GOOGLE), ev("b", 90, "Signup"),  # a later visit, within 2 hours
    ev("c", 0), ev("c", 300, "Signup"),  # five hours later
    ev("d", 0),  # entered only
    ev("e", 0, path="/"),  # never entered
    ev("f", -24 * 60), ev("f", -24 * 60 + 1, "Signup"),  # the day before
]  # fmt: skip
DAY = {"period": "custom", "from": T0.date().isoformat(), "to": T0.date().isoformat()}


@pytest.fixture(scope="module")
def site(world: World) -> dict[str, Any]:
    s = world.site("funnels.example")
    world.send(s, EVENTS)
    base = f"/api/v1/sites/{s['site_id']}"
    goals = []
    for goal in ({"name": "Pricing", "kind": "page", "target": "/pricing"},
                 {"name": "Signup", "kind": "event", "target": "Signup"}):  # fmt: skip
        r = world.client.post(f"{base}/goals", json=goal, headers=AUTH)
        goals.append(r.json()["data"]["id"])
    funnels = {}
    for name, hours in (("visit", 0), ("2h", 2), ("day", 24)):
        body = {"name": name, "steps": goals, "window_hours": hours}
        r = world.client.post(f"{base}/funnels", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        assert r.json()["data"]["window_hours"] == hours
        funnels[name] = r.json()["data"]["id"]
    return {"site_id": s["site_id"], "funnels": funnels}


def funnel(world: World, site: dict[str, Any], name: str, status: int = 200, **params: Any
           ) -> Any:  # fmt: skip
    return world.get("/api/v1/funnel", status, site_id=site["site_id"],
                     funnel_id=site["funnels"][name], **{**DAY, **params})  # fmt: skip


@pytest.mark.parametrize(("name", "window", "reached"), [
    ("visit", "visit", [4, 1]), ("2h", "2h", [4, 2]), ("day", "24h", [4, 3]),
])  # fmt: skip
def test_each_funnel_has_its_conversion_window(
    world: World, site: dict[str, Any], name: str, window: str, reached: list[int]
) -> None:
    got = funnel(world, site, name)
    assert got["window"] == window
    assert (got["all_visitors"], [s["visitors"] for s in got["steps"]]) == (5, reached)


def test_median_time_between_steps(world: World, site: dict[str, Any]) -> None:
    steps = funnel(world, site, "day")["steps"]
    assert [s["median_seconds"] for s in steps] == [None, 5400]  # of 300, 5400 and 18000 s
    assert [s["median_seconds"] for s in funnel(world, site, "2h")["steps"]] == [None, 2850]


def test_breakdown_by_the_source_the_funnel_started_from(world: World, site: dict[str, Any]
                                                         ) -> None:  # fmt: skip
    got = funnel(world, site, "day", breakdown="visit:source")["breakdown"]
    assert got["dimension"] == "visit:source"
    rows = {r["value"]: (r["all_visitors"], [s["visitors"] for s in r["steps"]])
            for r in got["results"]}  # fmt: skip
    # b signed up in a later, direct visit: still Google's, where b's funnel started; b is
    # one of the four visitors who came directly at some point (c, d, e, b).
    assert rows == {"Google": (2, [2, 2]), "Direct / None": (4, [2, 1])}
    assert [r["value"] for r in got["results"]] == ["Direct / None", "Google"]  # ties by name


def test_comparison_with_the_previous_period(world: World, site: dict[str, Any]) -> None:
    got = funnel(world, site, "day", compare="previous_period")
    assert got["comparison"]["date_range"] == [(T0 - timedelta(days=1)).date().isoformat()] * 2
    assert (got["comparison"]["all_visitors"], got["comparison"]["entering_visitors"]) == (1, 1)
    assert [s["comparison"] for s in got["steps"]] == [
        {"visitors": 1, "conversion_rate": 100.0, "change": 300.0},
        {"visitors": 1, "conversion_rate": 100.0, "change": 200.0},
    ]


@pytest.mark.parametrize(("params", "field"), [
    ({"breakdown": "visit:nothing"}, "breakdown"),
    ({"breakdown": "time:day"}, "breakdown"),
    ({"compare": "last_week"}, "compare"),
])  # fmt: skip
def test_bad_options_are_400_naming_them(
    world: World, site: dict[str, Any], params: dict[str, str], field: str
) -> None:
    body = funnel(world, site, "day", 400, **params)
    assert [d["field"] for d in body["details"]] == [field]


def test_bad_windows_are_400(world: World, site: dict[str, Any]) -> None:
    base = f"/api/v1/sites/{site['site_id']}/funnels"
    for window in (-1, 100_000, "2h", True):
        body = {"name": "w", "steps": [1, 2], "window_hours": window}
        r = world.client.post(base, json=body, headers=AUTH)
        assert r.status_code == 400, r.text
        assert r.json()["details"][0]["field"] == "window_hours"
