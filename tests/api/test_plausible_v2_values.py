"""Data stored by an older Footfall ("desktop", "macOS") reads with Plausible's names once
the store has opened again (DuckDB rewrites at open, ClickHouse in migration 3), and the
rollups are rebuilt with them; a filter saved with the old empty name "(none)" still works.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/120.0.6099.109 Safari/537.36")  # fmt: skip
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.6099.43 Mobile Safari/537.36")  # fmt: skip
AUTH = {"Authorization": f"Bearer {ADMIN}"}
AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)


def _downgrade(store: Any) -> None:
    """Store the names an older Footfall wrote, as it wrote them."""
    old = (("device", "Desktop", "desktop"), ("device", "Mobile", "mobile"), ("os", "Mac", "macOS"))
    for table in ("events", "sessions"):
        for column, new, was in old:
            if hasattr(store, "ch"):  # ClickHouse: and forget that migration 3 ran
                store.ch.command(f"ALTER TABLE {table} UPDATE {column} = '{was}' "
                                 f"WHERE {column} = '{new}' SETTINGS mutations_sync = 2")  # fmt: skip
            else:
                store.con.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", [was, new])
    if hasattr(store, "ch"):
        store.ch.command("ALTER TABLE footfall_migrations DELETE WHERE version = 3 "
                         "SETTINGS mutations_sync = 2")  # fmt: skip


def _devices(client: TestClient, site: str, **extra: Any) -> dict[str, int]:
    body = {"site_id": site, "metrics": ["visitors"], "date_range": "7d", **extra}
    r = client.post("/api/v2/query", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    return {"/".join(x["dimensions"]): x["metrics"][0] for x in r.json()["results"]}


def test_old_names_are_rewritten_when_the_store_opens(tmp_path: Path, store_url: str) -> None:
    settings = make_settings(tmp_path, store_url=store_url)
    app = create_app(settings)
    with TestClient(app) as client:
        created = client.post("/api/site/create", json={"name": "V", "domains": ["v.example"]},
                              headers=AUTH).json()  # fmt: skip
        site = created["site_id"]
        events = [{"event_type": "pageview", "path": "/", "visitor_id": f"u{i}", "user_agent": ua,
                   "timestamp": AT.isoformat()} for i, ua in enumerate([MAC, MAC, PHONE])]  # fmt: skip
        r = client.post("/api/events", json={"events": events},
                        headers={"x-api-key": created["api_key"]})  # fmt: skip
        assert r.status_code == 202, r.text
        assert app.state.services.writer.wait_idle(15)
        _downgrade(app.state.services.store)
        assert _devices(client, site, dimensions=["visit:device"])["desktop"] == 2  # as stored
    app = create_app(settings)
    with TestClient(app) as client:
        # where the store keeps rollups, they are built from the rewritten values
        r = client.post("/api/admin/jobs/rollups", headers=AUTH)
        want = {"Desktop": 2, "Mobile": 1}
        assert _devices(client, site, dimensions=["visit:device"]) == want, r.text
        assert _devices(client, site, dimensions=["visit:os"]) == {"Mac": 2, "Android": 1}
        assert _devices(client, site, filters=[["is", "visit:device", ["Mobile"]]]) == {"": 1}
        # the empty value by its name now and by its name before
        for empty in ("(not set)", "(none)"):
            got = _devices(client, site, filters=[["is", "visit:utm_source", [empty]]])
            assert got == {"": 3}, empty


def test_engagement_events_arriving_first_do_not_lengthen_a_visit(tmp_path: Path, store_url: str) -> None:  # fmt: skip
    # Rounds in this order: a visit of one engagement event (10:20), then late, in one
    # round, the pageview it followed (10:00) and a pageview of the same visit (10:05):
    # one visit of 5 minutes; the engagement event never lengthens it.
    app = create_app(make_settings(tmp_path, store_url=store_url))
    base = AT.replace(hour=10, minute=0, second=0)

    def send(key: str, *events: tuple[str, int]) -> None:
        body = [{"event_type": kind, "path": "/", "visitor_id": "x", "user_agent": MAC,
                 "timestamp": (base + timedelta(minutes=m)).isoformat()} for kind, m in events]  # fmt: skip
        r = client.post("/api/events", json={"events": body}, headers={"x-api-key": key})
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)

    with TestClient(app) as client:
        created = client.post("/api/site/create", json={"name": "L", "domains": ["l.example"]},
                              headers=AUTH).json()  # fmt: skip
        send(created["api_key"], ("engagement", 20))
        send(created["api_key"], ("pageview", 0), ("pageview", 5))
        body = {"site_id": created["site_id"], "metrics": ["visits", "visit_duration"],
                "date_range": [base.date().isoformat()] * 2}  # fmt: skip
        r = client.post("/api/v2/query", json=body, headers=AUTH)
        assert r.json()["results"][0]["metrics"] == [1, 300], r.text
