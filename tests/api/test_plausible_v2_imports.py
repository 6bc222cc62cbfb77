"""Imported aggregates under Plausible's rules on ``POST /api/v2/query``
(``include.imports``): filters on the imported table read, goals (an event goal on the
custom events table, a page goal on the pages table), the totals behind percentage and
conversion rate, and the rows Plausible leaves out. Expected figures are the fixture's
collected and imported counts added by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.store.imported import conform
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
DAY = date.today() - timedelta(days=3)
# Imported (kind, dimension columns, counts) on DAY.
IMPORTED = [
    ("visitors", {}, {"visitors": 20, "visits": 22, "pageviews": 40}),
    ("pages", {"page": "/blog"}, {"visitors": 3, "pageviews": 5}),
    ("pages", {"page": "/BLOG/post"}, {"visitors": 2, "pageviews": 4}),
    ("pages", {"page": "/never-viewed"}, {"visitors": 1, "pageviews": 0}),
    ("custom_events", {"name": "Purchase"}, {"visitors": 4, "events": 6}),
    ("sources", {"source": "Google", "utm_source": "news"}, {"visitors": 5, "visits": 5}),
    ("sources", {"source": "Bing"}, {"visitors": 7, "visits": 7}),
    ("exit_pages", {"exit_page": "/blog"}, {"visitors": 2, "exits": 3}),
]
# Collected: two visitors view /blog, one of them buys.
EVENTS = [("pageview", "/blog", "a"), ("pageview", "/blog", "b"), ("Purchase", "/blog", "b")]


@pytest.fixture
def client(tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, store_url=store_url))
    with TestClient(app) as c:
        created = c.post("/api/site/create", json={"name": "I", "domains": ["i.example"]},
                         headers=AUTH).json()  # fmt: skip
        sid = created["site_id"]
        for goal in ({"name": "Purchase", "kind": "event", "target": "Purchase"},
                     {"name": "Visit /blog", "kind": "page", "target": "/blog"}):  # fmt: skip
            assert c.post(f"/api/v1/sites/{sid}/goals", headers=AUTH, json=goal).status_code == 201
        rows = [{"kind": k, "date": DAY, **dims, **counts} for k, dims, counts in IMPORTED]
        names = {n for r in rows for n in r}
        table = pa.table({n: [r.get(n) for r in rows] for n in names})
        app.state.services.store.write_imported(sid, "test", conform(table, sid, "test"))
        events = [{"event_type": n, "path": p, "visitor_id": v,
                   "timestamp": f"{DAY}T12:00:00Z"} for n, p, v in EVENTS]  # fmt: skip
        r = c.post(
            "/api/events", json={"events": events}, headers={"x-api-key": created["api_key"]}
        )
        assert r.status_code == 202, r.text
        assert app.state.services.writer.wait_idle(15)
        yield c


def _ask(c: TestClient, **body: Any) -> dict[str, Any]:
    body = {"site_id": "i.example", "date_range": [str(DAY), str(DAY)],
            "include": {"imports": True}, **body}  # fmt: skip
    r = c.post("/api/v2/query", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _rows(answer: dict[str, Any]) -> dict[str, list[Any]]:
    return {"/".join(r["dimensions"]): r["metrics"] for r in answer["results"]}


def test_a_filter_on_the_imported_table_read_applies_to_it(client: TestClient) -> None:
    got = _ask(client, metrics=["visitors", "pageviews"],
               filters=[["contains", "event:page", ["blog"], {"case_sensitive": False}]])  # fmt: skip
    # collected 2 visitors / 2 pageviews; imported /blog 3/5 and /BLOG/post 2/4
    assert got["results"][0]["metrics"] == [2 + 3 + 2, 2 + 5 + 4]
    assert got["meta"]["imports_included"] is True
    other = _ask(client, metrics=["visitors"], dimensions=["event:page"],
                 filters=[["is", "visit:source", ["Google"]]])  # fmt: skip
    assert other["meta"]["imports_skip_reason"] == "unsupported_query"


def test_goals_read_custom_events_and_pages(client: TestClient) -> None:
    event = _ask(
        client, metrics=["visitors", "events"], filters=[["is", "event:goal", ["Purchase"]]]
    )
    assert event["results"][0]["metrics"] == [1 + 4, 1 + 6]
    by_goal = _rows(_ask(client, metrics=["visitors", "events", "conversion_rate"],
                         dimensions=["event:goal"]))  # fmt: skip
    # rate: over collected 2 + imported 20 visitors; a page goal's events are pageviews
    assert by_goal == {"Purchase": [5, 7, 22.7], "Visit /blog": [2 + 3, 2 + 5, 22.7]}


def test_percentage_counts_imported_visitors_and_plausibles_omissions(client: TestClient) -> None:
    sources = _rows(_ask(client, metrics=["visitors", "percentage"], dimensions=["visit:source"]))
    # total: collected 2 + imported 20
    assert sources["Bing"] == [7, 31.8] and sources["Google"] == [5, 22.7]
    utm = _rows(_ask(client, metrics=["visitors"], dimensions=["visit:utm_source"]))
    assert utm == {"news": [5], "(not set)": [2]}  # no imported row without a UTM value
    pages = _rows(_ask(client, metrics=["pageviews"], dimensions=["event:page"]))
    assert "/never-viewed" not in pages and pages["/blog"] == [2 + 5]
    exits = _rows(_ask(client, metrics=["visits"], dimensions=["visit:exit_page"]))
    assert exits["/blog"] == [2 + 3]  # an imported exit page's visits are its exits
