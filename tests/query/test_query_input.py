"""Hostile query input is a JSON 400 naming the field on every endpoint that takes a query
(/api/v2/query, /api/v1/*, both exports, a shared link's query), never a 500: regular
expressions the engine's RE2 refuses, dates at the calendar's edges, deep nesting,
bodies that are not JSON text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.meta.users import Accounts
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}


class World:
    def __init__(self, client: TestClient, app: Any) -> None:
        self.client = client
        site = client.post(
            "/api/site/create", json={"name": "Q", "domains": ["q.org"]}, headers=AUTH
        ).json()
        self.site_id = site["site_id"]
        self.slug = Accounts(app.state.services.meta).create_share(self.site_id)
        at = datetime.now(UTC) - timedelta(hours=2)
        events = [
            {
                "event_type": "pageview",
                "path": path,
                "visitor_id": f"v{i}",
                "ip": "8.8.8.8",
                "timestamp": (at + timedelta(minutes=i)).isoformat(),
                "url": f"https://q.org{path}",
            }
            for i, path in enumerate(["/", "/blog/a", "/blog/b", "/docs"])
        ]
        r = client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)

    def body(self, **kw: Any) -> dict[str, Any]:
        return {"site_id": self.site_id, "metrics": ["visitors"], "date_range": "7d", **kw}

    def post(self, path: str, content: bytes | None = None, **kw: Any) -> Any:
        path = path.replace("{slug}", self.slug)
        data = content if content is not None else json.dumps(self.body(**kw)).encode()
        headers = {**AUTH, "content-type": "application/json"}
        return self.client.post(path, content=data, headers=headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params={"site_id": self.site_id, **params}, headers=AUTH)


POSTS = ["/api/v2/query", "/api/v1/export?format=csv", "/share/{slug}/query"]
GETS = ["/api/v1/summary", "/api/v1/pages", "/api/v1/sessions", "/api/v1/export"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[World]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("qi")), store_url=store_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, app)


def field_of(r: Any) -> str:
    assert r.status_code == 400, (r.status_code, r.text)
    body = r.json()
    assert body["success"] is False
    return str(body["details"][0]["field"])


# Python's re accepts every one of these; RE2 (DuckDB's and ClickHouse's) refuses them.
NOT_RE2 = ["(?=a)", "(?!a)", "(?<=a)b", r"(a)\1", "a*+", "a++", "(?P<n>a)(?P=n)", r"\Z",
           "(?<n>a)", "((a{100}){100}){100}"]  # fmt: skip


@pytest.mark.parametrize("pattern", NOT_RE2)
@pytest.mark.parametrize("op", ["matches", "matches_not"])
def test_regex_the_engine_refuses_is_400_naming_the_filter(
    world: World, pattern: str, op: str
) -> None:
    flt = [op, "event:page", ["/", pattern]]
    for path in POSTS:
        r = world.post(path, filters=[["is", "visit:source", ["x"]], flt])
        assert field_of(r) == "filters[1]", path
        assert pattern in r.json()["details"][0]["message"]
        nested = world.post(path, filters=[["not", ["or", [["is", "event:page", ["/"]], flt]]]])
        assert field_of(nested) == "filters[0][1][1]", path
    for path in GETS:
        assert field_of(world.get(path, filters=json.dumps([flt]))) == "filters[0]", path


def test_regex_re2_accepts_still_filters(world: World) -> None:
    r = world.post("/api/v2/query", filters=[["matches", "event:page", ["^/bl(og)?/[ab]$"]]])
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["metrics"] == [2]


V2_DATES = [
    ({"date_range": ["0001-01-01", "0001-01-02"]}, "date_range"),
    ({"date_range": ["9999-12-30", "9999-12-31"]}, "date_range"),
    ({"date_range": ["2026-01-01", "9999-12-31"]}, "date_range"),
    ({"date_range": ["1900-01-01", "1900-01-31"], "compare": "year_over_year"}, "compare"),
    ({"date_range": ["1900-01-01", "1900-01-31"], "compare": "previous_period"}, "compare"),
    (
        {
            "date_range": "7d",
            "compare": {"mode": "custom", "date_range": ["0001-01-01", "0001-01-02"]},
        },
        "compare",
    ),
    ({"date_range": "12mo", "date": "0001-03-01"}, "date"),
    ({"date_range": "12mo", "date": "1900-06-01"}, "date_range"),
    ({"date_range": "7d", "date": "9999-12-31"}, "date"),
    ({"date_range": "year", "date": "0001-01-01"}, "date"),
]


@pytest.mark.parametrize(("body", "field"), V2_DATES, ids=[json.dumps(b) for b, _ in V2_DATES])
def test_dates_at_the_calendars_edges_are_400_naming_the_field(
    world: World, body: dict[str, Any], field: str
) -> None:
    for path in POSTS:
        assert field_of(world.post(path, **body)) == field, path


V1_DATES = [
    ({"period": "custom", "from": "0001-01-01", "to": "2026-01-01"}, "from"),
    ({"period": "custom", "from": "2026-01-01", "to": "9999-12-31"}, "to"),
    ({"date": "0001-01-01"}, "date"),
    ({"date": "9999-12-31"}, "date"),
    ({"period": "12mo", "date": "1900-02-01"}, "date_range"),
]


@pytest.mark.parametrize(("params", "field"), V1_DATES, ids=[json.dumps(p) for p, _ in V1_DATES])
def test_v1_dates_at_the_calendars_edges_are_400_naming_the_field(
    world: World, params: dict[str, str], field: str
) -> None:
    for path in GETS:
        assert field_of(world.get(path, **params)) == field, path


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date": "9999-12-31"}, "date"),
        ({"date": "0001-01-01"}, "date"),
        ({"from": "0001-01-01", "to": "2026-01-01"}, "from"),
    ],
)
def test_stats_dates_at_the_calendars_edges_are_400(
    world: World, params: dict[str, str], field: str
) -> None:
    assert field_of(world.get("/api/stats", **params)) == field


@pytest.mark.parametrize(
    "body",
    [
        {"date_range": ["1900-01-01", "1900-02-28"], "dimensions": ["time:week"]},
        {"date_range": ["2299-11-01", "2299-12-31"], "dimensions": ["time:month"]},
        {"date_range": "year", "date": "2299-12-31", "dimensions": ["time:day"]},
        {"date_range": ["1901-01-01", "1901-01-31"], "compare": "year_over_year"},
    ],
)
def test_first_and_last_supported_dates_answer(world: World, body: dict[str, Any]) -> None:
    r = world.post("/api/v2/query", **body)
    assert r.status_code == 200, r.text
    assert all(row["metrics"] in ([0], [None]) for row in r.json()["results"])


def nested_not(depth: int) -> list[Any]:
    f: list[Any] = ["is", "event:page", ["/"]]
    for _ in range(depth):
        f = ["not", f]
    return f


def test_deeply_nested_filters_are_400(world: World) -> None:
    for path in POSTS:
        assert field_of(world.post(path, filters=[nested_not(500)])).startswith("filters[0]"), path
        assert field_of(world.post(path, filters=[nested_not(16)])).startswith("filters[0]"), path
        assert world.post(path, filters=[nested_not(15)]).status_code == 200, path
    for path in GETS:
        assert field_of(world.get(path, filters=json.dumps([nested_not(500)]))).startswith(
            "filters[0]"
        )


def test_json_nested_past_the_decoder_is_400(world: World) -> None:
    deep = "[" * 1000 + "]" * 1000
    raw = json.dumps(world.body()).encode()[:-1] + b', "filters": ' + deep.encode() + b"}"
    for path in POSTS:
        assert field_of(world.post(path, content=raw)) == "body", path
    for path in GETS:
        assert field_of(world.get(path, filters=deep)) == "filters", path


@pytest.mark.parametrize("content", [b'{"site_id": "\xff"}', b"\xfe\xff", b"[1, 2]", b'"q"', b""])
def test_bodies_that_are_not_a_json_object_are_400(world: World, content: bytes) -> None:
    for path in POSTS:
        assert field_of(world.post(path, content=content)) in ("body", "site_id"), path
