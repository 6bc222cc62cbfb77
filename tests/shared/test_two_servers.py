"""Two ``serve`` instances sharing one Redis (and one metadata database), as behind a load
balancer: the rate limits, the login throttle, the live visitor count and the site cache
are the same whichever instance a request reaches.

``serve`` runs no writer in this shape and no worker runs here, so nothing reaches either
store: the live count can only come from Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.dashboard import sessions
from footfall.dashboard.siteops import current_visitors
from footfall.meta.users import Accounts
from footfall.runtime import Services
from tests.conftest import make_settings
from tests.dashboard.conftest import PASSWORD, login
from tests.shared.conftest import event
from tests.support.redis import REDIS_URL


@dataclass
class Server:
    client: TestClient
    services: Services


@pytest.fixture
def servers(tmp_path: Path, redis_prefix: str) -> Iterator[tuple[Server, Server]]:
    meta = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    pair = []
    with ExitStack() as stack:
        for name in ("a", "b"):
            settings = make_settings(
                tmp_path / name, queue_url=REDIS_URL, redis_prefix=redis_prefix,
                database_url=meta, rate_limit_per_ip=0.01, rate_limit_per_ip_burst=3,
            )  # fmt: skip
            app = create_app(settings)
            client = stack.enter_context(TestClient(app, client=("198.51.100.4", 5000)))
            assert app.state.services.writer is None
            pair.append(Server(client, app.state.services))
        yield pair[0], pair[1]


def test_the_rate_limit_per_ip_is_one_for_both(servers: tuple[Server, Server]) -> None:
    a, b = servers
    _, key = a.services.meta.create_site("S", ["s.example"])
    send = {"json": event("v"), "headers": {"x-api-key": key}}
    codes = [s.client.post("/api/event", **send).status_code for s in (a, b, a, b, a)]
    assert codes == [202, 202, 202, 429, 429]  # a burst of 3 in all, not 3 each


def test_login_tries_count_on_both(
    servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = servers
    monkeypatch.setattr(sessions, "LOGIN_TRIES_PER_EMAIL", 2)  # 10 argon2 checks take long
    Accounts(a.services.meta).create_user("owner@example.com", PASSWORD, owner=True)
    # The allowed wrong passwords for one email from one address, one on each server...
    for server in (a, b):
        assert login(server.client, "owner@example.com", "wrong").status_code == 401
    # ...and the next try is refused on either, even with the right password.
    assert login(a.client, "owner@example.com").status_code == 429
    assert login(b.client, "owner@example.com").status_code == 429


def test_live_visitors_sent_to_either_server_are_counted_on_both(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    site, key = a.services.meta.create_site("S", ["s.example"])
    for server, visitors in ((a, "x"), (b, "yz"), (a, "z")):  # 3 requests: the IP's burst
        body = {"events": [event(v) for v in visitors]}
        r = server.client.post("/api/events", json=body, headers={"x-api-key": key})
        assert r.status_code == 202, r.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and current_visitors(b.services, site) != 3:
        time.sleep(0.1)
    assert current_visitors(a.services, site) == 3
    assert current_visitors(b.services, site) == 3
    assert a.services.store.query("SELECT count(*) FROM events")[0][0] == 0  # none stored


def test_a_site_deleted_on_one_server_stops_collection_on_the_other(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    site, key = a.services.meta.create_site("S", ["s.example"])
    send = {"json": event("v"), "headers": {"x-api-key": key}}
    assert b.client.post("/api/event", **send).status_code == 202  # b caches the key now
    # What the dashboard's "delete site" does on a: the metadata, then the cache.
    a.services.meta.delete_site(site.id)
    a.services.sites.invalidate()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and b.services.sites.for_ingest_key(key) is not None:
        time.sleep(0.02)
    # Within the cache's 30 s TTL b would have gone on accepting (and storing) events.
    assert b.client.post("/api/event", **send).status_code == 401
