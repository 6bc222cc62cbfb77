"""Retention deletes raw events older than the configured days, and only those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def test_retention_job_deletes_old_events_over_http(tmp_path: Path, store_url: str) -> None:
    settings = make_settings(tmp_path, store_url=store_url, retention_days=10)
    app = create_app(settings)
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with TestClient(app) as client:
        site = client.post(
            "/api/site/create", json={"name": "R", "domains": ["r.com"]}, headers=auth
        ).json()
        now = datetime.now(UTC)
        ages = [1, 5, 9, 11, 20, 29]  # days
        events = [
            {
                "event_type": "pageview",
                "path": f"/{d}",
                "user_agent": UA,
                "visitor_id": str(d),
                "timestamp": (now - timedelta(days=d)).isoformat(),
            }
            for d in ages
        ]
        r = client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]}
        )
        assert r.json()["accepted"] == 6
        app.state.services.writer.wait_idle()
        r = client.post("/api/admin/jobs/retention", headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["result"]["deleted"] == 3
        store = app.state.services.store
        left = sorted(p for (p,) in store.query("SELECT pathname FROM events"))
        assert left == ["/1", "/5", "/9"]
        assert store.query("SELECT count(*) FROM sessions")[0][0] == 3
        # Unknown jobs and non-admin callers are refused.
        assert client.post("/api/admin/jobs/nope", headers=auth).status_code == 404
        assert client.post("/api/admin/jobs/retention").status_code == 401


def test_retention_zero_keeps_everything(tmp_path: Path, store_url: str) -> None:
    app = create_app(make_settings(tmp_path, store_url=store_url))
    with TestClient(app) as client:
        r = client.post("/api/admin/jobs/retention", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.json()["result"]["deleted"] == 0
