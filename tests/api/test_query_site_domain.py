"""POST /api/v2/query takes the site's domain as ``site_id``, as Plausible's clients send
it: the same answer as the site's id, and still only for a caller who may read the site."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
AT = (datetime.now(UTC) - timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[dict[str, Any]]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("dom")), store_url=store_url))
    with TestClient(app) as client:
        sites = {}
        for name, domain, n in (("A", "shop.example", 3), ("B", "blog.example", 1)):
            site = client.post("/api/site/create", json={"name": name, "domains": [domain]},
                               headers=AUTH).json()  # fmt: skip
            token = client.post("/api/tokens", json={"site_id": site["site_id"]}, headers=AUTH)
            events = [{"event_type": "pageview", "path": "/", "visitor_id": f"v{i}",
                       "timestamp": AT} for i in range(n)]  # fmt: skip
            r = client.post("/api/events", json={"events": events},
                            headers={"x-api-key": site["api_key"]})  # fmt: skip
            assert r.status_code == 202, r.text
            sites[name] = {"id": site["site_id"], "token": token.json()["token"]}
        assert app.state.services.writer.wait_idle(15)
        yield {"client": client, "sites": sites}


def ask(world: dict[str, Any], site_id: str, token: str) -> Any:
    body = {"site_id": site_id, "metrics": ["visitors"], "date_range": "7d"}
    return world["client"].post(
        "/api/v2/query", json=body, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.parametrize("name", ["shop.example", "www.shop.example", "SHOP.example"])
def test_the_sites_domain_is_its_site_id(world: dict[str, Any], name: str) -> None:
    a = world["sites"]["A"]
    for token in (a["token"], ADMIN):
        r = ask(world, name, token)
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["metrics"] == [3]
        assert r.json()["query"]["site_id"] == name  # echoed as sent
    assert ask(world, a["id"], a["token"]).json()["results"][0]["metrics"] == [3]


def test_a_domain_reads_only_what_the_token_may(world: dict[str, Any]) -> None:
    a = world["sites"]["A"]
    r = ask(world, "blog.example", a["token"])  # site B's domain with A's token
    assert r.status_code == 404, r.text
    assert ask(world, "blog.example", ADMIN).json()["results"][0]["metrics"] == [1]
    assert ask(world, "nobody.example", ADMIN).status_code == 404
