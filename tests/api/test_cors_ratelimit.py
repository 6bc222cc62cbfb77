"""CORS on the collection endpoints (the tracker runs on customers' pages, any origin) and
the per-IP / per-key rate limits with their 429 + Retry-After (docs/design.md "Collection APIs")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, Footfall, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
ENDPOINTS = ["/api/event", "/api/events"]


def body_for(endpoint: str, path: str = "/") -> dict[str, Any]:
    event = {"event_type": "pageview", "path": path}
    return {"events": [event]} if endpoint == "/api/events" else event


@contextmanager
def app_with(
    tmp_path: Path, peer: str = "203.0.113.20", **overrides: Any
) -> Iterator[tuple[TestClient, str, str]]:
    app = create_app(make_settings(tmp_path, **overrides))
    with TestClient(app, client=(peer, 40000)) as client:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        r = client.post(
            "/api/site/create", json={"name": "S", "domains": ["example.com"]}, headers=admin
        )
        assert r.status_code == 201, r.text
        site_id, key = r.json()["site_id"], r.json()["api_key"]
        yield client, site_id, key


# -- CORS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("origin", ["https://customer.example", "http://localhost:3000", "null"])
def test_preflight_allows_any_origin(footfall: Footfall, endpoint: str, origin: str) -> None:
    r = footfall.client.options(
        endpoint,
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-api-key",
        },
    )
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"x-api-key", "content-type"} <= allowed
    methods = {m.strip().upper() for m in r.headers["access-control-allow-methods"].split(",")}
    assert "POST" in methods
    assert int(r.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_responses_carry_cors_header(footfall: Footfall, endpoint: str) -> None:
    origin = {"origin": "https://somewhere.example", "user-agent": UA}
    cases = [
        (202, dict(json=body_for(endpoint), headers={**origin, "x-api-key": footfall.api_key})),
        (401, dict(json=body_for(endpoint), headers=origin)),
        (400, dict(content=b"{not json", headers={**origin, "x-api-key": footfall.api_key})),
        (
            400,
            dict(
                json={"events": [{"path": "/"}]} if endpoint == "/api/events" else {"path": "/"},
                headers={**origin, "x-api-key": footfall.api_key},
            ),
        ),
        (413, dict(content=b" " * (2 << 20), headers={**origin, "x-api-key": footfall.api_key})),
        (
            415,
            dict(
                content=b"a=b",
                headers={
                    **origin,
                    "x-api-key": footfall.api_key,
                    "content-type": "application/x-www-form-urlencoded",
                },
            ),
        ),
    ]
    for status, kw in cases:
        r = footfall.client.post(endpoint, **kw)
        assert r.status_code == status, (status, r.text)
        assert r.headers.get("access-control-allow-origin") == "*", (status, dict(r.headers))


# -- rate limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_per_ip_limit_answers_429_with_retry_after(tmp_path: Path, endpoint: str) -> None:
    with app_with(tmp_path, rate_limit_per_ip=1, rate_limit_per_ip_burst=3) as (client, _, key):
        h = {"x-api-key": key, "user-agent": UA}
        for i in range(3):
            r = client.post(endpoint, json=body_for(endpoint, f"/{i}"), headers=h)
            assert r.status_code == 202, (i, r.text)
        r = client.post(endpoint, json=body_for(endpoint, "/4th"), headers=h)
        assert r.status_code == 429, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["access-control-allow-origin"] == "*"
        body = r.json()
        assert body["success"] is False and body["error"]
        assert body["details"][0]["field"]


def test_per_ip_limit_counts_bad_requests_and_is_per_address(tmp_path: Path) -> None:
    with app_with(tmp_path, rate_limit_per_ip=1, rate_limit_per_ip_burst=3, trusted_proxies=1) as (
        client,
        _,
        key,
    ):
        h = {"x-api-key": key, "user-agent": UA}
        a = {**h, "x-forwarded-for": "198.51.100.1"}
        b = {**h, "x-forwarded-for": "198.51.100.2"}
        assert client.post("/api/event", content=b"junk", headers=a).status_code == 400
        assert client.post("/api/event", json=body_for("/api/event"), headers=a).status_code == 202
        assert (
            client.post("/api/events", json=body_for("/api/events"), headers=a).status_code == 202
        )
        r = client.post("/api/event", json=body_for("/api/event"), headers=a)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # a different client address behind the same proxy is not limited
        for _ in range(3):
            assert (
                client.post("/api/event", json=body_for("/api/event"), headers=b).status_code == 202
            )
        assert client.post("/api/event", json=body_for("/api/event"), headers=b).status_code == 429


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_per_key_limit_answers_429_with_retry_after(tmp_path: Path, endpoint: str) -> None:
    with app_with(
        tmp_path,
        rate_limit_per_ip=0,
        rate_limit_per_key=1,
        rate_limit_per_key_burst=3,
        trusted_proxies=1,
    ) as (client, _, key):
        for i in range(3):
            h = {"x-api-key": key, "user-agent": UA, "x-forwarded-for": f"198.51.100.{i + 1}"}
            r = client.post(endpoint, json=body_for(endpoint, f"/{i}"), headers=h)
            assert r.status_code == 202, (i, r.text)
        h = {"x-api-key": key, "user-agent": UA, "x-forwarded-for": "198.51.100.200"}
        r = client.post(endpoint, json=body_for(endpoint, "/4th"), headers=h)
        assert r.status_code == 429, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["access-control-allow-origin"] == "*"
        body = r.json()
        assert body["success"] is False
        assert body["details"][0]["field"] == "x-api-key"


def test_per_key_limit_is_per_site(tmp_path: Path) -> None:
    with app_with(
        tmp_path, rate_limit_per_ip=0, rate_limit_per_key=1, rate_limit_per_key_burst=2
    ) as (client, _, key):
        admin = {"Authorization": f"Bearer {ADMIN}"}
        r = client.post(
            "/api/site/create", json={"name": "T", "domains": ["other.example"]}, headers=admin
        )
        key2 = r.json()["api_key"]

        def send(api_key: str) -> int:
            headers = {"x-api-key": api_key, "user-agent": UA}
            return client.post(
                "/api/event", json=body_for("/api/event"), headers=headers
            ).status_code

        for _ in range(2):
            assert send(key) == 202
        assert send(key) == 429
        assert send(key2) == 202


def test_zero_turns_the_limits_off(tmp_path: Path) -> None:
    with app_with(
        tmp_path,
        rate_limit_per_ip=0,
        rate_limit_per_ip_burst=1,
        rate_limit_per_key=0,
        rate_limit_per_key_burst=1,
    ) as (client, site_id, key):
        h = {"x-api-key": key, "user-agent": UA}
        statuses = [
            client.post("/api/event", json=body_for("/api/event", f"/{i}"), headers=h).status_code
            for i in range(50)
        ]
        assert statuses == [202] * 50
        statuses = [
            client.post(
                "/api/events", json=body_for("/api/events", f"/b{i}"), headers=h
            ).status_code
            for i in range(50)
        ]
        assert statuses == [202] * 50
