"""Exports round-trip: what the test sent through the collection API comes back, read
with the standard csv / json modules and pyarrow.parquet, in every format."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.store.base import EVENT_COLUMNS
from tests.query.test_reports import TODAY, World, build, sessionize


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[dict[str, Any]]:
    from tests.conftest import make_settings

    app = create_app(
        make_settings(Path(tmp_path_factory.mktemp("e")), store_url=store_url, flush_interval_ms=20)
    )
    with TestClient(app) as client:
        w = World(client, app)
        events = build(seed=5, visits=30)
        sessionize(events)
        w.send(events)
        yield {"w": w, "events": events}


def fetch(w: World, fmt: str, status: int = 200, **params: Any) -> Any:
    r = w.client.get(
        "/api/v1/export",
        params={"site_id": w.site_id, "format": fmt, **params},
        headers={"Authorization": f"Bearer {w.token}"},
    )
    assert r.status_code == status, r.text
    return r


def rows_of(fmt: str, body: bytes) -> list[dict[str, Any]]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode())))
    if fmt == "jsonl":
        return [json.loads(line) for line in body.decode().splitlines()]
    rows = pq.read_table(io.BytesIO(body)).to_pylist()
    for r in rows:
        if r.get("props") is not None:
            r["props"] = dict(r["props"])
    return rows


def when(value: Any) -> datetime:
    return (
        value.astimezone(UTC)
        if isinstance(value, datetime)
        else datetime.fromisoformat(value).astimezone(UTC)
    )


def number(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_raw_events_round_trip(world: dict[str, Any], fmt: str) -> None:
    r = fetch(world["w"], fmt)
    assert r.headers["content-disposition"].startswith("attachment;")
    got = {row["event_id"]: row for row in rows_of(fmt, r.content)}
    sent = world["events"]
    assert set(got) == {e["event_id"] for e in sent}
    assert list(next(iter(got.values()))) == [
        name for name, _ in EVENT_COLUMNS
    ]  # every column, in order
    visitor_ids: dict[str, set[str]] = {}
    for e in sent:
        row = got[e["event_id"]]
        assert row["name"] == e["event_type"] and row["pathname"] == e["path"]
        assert when(row["ts"]) == e["at"]
        props = row["props"] if fmt != "csv" else json.loads(row["props"])
        assert props == (e["metadata"] or {})
        assert (row["user_id"] or None) == e["user_id"]
        assert number(row["load_time_ms"]) == e["load_time_ms"]
        assert row["country"] == e["v_country"] and row["browser"] == e["v_browser"]
        visitor_ids.setdefault(e["visitor_id"], set()).add(row["visitor_id"])
    # The id is an unsigned 64-bit integer, written as text; one per visitor sent.
    assert all(len(ids) == 1 and next(iter(ids)).isdigit() for ids in visitor_ids.values())
    assert len({next(iter(ids)) for ids in visitor_ids.values()}) == len(visitor_ids)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_raw_events_of_one_day_and_of_an_empty_period(world: dict[str, Any], fmt: str) -> None:
    got = rows_of(fmt, fetch(world["w"], fmt, period="day", date=TODAY.isoformat()).content)
    assert sorted(r["event_id"] for r in got) == sorted(
        e["event_id"] for e in world["events"] if e["at"].date() == TODAY
    )
    empty = fetch(
        world["w"], fmt, period="custom", **{"from": "2025-01-01", "to": "2025-01-02"}
    ).content
    assert rows_of(fmt, empty) == []
    if fmt == "csv":
        assert empty.decode().splitlines()[0].startswith('"event_id","site_id","ts"')


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_query_export_matches_the_query(world: dict[str, Any], fmt: str) -> None:
    w = world["w"]
    body = {
        "site_id": w.site_id,
        "metrics": ["visitors", "pageviews", "bounce_rate"],
        "dimensions": ["visit:browser"],
        "date_range": "30d",
    }
    r = w.client.post(
        "/api/v1/export",
        params={"format": fmt},
        json=body,
        headers={"Authorization": f"Bearer {w.token}"},
    )
    assert r.status_code == 200, r.text
    got = rows_of(fmt, r.content)
    evs = world["events"]
    want = []
    for b in sorted({e["v_browser"] for e in evs}):
        mine = [e for e in evs if e["v_browser"] == b]
        want.append(
            (
                b,
                len({e["visitor_id"] for e in mine}),
                sum(e["event_type"] == "pageview" for e in mine),
            )
        )
    assert (
        sorted((row["visit:browser"], int(row["visitors"]), int(row["pageviews"])) for row in got)
        == want
    )
    assert all(0 <= float(row["bounce_rate"]) <= 100 for row in got)


BAD_GET = [
    ({"format": "xlsx"}, "format"),
    ({"format": "csv; rm -rf /"}, "format"),
    ({"period": "1 OR 1=1"}, "period"),
    ({"filters": "[[["}, "filters"),
]


@pytest.mark.parametrize(("params", "field"), BAD_GET)
def test_bad_export_parameters(world: dict[str, Any], params: dict[str, str], field: str) -> None:
    params = dict(params)  # the parameter list is shared by both stores' runs
    body = fetch(world["w"], params.pop("format", "csv"), status=400, **params).json()
    assert body["success"] is False and body["details"][0]["field"] == field


def test_bad_query_exports(world: dict[str, Any]) -> None:
    w = world["w"]
    auth = {"Authorization": f"Bearer {w.token}"}
    good = {"site_id": w.site_id, "metrics": ["visitors"], "date_range": "7d"}
    cases = [
        ({"format": "xml"}, good, "format"),
        ({"format": "csv"}, {**good, "metrics": ["nope"]}, "metrics"),
        ({"format": "csv"}, b"{not json", "body"),
        ({"format": "csv"}, {"metrics": ["visitors"]}, "site_id"),
    ]
    for params, body, field in cases:
        kw = {"content": body} if isinstance(body, bytes) else {"json": body}
        r = w.client.post("/api/v1/export", params=params, headers=auth, **kw)
        assert r.status_code == 400 and r.json()["details"][0]["field"] == field, r.text
    assert w.client.post("/api/v1/export", json=good).status_code == 401
    r = w.client.post(
        "/api/v1/export", json=good, headers={"Authorization": f"Bearer {w.other_token}"}
    )
    assert r.status_code == 404
    assert fetch(world["w"], "csv").status_code == 200
    r = w.client.get("/api/v1/export", params={"site_id": w.other_id}, headers=auth)
    assert r.status_code == 404


# Cells a spreadsheet would run as a formula (CSV injection), from text visitors choose.
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)", "+1+1", "-2+3", "\tTAB", "\rCR"]


def test_csv_exports_neutralise_formulas(tmp_path: Path, store_url: str) -> None:
    from tests.conftest import ADMIN, Footfall, make_settings

    app = create_app(make_settings(tmp_path, store_url=store_url))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        site = client.post(
            "/api/site/create", json={"name": "X", "domains": ["example.com"]}, headers=auth
        ).json()
        token = client.post("/api/tokens", json={"site_id": site["site_id"]}, headers=auth).json()[
            "token"
        ]
        check_formulas(
            Footfall(client, app.state.services, site["site_id"], site["api_key"], token)
        )


def check_formulas(footfall: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for i, text in enumerate(FORMULAS):
        r = footfall.send(
            {
                "event_type": text,
                "path": f"/p{i}",
                "url": f"https://example.com/p{i}",
                "title": text,
                "metadata": {"cell": text},
                "visitor_id": f"v{i}",
                "timestamp": now.isoformat(),
            }
        )
        assert r.status_code == 202, r.text
    footfall.flush()
    auth = {"Authorization": f"Bearer {footfall.token}"}
    raw = footfall.client.get(
        "/api/v1/export", params={"site_id": footfall.site_id, "format": "csv"}, headers=auth
    )
    assert raw.status_code == 200, raw.text
    rows = list(csv.DictReader(io.StringIO(raw.content.decode(), newline="")))
    assert sorted(r["name"] for r in rows) == sorted("'" + t for t in FORMULAS)
    assert sorted(r["title"] for r in rows) == sorted("'" + t for t in FORMULAS)
    assert {r["pathname"] for r in rows} == {
        f"/p{i}" for i in range(len(FORMULAS))
    }  # safe text untouched
    assert sorted(json.loads(r["props"])["cell"] for r in rows) == sorted(
        FORMULAS
    )  # JSON text starts with {
    body = {
        "site_id": footfall.site_id,
        "metrics": ["events"],
        "dimensions": ["event:name"],
        "date_range": "7d",
    }
    query = footfall.client.post(
        "/api/v1/export", params={"format": "csv"}, json=body, headers=auth
    )
    assert query.status_code == 200, query.text
    got = {
        r["event:name"]: r["events"]
        for r in csv.DictReader(io.StringIO(query.content.decode(), newline=""))
    }
    assert got == {"'" + t: "1" for t in FORMULAS}
    # Formats that no spreadsheet evaluates keep the text as sent.
    jsonl = footfall.client.get(
        "/api/v1/export", params={"site_id": footfall.site_id, "format": "jsonl"}, headers=auth
    )
    assert sorted(
        json.loads(line)["name"] for line in jsonl.content.decode().splitlines()
    ) == sorted(FORMULAS)
