"""An app per test module, with sites made and events sent through the collection API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}


class World:
    """One running app: make sites, send them events, read reports as the admin."""

    def __init__(self, client: TestClient, app: Any) -> None:
        self.client, self.app = client, app

    def site(self, domain: str, timezone: str = "UTC") -> dict[str, Any]:
        body = {"name": domain, "domains": [domain], "timezone": timezone}
        r = self.client.post("/api/site/create", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def send(self, site: dict[str, Any], events: list[dict[str, Any]]) -> None:
        for i in range(0, len(events), 500):
            r = self.client.post("/api/events", json={"events": events[i : i + 500]},
                                 headers={"x-api-key": site["api_key"]})  # fmt: skip
            assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert self.app.state.services.writer.wait_idle(30)

    def get(self, path: str, status: int = 200, **params: Any) -> Any:
        r = self.client.get(path, params=params, headers=AUTH)
        assert r.status_code == status, r.text
        return r.json()["data"] if status == 200 else r.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[World]:
    settings = make_settings(
        Path(tmp_path_factory.mktemp("product")), store_url=store_url, max_past_days=800
    )
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.20", 1)) as client:
        yield World(client, app)


Make = Callable[..., dict[str, Any]]
