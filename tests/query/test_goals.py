"""``event:goal`` in POST /api/v2/query (Plausible Stats API v2): goals as a dimension and
a filter, with visitors, events and conversion rate per goal. Expected numbers are
literals worked out by hand from the events below (six visitors, one visit each)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.meta.prefs import SitePrefs
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
T0 = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=2)


def ev(who: str, name: str, path: str, minute: int, **extra: Any) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return {"event_type": name, "path": path, "visitor_id": who, "timestamp": at, **extra}


EVENTS = [
    ev("a", "pageview", "/", 0), ev("a", "pageview", "/pricing", 1),
    ev("a", "signup", "/pricing", 2, metadata={"plan": "pro"}),
    ev("b", "pageview", "/pricing", 0), ev("b", "pageview", "/pricing/", 3),  # "/" optional
    ev("c", "pageview", "/blog/a", 0), ev("c", "pageview", "/blog/a/b", 1),  # ** any depth
    ev("c", "signup", "/blog/a", 2, metadata={"plan": "free"}),
    ev("d", "pageview", "/docs/x", 0), ev("d", "pageview", "/docs/x/y", 1),  # * one segment
    ev("d", "purchase", "/pricing", 2, revenue=10.5),  # on /pricing, but no visit of it
    ev("e", "pageview", "/", 0),
    ev("f", "pageview", "/Pricing", 0),  # paths are case-sensitive
]  # fmt: skip
GOALS = [  # name, kind, target, property
    ("Signup", "event", "signup", ("", "")),
    ("Pro signup", "event", "signup", ("plan", "pro")),
    ("Visit pricing", "page", "/pricing", ("", "")),
    ("Blog", "page", "/blog/**", ("", "")),
    ("Docs", "page", "/docs/*", ("", "")),
    ("Purchase", "event", "purchase", ("", "")),
    ("Never", "event", "nothing", ("", "")),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Any]:
    settings = make_settings(Path(tmp_path_factory.mktemp("goals")), store_url=store_url)
    app = create_app(settings)
    with TestClient(app) as client:
        site = client.post("/api/site/create", json={"name": "G", "domains": ["goals.example"]},
                           headers=AUTH).json()  # fmt: skip
        prefs = SitePrefs(app.state.services.meta)
        for name, kind, target, (key, value) in GOALS:
            prefs.create_goal(site["site_id"], name, kind, target, key, value)
        r = client.post(
            "/api/events", json={"events": EVENTS}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)

        def run(body: dict[str, Any], status: int = 200) -> dict[str, Any]:
            full = {"site_id": site["site_id"], "date_range": "7d", **body}
            r = client.post("/api/v2/query", json=full, headers=AUTH)
            assert r.status_code == status, r.text
            out: dict[str, Any] = r.json()
            return out

        yield run, client, site


@pytest.fixture(scope="module")
def query(world: Any) -> Any:
    return world[0]


def rows(result: dict[str, Any]) -> dict[tuple[str, ...], list[Any]]:
    return {tuple(r["dimensions"]): r["metrics"] for r in result["results"]}


def test_goal_dimension_gives_each_goals_visitors_events_and_conversion_rate(query: Any) -> None:
    got = query(
        {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]}
    )
    # Six visitors in all. A page goal counts pageviews only: d's purchase on /pricing is
    # no visit of it, f's /Pricing is another path. Nobody completed "Never": no row.
    assert rows(got) == {
        ("Signup",): [2, 2, 33.3],
        ("Pro signup",): [1, 1, 16.7],
        ("Visit pricing",): [2, 3, 33.3],
        ("Blog",): [1, 2, 16.7],
        ("Docs",): [1, 1, 16.7],
        ("Purchase",): [1, 1, 16.7],
    }
    assert [r["dimensions"][0] for r in got["results"]][:2] == ["Signup", "Visit pricing"]


def test_goal_filter_keeps_the_events_completing_the_named_goals(query: Any) -> None:
    one = query({"metrics": ["visitors", "visits", "events", "conversion_rate"],
                 "filters": [["is", "event:goal", ["Visit pricing"]]]})  # fmt: skip
    assert one["results"][0]["metrics"] == [2, 2, 3, 33.3]
    two = query({"metrics": ["visitors", "events"],
                 "filters": [["is", "event:goal", ["Signup", "Blog"]]]})  # fmt: skip
    assert two["results"][0]["metrics"] == [2, 4]  # a's signup; c's signup and 2 blog pages
    # a's signup completes both Signup and Pro signup: one event, counted once.
    some = query({"metrics": ["visitors", "events"],
                  "filters": [["contains", "event:goal", ["SIGN"], {"case_sensitive": False}]]})  # fmt: skip
    assert some["results"][0]["metrics"] == [2, 2]
    # a goal the site does not have is a mistake, as in Plausible: a 400 naming it
    none = query({"metrics": ["visitors"], "filters": [["is", "event:goal", ["No such goal"]]]},
                 status=400)  # fmt: skip
    assert none["error"].startswith("The goal `No such goal` is not configured for this site.")


def test_goal_filter_with_a_page_breakdown_and_the_other_filters(query: Any) -> None:
    by_page = query({"metrics": ["visitors", "events"], "dimensions": ["event:page"],
                     "filters": [["is", "event:goal", ["Visit pricing"]]]})  # fmt: skip
    assert rows(by_page) == {("/pricing",): [2, 2], ("/pricing/",): [1, 1]}
    # Conversion rate over the visitors the other filters keep: only b entered on /pricing.
    entered = query({"metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal"],
                     "filters": [["is", "visit:entry_page", ["/pricing"]]]})  # fmt: skip
    assert rows(entered) == {("Visit pricing",): [1, 100.0]}
    chosen = query({"metrics": ["visitors"], "dimensions": ["event:goal"],
                    "filters": [["contains", "event:goal", ["ign"]]]})  # fmt: skip
    assert rows(chosen) == {("Signup",): [2], ("Pro signup",): [1]}


def test_revenue_belongs_to_the_goal_whose_events_carry_it(query: Any) -> None:
    # Footfall's plain sums: these goals have no currency (Plausible answers null then).
    got = query({"metrics": ["visitors", "total_revenue"], "dimensions": ["event:goal"],
                 "filters": [["is", "event:goal", ["Visit pricing", "Purchase"]]],
                 "include": {"plain_revenue": True}})  # fmt: skip
    assert rows(got) == {("Visit pricing",): [2, 0.0], ("Purchase",): [1, 10.5]}


def test_goal_totals_and_comparison(query: Any) -> None:
    got = query({"metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal"],
                 "filters": [["is", "event:goal", ["Blog"]]], "compare": "previous_period",
                 "include": {"totals": True}})  # fmt: skip
    assert got["results"][0]["metrics"] == [1, 16.7]
    assert got["results"][0]["comparison"]["metrics"] == [0, 0.0]
    assert got["meta"]["totals"]["metrics"] == {"visitors": 1, "conversion_rate": 16.7}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"metrics": ["visitors"], "filters": [["is_not", "event:goal", ["Signup"]]]},
            "filters[0]",
        ),
        ({"metrics": ["visitors"], "filters": [["matches", "event:goal", ["S.*"]]]}, "filters[0]"),
        ({"metrics": ["bounce_rate"], "dimensions": ["event:goal"]}, "metrics"),
        ({"metrics": ["percentage"], "dimensions": ["event:goal"]}, "metrics"),
        ({"metrics": ["visitors", "conversion_rate"]}, "metrics"),
    ],
)
def test_bad_goal_queries_are_400_naming_the_field(
    query: Any, body: dict[str, Any], field: str
) -> None:
    got = query(body, status=400)
    assert field in str(got), got


def test_the_query_export_answers_goal_breakdowns_too(world: Any) -> None:
    _, client, site = world
    body = {"site_id": "goals.example", "metrics": ["visitors"], "date_range": "7d",
            "dimensions": ["event:goal"], "filters": [["is", "event:goal", ["Blog", "Docs"]]]}  # fmt: skip
    r = client.post("/api/v1/export?format=csv", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert sorted(r.text.splitlines()) == sorted(
        ['"event:goal","visitors"', '"Blog",1', '"Docs",1']
    )


def test_reports_that_read_no_goals_refuse_a_goal_filter(world: Any) -> None:
    _, client, site = world
    flt = '[["is", "event:goal", ["Signup"]]]'
    for path in ("/api/v1/sessions", "/api/v1/summary"):
        r = client.get(path, params={"site_id": site["site_id"], "filters": flt}, headers=AUTH)
        assert r.status_code == 400 and "filters" in r.text, r.text


def test_goal_breakdown_by_day_and_goal_ordering(query: Any) -> None:
    day = T0.date().isoformat()
    got = query({"metrics": ["visitors"], "dimensions": ["time:day", "event:goal"],
                 "filters": [["is", "event:goal", ["Visit pricing", "Docs"]]],
                 "order_by": [["event:goal", "asc"]]})  # fmt: skip
    assert [r["dimensions"] for r in got["results"]] == [[day, "Docs"], [day, "Visit pricing"]]
    assert [r["metrics"] for r in got["results"]] == [[1], [2]]
