"""The live visitor count ("current visitors": distinct visitors with an event in the last
5 minutes, bots and referrer spam not counted, as the writer drops them) is the same
whether it comes from the store (one process) or from Redis (several servers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.config import Settings
from footfall.dashboard.siteops import current_visitors
from footfall.meta.repo import SiteInfo
from tests.conftest import make_settings
from tests.shared.conftest import GOOGLEBOT, event
from tests.support.redis import REDIS_URL
from tests.worker.inprocess import worker_beside


@pytest.fixture(params=["process", "redis"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "process":
        yield make_settings(tmp_path)
        return
    prefix = request.getfixturevalue("redis_prefix")
    yield make_settings(tmp_path, queue_url=REDIS_URL, redis_prefix=prefix)


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def settled(svc: object, site: SiteInfo, expected: int) -> int:
    """The count once the store or Redis has caught up (both take well under a second)."""
    deadline = time.monotonic() + 10
    while (n := current_visitors(svc, site)) != expected and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.1)
    return n


def test_current_visitors(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        svc = app.state.services
        site, key = svc.meta.create_site("Live", ["live.example"])
        events = [
            event("a"), event("b"), event("c"), event("c", path="/second"),
            event("d", timestamp=ago(4)),  # 4 minutes ago: still current
            event("old", timestamp=ago(10)),  # 10 minutes ago: gone
            event("bot", user_agent=GOOGLEBOT),
            event("spammer", referrer="https://100dollars-seo.com/offer"),
        ]  # fmt: skip
        r = client.post("/api/events", json={"events": events}, headers={"x-api-key": key})
        assert r.status_code == 202 and r.json()["accepted"] == 8
        with worker_beside(svc):  # the Redis shape's server stores nothing itself
            assert svc.wait_stored(15)
        assert settled(svc, site, 4) == 4  # a, b, c, d
        # Another site's visitors are not this site's.
        other, _ = svc.meta.create_site("Quiet", ["quiet.example"])
        assert current_visitors(svc, other) == 0
