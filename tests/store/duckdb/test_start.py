"""What ``footfall serve`` does before ``/api/health`` answers (issue 25: within 2 s on a
10M-event data directory): the writer's user-agent rules load on its own thread, not in
the start-up the first health check waits for."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.ingest.enrich import Enricher
from tests.conftest import ADMIN, make_settings


def test_health_answers_before_the_writer_has_loaded_its_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, loaded = threading.Event(), threading.Event()
    real_warm = Enricher.warm

    def slow_warm(self: Enricher) -> None:
        # The rules' load, held until the test has its health answer (or 10 s: before,
        # start-up waited for it, and health answered only after it).
        release.wait(10)
        real_warm(self)
        loaded.set()

    monkeypatch.setattr(Enricher, "warm", slow_warm)
    app = create_app(make_settings(tmp_path))
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert not loaded.is_set()
        release.set()
        # ... and events sent meanwhile are stored once the rules are in.
        r = client.post("/api/site/create", json={"name": "S", "domains": ["example.com"]},
                        headers={"Authorization": f"Bearer {ADMIN}"})  # fmt: skip
        key = r.json()["api_key"]
        event = {"event_type": "pageview", "path": "/", "url": "https://example.com/", "ip": "8.8.8.8",
                 "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 "
                 "Firefox/120.0"}  # fmt: skip
        assert client.post("/api/event", json=event, headers={"x-api-key": key}).status_code == 202
        services = app.state.services
        assert services.writer.wait_idle(15)
        assert loaded.is_set()
        assert services.store.query("SELECT count(*) FROM events") == [(1,)]
