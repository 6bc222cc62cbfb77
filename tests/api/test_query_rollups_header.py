"""POST /api/v2/query marks an answer given while a rollups build runs
(``x-footfall-rollups: building``): the dashboard then says why its panels are slow
(tests/browser/test_dashboard_browser.py). The body stays Plausible's shape."""

from __future__ import annotations

from typing import Any

from footfall.store.duckdb import DuckDBStore
from tests.conftest import Footfall


def ask(ff: Footfall) -> Any:
    body = {"site_id": ff.site_id, "metrics": ["visitors"], "date_range": "7d"}
    r = ff.client.post("/api/v2/query", json=body, headers={"Authorization": f"Bearer {ff.token}"})
    assert r.status_code == 200, r.text
    return r


def test_answers_during_a_rollups_build_say_so(footfall: Footfall) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    assert ff.send({"event_type": "pageview", "path": "/", "url": "https://shop.example.com/",
                    "visitor_id": "v1"}).status_code == 202  # fmt: skip
    ff.flush()
    quiet = ask(ff)
    assert "x-footfall-rollups" not in quiet.headers
    with store._priority.building():  # as the rollups job holds it around a build
        during = ask(ff)
    assert during.headers["x-footfall-rollups"] == "building"
    assert (
        during.json()["results"] == quiet.json()["results"] == [{"metrics": [1], "dimensions": []}]
    )
    assert "x-footfall-rollups" not in ask(ff).headers


def test_the_header_is_documented(footfall: Footfall) -> None:
    doc = footfall.client.get("/api/openapi.json").json()
    ok = doc["paths"]["/api/v2/query"]["post"]["responses"]["200"]
    assert ok["headers"]["x-footfall-rollups"]["schema"]["enum"] == ["building"]
