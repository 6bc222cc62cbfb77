"""A full spool: collection has room again once the writer catches up (whatever the
segment size), a restart frees what was stored before it, and health says when
collection is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
EVENT = {"event_type": "pageview", "path": "/" + "p" * 1500, "user_agent": UA}
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def _site(client: TestClient) -> str:
    r = client.post("/api/site/create", json={"name": "F", "domains": ["f.com"]}, headers=AUTH)
    return str(r.json()["api_key"])


def _send(client: TestClient, key: str, n: int = 40) -> int:
    r = client.post("/api/events", json={"events": [EVENT] * n}, headers={"x-api-key": key})
    return r.status_code


def _fill(client: TestClient, key: str) -> int:
    for i in range(500):
        code = _send(client, key)
        if code == 503:
            return i
        assert code == 202
    raise AssertionError("the spool never filled")


def _stored(app: Any) -> int:
    return int(app.state.services.store.query("SELECT count(*) FROM events")[0][0])


def test_cap_below_segment_size_accepts_again_after_drain_and_health_says_refused(
    tmp_path: Path,
) -> None:
    # 1 MiB cap, 64 MiB segments (the default); the writer waits an hour between rounds.
    settings = make_settings(tmp_path, spool_max_bytes=1 << 20, flush_interval_ms=3_600_000)
    app = create_app(settings)
    with TestClient(app) as client:
        key = _site(client)
        assert client.get("/api/health").json()["status"] == "ok"
        accepted = _fill(client, key)
        health = client.get("/api/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] != "ok"
        assert "full" in body["reason"] and body["queue"]["accepting"] is False
        for _round in range(3):
            writer = app.state.services.writer
            while writer.run_once():
                pass
            # Everything is stored: the same request must be accepted again.
            assert _send(client, key) == 202
            assert client.get("/api/health").json()["status"] == "ok"
            accepted += 1 + _fill(client, key)
        while app.state.services.writer.run_once():
            pass
        assert _stored(app) == accepted * 40


def test_a_spool_full_of_stored_events_accepts_after_a_restart(tmp_path: Path) -> None:
    big = make_settings(tmp_path, spool_max_bytes=64 << 20)
    app = create_app(big)
    with TestClient(app) as client:
        key = _site(client)
        for _ in range(25):  # about 1.5 MiB, all in one segment
            assert _send(client, key) == 202
    # Restarted with a 1 MiB cap: the segment stored before the restart must be freed.
    small = make_settings(tmp_path, spool_max_bytes=1 << 20, flush_interval_ms=3_600_000)
    app = create_app(small)
    with TestClient(app) as client:
        assert _send(client, key) == 202
        assert client.get("/api/health").json()["status"] == "ok"
        while app.state.services.writer.run_once():
            pass
        assert _stored(app) == 26 * 40
