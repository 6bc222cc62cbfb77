"""The dashboard's site operations on a ClickHouse-engine server (FOOTFALL_STORE_URL set
to a chdb URL, as an operator would): the sites page, "verify installation", the
property names offered for a breakdown, and deleting a site with its data. Figures are
counted from the events the test sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.config import Settings
from footfall.dashboard.siteops import verify_installation
from footfall.meta.users import Accounts
from tests.conftest import ADMIN, _chdb_available, chdb_url, require_services
from tests.dashboard.conftest import PASSWORD, csrf_for, login

AUTH = {"Authorization": f"Bearer {ADMIN}"}
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    if not _chdb_available():
        if require_services():
            pytest.fail("chdb not installed (pip install -e '.[dev]')")
        pytest.skip("chdb not installed: the ClickHouse store is not tested")
    monkeypatch.setenv("FOOTFALL_STORE_URL", chdb_url("siteops"))
    settings = Settings.from_env(
        data_dir=tmp_path / "data", admin_token=ADMIN, flush_interval_ms=20
    )
    assert settings.store_url.startswith("chdb://")
    with TestClient(create_app(settings)) as c:
        Accounts(c.app.state.services.meta).create_user(  # type: ignore[attr-defined]
            "owner@example.com", PASSWORD, owner=True
        )
        yield c


def site(client: TestClient, name: str) -> tuple[str, str]:
    r = client.post("/api/site/create", headers=AUTH,
                    json={"name": name, "domains": [f"{name.lower()}.example"]})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()["site_id"], r.json()["api_key"]


def test_site_operations_on_a_chdb_server(client: TestClient) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    busy, key = site(client, "Busy")
    quiet, _ = site(client, "Quiet")
    now = datetime.now(UTC).isoformat()
    events = [{"event_type": "pageview", "path": "/", "visitor_id": v, "timestamp": now}
              for v in ("a", "b", "a")]  # fmt: skip
    events += [{"event_type": "Signup", "path": "/", "visitor_id": "a", "timestamp": now,
                "metadata": props} for props in ({"plan": "pro"}, {"plan": "free", "ref": "x"})]  # fmt: skip
    events.append({"event_type": "pageview", "path": "/", "user_agent": BOT, "timestamp": now})
    r = client.post("/api/events", json={"events": events}, headers={"x-api-key": key})
    assert r.status_code == 202 and r.json()["rejected"] == [], r.text
    assert svc.writer.wait_idle(15)
    assert login(client, "owner@example.com").status_code == 303

    # The sites page: both sites, one statement for both, with today's visitors.
    page = client.get("/?period=7d")
    assert page.status_code == 200, page.text
    shown = dict(re.findall(r'data-site-id="([^"]+)">.*?class="visitors">(\d+)</strong>',
                            page.text, re.S))  # fmt: skip
    assert shown == {busy: "2", quiet: "0"}

    settings = client.get(f"/sites/{busy}/settings").text
    assert "Events are arriving: 5 stored" in settings  # 3 pageviews, 2 signups; no bot
    assert re.search(r'data-reason="bot"><strong>1</strong>', settings)
    assert "No events have arrived yet." in client.get(f"/sites/{quiet}/settings").text
    # A site without events has no last event (not ClickHouse's default 1970-01-01).
    assert verify_installation(svc, svc.meta.get_site(quiet)).last_event is None

    keys = client.get(f"/sites/{busy}/props", params={"event": "Signup"})
    assert keys.json() == {"event": "Signup", "keys": ["plan", "ref"]}

    url = f"/sites/{busy}/settings"
    gone = client.post(url + "/delete", data={"csrf": csrf_for(client, url), "confirm": "Busy"},
                       follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303
    assert svc.store.query("SELECT count() FROM events WHERE site_id = ?", [busy]) == [(0,)]
    assert list(re.findall(r'data-site-id="([^"]+)"', client.get("/").text)) == [quiet]
