"""The realtime chart's ``time:minute`` buckets (in the site's zone, only over short
ranges) and the top pages report leaving out paths that only custom events carried.
Expected values are literals or come from the events the test sends; on each store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
ZONE = ZoneInfo("Asia/Kolkata")  # +05:30: a minute label in UTC would be visibly wrong
AUTH = {"Authorization": f"Bearer {ADMIN}"}
NOW = datetime.now(UTC).replace(second=30, microsecond=0)
if datetime.now(UTC) < NOW:
    NOW -= timedelta(minutes=1)  # every event in the past, at mid-minute


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, store_url: str
) -> Iterator[tuple[TestClient, str]]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("m")), store_url=store_url))
    with TestClient(app) as client:
        r = client.post(
            "/api/site/create",
            json={"name": "M", "domains": ["m.com"], "timezone": ZONE.key},
            headers=AUTH,
        )
        site_id, key = r.json()["site_id"], r.json()["api_key"]
        events = [
            ("pageview", "/", "a", 3),
            ("pageview", "/", "b", 3),
            ("pageview", "/docs", "a", 1),
            ("Signup", "/api/hook", "c", 1),  # a path with no pageview
        ]
        body = [
            {
                "event_type": n,
                "path": p,
                "url": "https://m.com" + p,
                "visitor_id": v,
                "user_agent": UA,
                "timestamp": (NOW - timedelta(minutes=m)).isoformat(),
            }
            for n, p, v, m in events
        ]
        r = client.post("/api/events", json={"events": body}, headers={"x-api-key": key})
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)
        yield client, site_id


def query(
    client: TestClient, site_id: str, body: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    r = client.post("/api/v2/query", json={"site_id": site_id, **body}, headers=AUTH)
    assert r.status_code == status, r.text
    result: dict[str, Any] = r.json()
    return result


def minute(minutes_ago: int) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).astimezone(ZONE).strftime("%Y-%m-%d %H:%M:00")


def test_visitors_and_pageviews_per_minute_in_site_zone(site: tuple[TestClient, str]) -> None:
    client, site_id = site
    got = query(
        client,
        site_id,
        {
            "metrics": ["visitors", "pageviews"],
            "dimensions": ["time:minute"],
            "date_range": "realtime",
        },
    )
    assert {r["dimensions"][0]: r["metrics"] for r in got["results"]} == {
        minute(3): [2, 2],
        minute(1): [2, 1],
    }


def test_minute_labels_of_a_day(site: tuple[TestClient, str]) -> None:
    client, site_id = site
    got = query(
        client,
        site_id,
        {
            "metrics": ["visitors"],
            "dimensions": ["time:minute"],
            "date_range": "day",
            "include": {"time_labels": True},
        },
    )
    labels = got["meta"]["time_labels"]
    day = got["meta"]["period"]["from"]
    assert (
        len(labels) == 1440 and labels[0] == f"{day} 00:00:00" and labels[-1] == f"{day} 23:59:00"
    )
    assert labels[1] == f"{day} 00:01:00"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"date_range": "7d"}, "dimensions"),
        ({"date_range": ["2026-01-01", "2026-01-01"]}, "dimensions"),
        ({"date_range": "day", "compare": "previous_period"}, "dimensions"),
        ({"date_range": "day", "metrics": ["bot_events"]}, "metrics"),  # stored per hour
    ],
)
def test_minutes_only_over_short_ranges(
    site: tuple[TestClient, str], extra: dict[str, Any], field: str
) -> None:
    client, site_id = site
    body = {"metrics": ["visitors"], "dimensions": ["time:minute"], **extra}
    got = query(client, site_id, body, 400)
    assert [d["field"] for d in got["details"]] == [field], got


def test_top_pages_report_leaves_out_a_path_without_pageviews(site: tuple[TestClient, str]) -> None:
    client, site_id = site
    token = client.post("/api/tokens", json={"site_id": site_id}, headers=AUTH).json()["token"]

    def pages(**params: str) -> list[tuple[Any, ...]]:
        r = client.get(
            "/api/v1/pages",
            params={"site_id": site_id, "period": "7d", **params},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        return [tuple(p.values()) for p in r.json()["data"]]

    # path, pageviews, visitors, entries, exits: visitor a entered on / and left on /docs.
    assert pages() == [("/", 2, 2, 2, 1), ("/docs", 1, 1, 0, 1)]
    # c's visit (one custom event) has no entry or exit page: no "(none)" row, and the
    # limit counts real pages only.
    assert pages(kind="entry") == [("/", 2)]
    assert pages(kind="exit", limit="2") == [("/", 1), ("/docs", 1)]
