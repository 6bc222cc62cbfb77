"""Observability: JSON log lines per request and per writer round (no IP, key or token in
them; a traceback inside its line), ``X-Request-ID``, the live and ready probes, and each
site's data freshness in ``/api/health``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
IP = "198.51.100.23"


def _lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))  # every line is one JSON object
    return out


@pytest.fixture
def app_json(tmp_path: Path) -> Any:
    return create_app(make_settings(tmp_path, log_format="json", log_level="info"))


def test_one_json_line_per_request_and_round_without_ip_key_or_token(
    app_json: Any, capsys: Any
) -> None:
    with TestClient(app_json, client=(IP, 5000)) as client:
        site = client.post(
            "/api/site/create", json={"name": "L", "domains": ["l.com"]}, headers=AUTH
        ).json()
        key = site["api_key"]
        event = {"event_type": "pageview", "path": "/x", "user_agent": UA, "url": "https://l.com/x"}
        r = client.post(
            "/api/event", json=event, headers={"x-api-key": key, "x-request-id": "edge-42.a"}
        )
        assert r.status_code == 202 and r.headers["x-request-id"] == "edge-42.a"
        r = client.get(
            f"/api/v1/sessions/123?site_id={site['site_id']}&token=secret-in-query", headers=AUTH
        )
        generated = r.headers["x-request-id"]
        bad = client.get("/api/health/live", headers={"x-request-id": "no spaces allowed"})
        assert bad.headers["x-request-id"] != "no spaces allowed"
        assert app_json.state.services.writer.wait_idle(15)
    out, err = capsys.readouterr()
    lines = _lines(err)
    requests = [x for x in lines if x["msg"] == "request"]
    collect = next(x for x in requests if x["request_id"] == "edge-42.a")
    assert collect["method"] == "POST" and collect["route"] == "/api/event"
    assert collect["status"] == 202 and collect["duration_ms"] >= 0
    visit = next(x for x in requests if x["request_id"] == generated)
    # The route's template, not the path sent (which carried an id and a query string).
    assert visit["route"] == "/api/v1/sessions/{session_id}" and visit["status"] in (200, 404)
    assert len(generated) == 16
    rounds = [x for x in lines if x["msg"] == "writer round"]
    assert rounds and sum(x["inserted"] for x in rounds) == 1
    for secret in (IP, key, ADMIN, "secret-in-query"):
        assert secret not in err and secret not in out


def test_a_failing_handler_logs_its_traceback_in_one_json_line(app_json: Any, capsys: Any) -> None:
    with TestClient(app_json) as client:
        site = client.post(
            "/api/site/create", json={"name": "E", "domains": ["e.com"]}, headers=AUTH
        ).json()

        def broken(*args: Any, **kw: Any) -> Any:
            raise RuntimeError("the query engine fell over")

        app_json.state.services.runner.run = broken
        r = client.post(
            "/api/v2/query",
            json={"site_id": site["site_id"], "metrics": ["visitors"], "date_range": "30d"},
            headers=AUTH,
        )
        assert r.status_code == 500
        rid = r.headers["x-request-id"]
    failed = [x for x in _lines(capsys.readouterr().err) if x["msg"] == "request failed"]
    assert len(failed) == 1 and failed[0]["request_id"] == rid and failed[0]["level"] == "error"
    assert "Traceback" in failed[0]["exc"] and "the query engine fell over" in failed[0]["exc"]
    assert failed[0]["route"] == "/api/v2/query" and failed[0]["status"] == 500


def test_live_ready_and_freshness(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, spool_max_bytes=1 << 20))
    with TestClient(app) as client:
        svc = app.state.services
        assert client.get("/api/health/live").json() == {"status": "ok"}
        assert client.get("/api/health/ready").status_code == 200
        site = client.post(
            "/api/site/create", json={"name": "F", "domains": ["f.com"]}, headers=AUTH
        ).json()
        at = datetime.now(UTC) - timedelta(hours=2)
        event = {
            "event_type": "pageview",
            "path": "/",
            "user_agent": UA,
            "timestamp": at.isoformat(),
        }
        assert (
            client.post(
                "/api/event", json=event, headers={"x-api-key": site["api_key"]}
            ).status_code
            == 202
        )
        assert svc.writer.wait_idle(15)
        fresh = client.get("/api/health", headers=AUTH).json()["freshness"]
        assert 7190 < fresh["sites"][site["site_id"]] < 7300
        assert "sites" not in client.get("/api/health").json()["freshness"]

        # A store that refuses writes: the writer's rounds fail, and the server is not ready.
        real = svc.store.begin_batch

        def refuse(progress: Any, partition: int = 0) -> Any:
            raise OSError("disk full")

        svc.store.begin_batch = refuse
        assert (
            client.post(
                "/api/event", json=event, headers={"x-api-key": site["api_key"]}
            ).status_code
            == 202
        )
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while svc.writer.stats.errors == 0 and datetime.now(UTC) < deadline:
            client.get("/api/health/live")
        r = client.get("/api/health/ready")
        assert r.status_code == 503 and "writer" in r.json()["reasons"][0]
        svc.store.begin_batch = real
        assert svc.writer.wait_idle(15)
        assert client.get("/api/health/ready").status_code == 200
