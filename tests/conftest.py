"""Shared fixtures: a real app on a temporary data directory, driven in process.

The Starlette TestClient runs the real lifespan (metadata migrations, DuckDB store,
spool, writer thread), so these tests exercise the same objects ``footfall serve`` does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.config import Settings
from footfall.meta.repo import Metadata
from footfall.runtime import Services

ADMIN = "test-admin-token"
# The shared Redis's checks and per-test key prefix (the redis_prefix fixture).
pytest_plugins = ["tests.support.redis"]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """Logins in this process hash with argon2id at its lowest cost. The production cost
    (64 MiB, 3 passes) is a tenth of a second of CPU a login, paid hundreds of times by the
    login, throttling and dashboard tests, and it is not what they check; servers started
    as subprocesses keep the production cost, and hashes of either cost verify alike."""
    from argon2 import PasswordHasher

    from footfall.meta import users

    production = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    users._dummy_hash.cache_clear()
    yield
    users._hasher = production
    users._dummy_hash.cache_clear()


def require_services() -> bool:
    """CI sets FOOTFALL_REQUIRE_SERVICES=1: a missing service is then a failure, not a skip."""
    return os.environ.get("FOOTFALL_REQUIRE_SERVICES") == "1"


@dataclass
class Footfall:
    client: TestClient
    services: Services
    site_id: str
    api_key: str
    token: str

    def send(self, event: dict[str, Any], **kw: Any) -> Any:
        return self.client.post("/api/event", json=event, headers={"x-api-key": self.api_key}, **kw)

    def send_batch(self, events: list[dict[str, Any]]) -> Any:
        return self.client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": self.api_key}
        )

    def flush(self) -> None:
        if self.services.writer is None:  # the Redis shape: a test's worker drains it
            deadline = time.monotonic() + 15
            while self.services.queue.depth():
                assert time.monotonic() < deadline, "the workers did not drain the queue"
                time.sleep(0.02)
            return
        assert self.services.writer.wait_idle(15), "writer did not drain the spool"

    def stats(self, token: str | None = None, **params: str) -> dict[str, Any]:
        self.flush()
        r = self.client.get(
            "/api/stats",
            params={"site_id": self.site_id, **params},
            headers={"Authorization": f"Bearer {token or self.token}"},
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["data"]
        return data

    def stats_admin(self, first: Any, last: Any) -> dict[str, Any]:
        return self.stats(token=ADMIN, **{"from": first.isoformat(), "to": last.isoformat()})


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "admin_token": ADMIN,
        "flush_interval_ms": 20,
    }
    base.update(overrides)
    if str(base.get("store_url", "")).startswith("chdb://"):
        # Every app gets a ClickHouse database of its own, as each gets its own data dir.
        base["store_url"] = chdb_url("app")
    return Settings(**base)


def make_shop(settings: Settings) -> str:
    """An import's target: the data directory, migrated metadata and one site, "Shop"
    (shop.example, UTC); returns the site's API key."""
    settings.data_dir.mkdir(parents=True)
    meta = Metadata(settings.metadata_url)
    meta.migrate()
    _, key = meta.create_site("Shop", ["shop.example"], "UTC")
    meta.close()
    return str(key)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def footfall(settings: Settings) -> Iterator[Footfall]:
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.7", 50000)) as client:
        services: Services = app.state.services
        r = client.post(
            "/api/site/create",
            json={"name": "Example", "domains": ["example.com"]},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert r.status_code == 201, r.text
        site_id, key = r.json()["site_id"], r.json()["api_key"]
        t = client.post(
            "/api/tokens", json={"site_id": site_id}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert t.status_code == 201, t.text
        yield Footfall(client, services, site_id, key, t.json()["token"])


def _chdb_available() -> bool:
    try:
        import chdb  # noqa: F401
        import clickhouse_connect  # noqa: F401
    except ImportError:
        return False
    return True


_CHDB_ROOT: list[Path] = []


def chdb_url(name: str) -> str:
    """A chdb store URL for one test store: one engine path for the whole session (chdb
    opens one path per process), a database of its own."""
    import tempfile
    import uuid

    if not _CHDB_ROOT:
        _CHDB_ROOT.append(Path(tempfile.mkdtemp(prefix="footfall-chdb-")))
    db = f"{name}_{uuid.uuid4().hex[:8]}"
    return f"chdb://{_CHDB_ROOT[0]}?database={db}"


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each query test module runs on both stores: the same data, the same expected rows."""
    if request.param == "duckdb":
        return ""
    if not _chdb_available():
        if require_services():
            pytest.fail("chdb/clickhouse-connect not installed (pip install -e '.[dev]')")
        pytest.skip("chdb not installed: the ClickHouse store is not tested")
    return chdb_url(request.module.__name__.rsplit(".", 1)[-1])
