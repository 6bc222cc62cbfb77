"""Per-site retention: a site's own ``retention_days`` replaces the instance setting for
that site only, through the real job and the store's ``site_id`` option."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.jobs.retention import run_retention
from footfall.meta.prefs import SitePrefs
from tests.conftest import ADMIN, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
AGES = [1, 5, 9, 11, 20, 29]  # days


def _fill(client: TestClient, name: str) -> str:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    site = client.post("/api/site/create", json={"name": name, "domains": [f"{name}.com"]},
                       headers=auth).json()  # fmt: skip
    now = datetime.now(UTC)
    events = [{"event_type": "pageview", "path": f"/{d}", "user_agent": UA, "visitor_id": str(d),
               "timestamp": (now - timedelta(days=d)).isoformat()} for d in AGES]  # fmt: skip
    r = client.post("/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]})
    assert r.json()["accepted"] == len(AGES), r.text
    return str(site["site_id"])


def test_each_site_keeps_its_own_retention(tmp_path: Path, store_url: str) -> None:
    app = create_app(make_settings(tmp_path, store_url=store_url, retention_days=10))
    with TestClient(app) as client:
        svc = app.state.services
        short, default, long = (_fill(client, n) for n in ("short", "default", "long"))
        prefs = SitePrefs(svc.meta)
        for site, days in ((short, "3"), (long, "25")):
            prefs.set_privacy(site, respect_dnt=False, excluded_ips="", excluded_paths="",
                              retention_days=days)  # fmt: skip
        svc.writer.wait_idle()
        r = client.post("/api/admin/jobs/retention", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        assert result["sites"] == {short: 5, default: 3, long: 1} and result["deleted"] == 9

        def left(site: str) -> list[str]:
            rows = svc.store.query("SELECT pathname FROM events WHERE site_id = ?", [site])
            return sorted((p for (p,) in rows), key=lambda p: int(p[1:]))

        assert left(short) == ["/1"]
        assert left(default) == ["/1", "/5", "/9"]
        assert left(long) == ["/1", "/5", "/9", "/11", "/20"]
        sessions = svc.store.query("SELECT site_id, count(*) FROM sessions GROUP BY site_id")
        assert dict(sessions) == {short: 1, default: 3, long: 5}


def test_store_delete_with_site_id_touches_only_that_site(tmp_path: Path, store_url: str) -> None:
    app = create_app(make_settings(tmp_path, store_url=store_url))
    with TestClient(app) as client:
        svc = app.state.services
        a, b = _fill(client, "a"), _fill(client, "b")
        svc.writer.wait_idle()
        cutoff = datetime.now(UTC) - timedelta(days=10)
        assert svc.store.delete_events_before(cutoff, site_id=a) == 3
        counts = dict(svc.store.query("SELECT site_id, count(*) FROM events GROUP BY site_id"))
        assert counts == {a: 3, b: 6}
        # Without per-site settings and with instance retention off, nothing is deleted.
        assert run_retention(svc.store, 0, site_days={a: None, b: None})["deleted"] == 0
        assert run_retention(svc.store, 10, site_days={a: None, b: None})["deleted"] == 3
        counts = dict(svc.store.query("SELECT site_id, count(*) FROM events GROUP BY site_id"))
        assert counts == {a: 3, b: 3}
