"""Plausible's ``include.comparisons`` on ``POST /api/v2/query``: the comparison in
Plausible's request shape, its change figures (whole percent; rates in points; 100 from
nothing), and a compared time series listing every bucket. Footfall's own top-level
``compare`` keeps its one-decimal change. Expected figures are counted from the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
DAY0 = date.today() - timedelta(days=20)  # the previous week: DAY0 .. DAY0+6
# (days after DAY0, visitor): 3 pageviews in the previous week, 1 in the week asked for.
VIEWS = [(0, "a"), (0, "b"), (1, "c"), (7, "d")]
WEEK = [(DAY0 + timedelta(days=7)).isoformat(), (DAY0 + timedelta(days=13)).isoformat()]
PLAUSIBLE = {"comparisons": {"mode": "previous_period"}}


@pytest.fixture
def client(tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, store_url=store_url, max_past_days=60))
    with TestClient(app) as c:
        created = c.post("/api/site/create", json={"name": "C", "domains": ["c.example"]},
                         headers=AUTH).json()  # fmt: skip
        events = [{"event_type": "pageview", "path": "/", "visitor_id": v,
                   "timestamp": f"{DAY0 + timedelta(days=d)}T12:00:00Z"} for d, v in VIEWS]  # fmt: skip
        r = c.post(
            "/api/events", json={"events": events}, headers={"x-api-key": created["api_key"]}
        )
        assert r.status_code == 202 and not r.json().get("rejected"), r.text
        assert app.state.services.writer.wait_idle(15)
        yield c


def _post(c: TestClient, **body: Any) -> Any:
    return c.post("/api/v2/query", json={"site_id": "c.example", "metrics": ["pageviews"],
                                         "date_range": WEEK, **body}, headers=AUTH)  # fmt: skip


def test_change_is_plausibles_whole_percent(client: TestClient) -> None:
    r = _post(client, include=PLAUSIBLE)
    assert r.status_code == 200, r.text
    # 1 against 3: -66.7 % rounds to -67 (Footfall's own compare says -66.7)
    assert r.json()["results"] == [
        {"dimensions": [], "metrics": [1], "comparison": {"dimensions": [], "metrics": [3],
                                                          "change": [-67]}}]  # fmt: skip
    own = _post(client, compare="previous_period").json()["results"][0]["comparison"]
    assert own["change"] == [-66.7]


def test_a_compared_time_series_lists_every_day(client: TestClient) -> None:
    r = _post(client, include=PLAUSIBLE, dimensions=["time:day"])
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert [row["dimensions"][0] for row in rows] == [
        (DAY0 + timedelta(days=7 + i)).isoformat() for i in range(7)]  # fmt: skip
    # day 0: 1 now, 2 the week before; day 1: 0 against 1; days 2-6: nothing either side
    assert [(r["metrics"][0], r["comparison"]["metrics"][0], r["comparison"]["change"][0])
            for r in rows] == [(1, 2, -50), (0, 1, -100)] + [(0, 0, 0)] * 5  # fmt: skip
    assert rows[1]["comparison"]["dimensions"] == [(DAY0 + timedelta(days=1)).isoformat()]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"include": {"comparisons": "previous_period"}}, "include"),
     ({"include": PLAUSIBLE, "compare": "previous_period"}, "include.comparisons"),
     ({"include": {"comparisons": {"mode": "sometime"}}}, "include.comparisons"),
     ({"include": {"total_rows": "yes"}}, "include")],
)  # fmt: skip
def test_bad_comparisons_are_refused_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    r = _post(client, **body)
    assert r.status_code == 400, r.text
    assert r.json()["details"][0]["field"].startswith(field)
