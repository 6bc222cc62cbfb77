"""``/api/v1/visitors`` and ``footfall privacy``: who may call them, bad input answered
with a 4xx naming the field, and the command line doing the same work as the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from tests.conftest import ADMIN, Footfall, make_settings
from tests.serverproc import Server

AUTH = {"Authorization": f"Bearer {ADMIN}"}
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def _events(now: datetime) -> list[dict[str, Any]]:
    """Ann: two visits (the second identified only at its end); Bob: one."""
    at = now - timedelta(hours=5)
    rows = [("ann", None, 0, "/"), ("ann", None, 5, "/a"), ("ann", "ann@x", 10, "/b"),
            ("ann", None, 120, "/c"), ("bob", None, 1, "/"), ("bob", "bob@x", 2, "/d")]  # fmt: skip
    return [{"event_type": "pageview", "path": path, "user_agent": UA, "visitor_id": v,
             **({"user_id": u} if u else {}), "timestamp": (at + timedelta(minutes=m)).isoformat()}
            for v, u, m, path in rows]  # fmt: skip


def _problem(r: Any, status: int, field: str) -> None:
    assert r.status_code == status, r.text
    assert any(d["field"] == field for d in r.json()["details"]), r.text


def test_bad_requests_name_the_field_and_readers_may_not_delete(footfall: Footfall) -> None:
    c, site = footfall.client, footfall.site_id
    _problem(c.delete("/api/v1/visitors", params={"user_id": "x"}, headers=AUTH), 400, "site_id")
    _problem(c.delete("/api/v1/visitors", params={"site_id": site}, headers=AUTH), 400, "user_id")
    both = {"site_id": site, "user_id": "a", "visitor_id": "1"}
    _problem(c.delete("/api/v1/visitors", params=both, headers=AUTH), 400, "user_id")
    bad = {"site_id": site, "visitor_id": "-1"}
    _problem(c.get("/api/v1/visitors/export", params=bad, headers=AUTH), 400, "visitor_id")
    _problem(c.delete("/api/v1/visitors", params={"site_id": site, "user_id": "x" * 300},
                      headers=AUTH), 400, "user_id")  # fmt: skip
    r = c.delete("/api/v1/visitors", params={"site_id": "nope", "user_id": "a"}, headers=AUTH)
    assert r.status_code == 404
    reader = {"Authorization": f"Bearer {footfall.token}"}
    for method, path in (("DELETE", "/api/v1/visitors"), ("GET", "/api/v1/visitors/export")):
        r = c.request(method, path, params={"site_id": site, "user_id": "a"}, headers=reader)
        assert r.status_code == 401, r.text
        assert c.request(method, path, params={"site_id": site, "user_id": "a"}).status_code in (
            401,
            403,
        )


def test_delete_by_user_takes_the_whole_visit_and_keeps_others(footfall: Footfall) -> None:
    assert footfall.send_batch(_events(datetime.now(UTC))).status_code == 202
    footfall.flush()
    r = footfall.client.delete("/api/v1/visitors", params={"site_id": footfall.site_id,
                               "user_id": "ann@x"}, headers=AUTH)  # fmt: skip
    assert r.status_code == 200, r.text
    # Ann's first visit (3 events, identified at its end) goes whole; her later visit,
    # never identified, stays, as does Bob's.
    assert r.json()["deleted"] == {"events": 3, "sessions": 1, "rollup_rows": 0}
    rows = footfall.services.store.query("SELECT pathname FROM events ORDER BY pathname")
    assert [p for (p,) in rows] == ["/", "/c", "/d"]


def test_cli_deletes_and_exports_without_a_server(tmp_path: Path, capsys: Any) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:
        site = client.post("/api/site/create", json={"name": "Shop", "domains": ["shop.example"]},
                           headers=AUTH).json()  # fmt: skip
        r = client.post("/api/events", json={"events": _events(datetime.now(UTC))},
                        headers={"x-api-key": site["api_key"]})  # fmt: skip
        assert r.status_code == 202
        assert app.state.services.writer.wait_idle(15)
    data = ["--data-dir", str(settings.data_dir)]
    assert main(["privacy", "export", "--site", site["site_id"], "--user-id", "bob@x", *data]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["pathname"] for x in lines] == ["/", "/d"]
    assert main(["privacy", "delete", "--site", site["site_id"], "--user-id", "bob@x", *data]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"]["events"] == 2
    assert main(["privacy", "export", "--site", site["site_id"], "--user-id", "bob@x", *data]) == 0
    assert capsys.readouterr().out == ""
    assert main(["privacy", "delete", "--site", site["site_id"], "--visitor-id", "x1", *data]) == 2
    assert "visitor_id" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_asks_the_running_server(tmp_path: Path) -> None:
    """With ``footfall serve`` holding the store, ``footfall privacy`` goes through its API;
    its JSON log lines never hold the person's id, the key or the token."""
    data = tmp_path / "data"
    created = _cli("sites", "create", "Shop", "--domain", "shop.example", data=data)
    key = created.stdout.split("api_key: ", 1)[1].split()[0]
    server = Server(data, FOOTFALL_LOG_FORMAT="json").start()
    try:
        for e in _events(datetime.now(UTC)):
            status, _ = server.post("/api/event", e, {"x-api-key": key})
            assert status == 202
        env = {"FOOTFALL_ADMIN_TOKEN": server.admin, "FOOTFALL_PORT": str(server.port)}
        out = _cli("privacy", "export", "--site", "shop", "--user-id", "bob@x", data=data, **env)
        assert out.returncode == 0, out.stderr
        assert [json.loads(x)["pathname"] for x in out.stdout.splitlines()] == ["/", "/d"]
        out = _cli("privacy", "delete", "--site", "shop", "--user-id", "bob@x", data=data, **env)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["deleted"]["events"] == 2
        out = _cli("privacy", "delete", "--site", "shop", "--user-id", "bob@x", data=data,
                   FOOTFALL_ADMIN_TOKEN="wrong", FOOTFALL_PORT=str(server.port))  # fmt: skip
        assert out.returncode == 3 and "401" in out.stderr
    finally:
        server.stop()
    log = server.log()
    assert '"route":"/api/v1/visitors"' in log
    for secret in ("bob@x", key, server.admin):
        assert secret not in log


def _cli(*args: str, data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "FOOTFALL_DATA_DIR": str(data), **env}
    return subprocess.run([sys.executable, "-m", "footfall.cli", *args], env=full,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
