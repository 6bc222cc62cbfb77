"""Forgetting one person, on every store: after ``DELETE /api/v1/visitors`` every report
equals the same report of a second installation that was never sent that person's
visits (same site, same batches without those events), on DuckDB (with its rollups built
before the delete, and folded again after) and on ClickHouse's engine.

The visits to remove are worked out in plain Python from what the test sent
(tests/reference.py's 30-minute rule), never from the product's SQL.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.meta import stable_id
from tests.conftest import ADMIN, _chdb_available, chdb_url, make_settings, require_services
from tests.contract.test_agreement import PERIODS, QUERIES, REPORTS, _clean, random_events
from tests.reference import split_visits

AUTH = {"Authorization": f"Bearer {ADMIN}"}
SEED = 20261206
USER, VISITOR = "u1", "v7"  # deleted by user id, then by visitor id


def _removed(events: list[dict[str, Any]]) -> set[str]:
    """Event ids of the visits that hold an event of USER or of VISITOR (bots excluded:
    the writer drops them before making visits)."""
    unique = {e["event_id"]: e for e in reversed(events) if "Googlebot" not in e["user_agent"]}
    rows = [{**e, "at": datetime.fromisoformat(e["timestamp"])} for e in unique.values()]
    gone: set[str] = set()
    for visit in split_visits(rows):
        if any(e.get("user_id") == USER or e["visitor_id"] == VISITOR for e in visit):
            gone |= {e["event_id"] for e in visit}
    return gone


def _user_visits(events: list[dict[str, Any]]) -> tuple[set[str], int]:
    unique = {e["event_id"]: e for e in events if "Googlebot" not in e["user_agent"]}
    rows = [{**e, "at": datetime.fromisoformat(e["timestamp"])} for e in unique.values()]
    visits = [v for v in split_visits(rows) if any(e.get("user_id") == USER for e in v)]
    return {e["event_id"] for v in visits for e in v}, len(visits)


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    if request.param == "chdb" and not _chdb_available():
        if require_services():
            pytest.fail("chdb not installed")
        pytest.skip("chdb not installed: the ClickHouse store is not tested")
    root = Path(tmp_path_factory.mktemp(f"forget-{request.param}"))
    meta = f"sqlite:///{root / 'meta.sqlite3'}"
    rng = random.Random(SEED)
    events = random_events(rng, datetime.now(UTC).replace(microsecond=0))
    gone = _removed(events)
    with contextlib.ExitStack() as stack:
        apps = {}
        for name in ("full", "never"):
            url = "" if request.param == "duckdb" else chdb_url(f"forget_{name}")
            app = create_app(
                make_settings(
                    root / name,
                    store_url=url,
                    database_url=meta,
                    max_past_days=40,
                    flush_interval_ms=20,
                )
            )
            apps[name] = (stack.enter_context(TestClient(app, client=("203.0.113.9", 1))), app)
        client = apps["full"][0]
        site = client.post(
            "/api/site/create", json={"name": "A", "domains": ["example.com"]}, headers=AUTH
        ).json()
        for name, (c, app) in apps.items():
            for i in range(0, len(events), 200):
                batch = events[i : i + 200]
                if name == "never":
                    batch = [e for e in batch if e["event_id"] not in gone]
                r = c.post(
                    "/api/events", json={"events": batch}, headers={"x-api-key": site["api_key"]}
                )
                assert r.status_code == 202, r.text
                # The same rounds on both: a visit's id comes from the round that stored it.
                assert app.state.services.writer.wait_idle(30)
            if app.state.services.store.capabilities.rollups:
                assert c.post("/api/admin/jobs/rollups", headers=AUTH).status_code == 200
        yield {
            "apps": apps,
            "site": site["site_id"],
            "events": events,
            "gone": gone,
            "kind": request.param,
        }


def _read(pair: dict[str, Any], name: str, method: str, path: str, **kw: Any) -> Any:
    client = pair["apps"][name][0]
    r = client.request(method, path, headers=AUTH, **kw)
    assert r.status_code == 200, f"{name} {path}: {r.text}"
    return _clean(r.json()) if "json" in r.headers.get("content-type", "") else r.text


def _all_reports(pair: dict[str, Any], name: str) -> dict[str, Any]:
    site, out = pair["site"], {}
    for report in REPORTS:
        for period in PERIODS[:2]:  # 30d holds every event; 7d, a range inside it
            out[f"{report} {period}"] = _read(
                pair, name, "GET", f"/api/v1/{report}", params={"site_id": site, **period}
            )
    for n, q in enumerate(QUERIES):
        out[f"query {n}"] = _read(
            pair, name, "POST", "/api/v2/query", json={"site_id": site, "date_range": "30d", **q}
        )
    csv = _read(pair, name, "GET", "/api/v1/export", params={"site_id": site, "format": "csv"})
    out["export"] = sorted(csv.splitlines())
    return out


def test_export_then_delete_then_every_report_equals_never_sent(pair: dict[str, Any]) -> None:
    site, full = pair["site"], pair["apps"]["full"][0]
    user_events, user_visits = _user_visits(pair["events"])
    assert user_visits >= 2, "the seed should give the user several visits"
    # Export: the user's visits' events, every one, as JSON lines.
    r = full.get("/api/v1/visitors/export", params={"site_id": site, "user_id": USER}, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert {row["event_id"] for row in lines} == user_events
    assert all(row["site_id"] == site for row in lines)

    r = full.delete("/api/v1/visitors", params={"site_id": site, "user_id": USER}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["events"] == len(user_events)
    assert r.json()["deleted"]["sessions"] == user_visits
    vid = str(stable_id("v:" + VISITOR))
    r = full.delete("/api/v1/visitors", params={"site_id": site, "visitor_id": vid}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["deleted"]["events"] == len(pair["gone"] - user_events)

    expected = _all_reports(pair, "never")
    assert _all_reports(pair, "full") == expected
    # Nothing of theirs is left to export.
    r = full.get(
        "/api/v1/visitors/export", params={"site_id": site, "visitor_id": vid}, headers=AUTH
    )
    assert r.status_code == 200 and r.text == ""
    store = pair["apps"]["full"][1].state.services.store
    if store.capabilities.rollups:
        # No rollup row keeps the visitor's id, and folding in again changes nothing.
        # (reach names visitors by number: the visitor's number is gone with its rows).
        assert store.query("SELECT count(*) FROM visitor_numbers WHERE visitor_id = ?",
                           [int(vid)]) == [(0,)]  # fmt: skip
        assert store.query("SELECT count(*) FROM reach WHERE vno NOT IN "
                           "(SELECT vno FROM visitor_numbers)") == [(0,)]  # fmt: skip
        assert full.post("/api/admin/jobs/rollups", headers=AUTH).status_code == 200
        assert _all_reports(pair, "full") == expected
    # A second delete finds nothing.
    r = full.delete("/api/v1/visitors", params={"site_id": site, "user_id": USER}, headers=AUTH)
    assert r.json()["deleted"] == {"events": 0, "sessions": 0, "rollup_rows": 0}
