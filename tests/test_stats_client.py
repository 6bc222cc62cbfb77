"""footfall.client.Stats against a real ``footfall serve`` over HTTP: rows of /api/v2/query
and of the /api/v1 reports, as data frames, and refusals naming the field."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from footfall.client import Client, FootfallError, Stats
from tests.serverproc import Server

pytestmark = pytest.mark.slow
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
# (visitor, path): 2 visitors on /, one of them also on /pricing.
VIEWS = [("a", "/"), ("a", "/"), ("b", "/"), ("a", "/pricing")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = Server(
        Path(tmp_path_factory.mktemp("stats")) / "data", FOOTFALL_RATE_LIMIT_PER_IP="0"
    ).start()
    try:
        status, site = server.admin_post(
            "/api/site/create", {"name": "S", "domains": ["s.example"]}
        )
        assert status == 201, site
        status, token = server.admin_post("/api/tokens", {"site_id": site["site_id"]})
        assert status == 201, token
        at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        sent = Client(server.url(""), site["api_key"]).track_many(
            [
                {
                    "event_type": "pageview",
                    "path": p,
                    "visitor_id": v,
                    "user_agent": UA,
                    "timestamp": at,
                }
                for v, p in VIEWS
            ]
        )
        assert sent.accepted == len(VIEWS)
        stats = Stats(server.url(""), token["token"])
        deadline = time.monotonic() + 15
        while stats.query(site["site_id"], ["pageviews"], date_range="7d")[0]["pageviews"] < 4:
            assert time.monotonic() < deadline, "events not stored in time"
            time.sleep(0.1)
        yield {"stats": stats, "site": site["site_id"]}
    finally:
        assert server.stop() == 0, server.log()


def test_query_rows_are_keyed_by_dimension_and_metric(world: dict[str, Any]) -> None:
    stats, site = world["stats"], world["site"]
    rows = stats.query(site, ["visitors", "pageviews"], dimensions=["event:page"], date_range="7d")
    assert rows == [
        {"event:page": "/", "visitors": 2, "pageviews": 3},
        {"event:page": "/pricing", "visitors": 1, "pageviews": 1},
    ]
    assert rows.columns == ["event:page", "visitors", "pageviews"]
    total = stats.query(site, ["visitors"], date_range="7d")
    assert total == [{"visitors": 2}]


def test_reports_give_rows(world: dict[str, Any]) -> None:
    stats, site = world["stats"], world["site"]
    pages = stats.report("pages", site, period="7d")
    assert {r.get("page", r.get("path")): r["pageviews"] for r in pages} == {"/": 3, "/pricing": 1}
    summary = stats.report("summary", site, period="7d")
    assert len(summary) == 1
    assert (summary[0]["unique_visitors"], summary[0]["total_views"]) == (2, 4)


def test_refusals_name_the_field(world: dict[str, Any]) -> None:
    stats, site = world["stats"], world["site"]
    with pytest.raises(FootfallError) as info:
        stats.query(site, ["no_such_metric"])
    assert info.value.status == 400 and info.value.field == "metrics"
    with pytest.raises(FootfallError) as info:
        Stats(stats.url, "wrong-token").query(site, ["visitors"])
    assert info.value.status in (401, 403)


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas not installed")
def test_to_pandas(world: dict[str, Any]) -> None:
    frame = (
        world["stats"]
        .query(world["site"], ["pageviews"], dimensions=["event:page"], date_range="7d")
        .to_pandas()
    )
    assert list(frame.columns) == ["event:page", "pageviews"]
    assert frame["pageviews"].tolist() == [3, 1]


@pytest.mark.skipif(importlib.util.find_spec("polars") is None, reason="polars not installed")
def test_to_polars(world: dict[str, Any]) -> None:
    frame = (
        world["stats"]
        .query(world["site"], ["pageviews"], dimensions=["event:page"], date_range="7d")
        .to_polars()
    )
    assert frame.columns == ["event:page", "pageviews"]
    assert frame["pageviews"].to_list() == [3, 1]
