"""Health reports the store, queue and writer; a full spool answers 503 + Retry-After."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, Footfall, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def test_health_reports_queue_and_writer(footfall: Footfall) -> None:
    for i in range(5):
        assert (
            footfall.send({"event_type": "pageview", "path": f"/{i}", "user_agent": UA}).status_code
            == 202
        )
    footfall.flush()
    body = footfall.client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["store"]["ok"] is True
    assert body["queue"]["depth"] == 0
    assert body["writer"]["events_written"] == 5
    assert body["writer"]["lag_events"] == 0


def test_health_is_503_when_the_store_is_unusable(footfall: Footfall) -> None:
    store = footfall.services.store
    store.close()
    try:
        r = footfall.client.get("/api/health")
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
    finally:
        store.open()


def test_full_spool_answers_503_with_retry_after_and_keeps_what_it_acked(tmp_path: Path) -> None:
    # The writer waits an hour between rounds, so the spool only fills.
    settings = make_settings(tmp_path, spool_max_bytes=1 << 20, flush_interval_ms=3_600_000)
    app = create_app(settings)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        site = client.post(
            "/api/site/create", json={"name": "F", "domains": ["f.com"]}, headers=auth
        ).json()
        event = {"event_type": "pageview", "path": "/" + "p" * 1500, "user_agent": UA}
        acked = 0
        for _ in range(200):
            r = client.post(
                "/api/events", json={"events": [event] * 40}, headers={"x-api-key": site["api_key"]}
            )
            if r.status_code == 503:
                break
            assert r.status_code == 202
            acked += 40
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["details"][0]["field"] == "queue"
        assert 0 < acked < 200 * 40
        services = app.state.services
        while services.writer.run_once():
            pass
        stored = services.store.query("SELECT count(*) FROM events")[0][0]
        assert stored == acked
        # Drained: room again.
        r = client.post(
            "/api/events", json={"events": [event]}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202
