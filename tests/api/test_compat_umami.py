"""Umami-compatible /api/send and /api/batch: site by id or public UUID, event data,
identify accepted, 200 answers, 4xx (never 500) on bad input; the site alias column."""

from __future__ import annotations

import json
from typing import Any

import pytest

from footfall.meta import Metadata
from tests.conftest import Footfall

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"


def payload(website: str, **extra: Any) -> dict[str, Any]:
    return {
        "website": website,
        "hostname": "example.com",
        "url": "/pricing?utm_source=news",
        "referrer": "https://search.example.net/",
        "title": "Pricing",
        "screen": "1440x900",
        "language": "en-GB",
        **extra,
    }


def send(footfall: Footfall, body: Any, path: str = "/api/send") -> Any:
    return footfall.client.post(
        path,
        content=json.dumps(body),
        headers={"content-type": "application/json", "user-agent": UA},
    )


def rows(footfall: Footfall) -> list[tuple[Any, ...]]:
    footfall.flush()
    return footfall.services.store.query(
        "SELECT name, hostname, pathname, utm_source, title, screen, language, props "
        "FROM events WHERE site_id = ? ORDER BY ts, name",
        [footfall.site_id],
    )


def alias(footfall: Footfall) -> str:
    site = footfall.services.meta.get_site(footfall.site_id)
    assert site is not None and len(site.public_uuid) == 36
    return site.public_uuid


def test_send_by_uuid_and_by_id(footfall: Footfall) -> None:
    r = send(footfall, {"type": "event", "payload": payload(alias(footfall).upper())})
    assert r.status_code == 200 and r.json()["cache"] == ""
    r = send(
        footfall,
        {
            "type": "event",
            "payload": payload(
                footfall.site_id, name="Signup", data={"plan": "pro", "user": {"tier": 2}}
            ),
        },
    )
    assert r.status_code == 200
    got = rows(footfall)
    assert [g[0] for g in got] == ["pageview", "Signup"]
    assert got[0][1:7] == ("example.com", "/pricing", "news", "Pricing", "1440x900", "en-GB")
    assert dict(got[1][7]) == {"plan": "pro", "user.tier": "2"}


def test_batch_counts_each_and_reports_bad_ones(footfall: Footfall) -> None:
    site = alias(footfall)
    body = [
        {"type": "event", "payload": payload(site)},
        {"type": "event", "payload": payload(site, name="Click")},
        {"type": "identify", "payload": {"website": site, "data": {"plan": "pro"}}},
        {"type": "event", "payload": payload("00000000-0000-0000-0000-000000000000")},
        {"type": "bogus", "payload": payload(site)},
    ]
    r = send(footfall, body, "/api/batch")
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["size"], got["processed"], got["errors"]) == (5, 3, 2)
    assert [d["index"] for d in got["details"]] == [3, 4]
    assert sorted(g[0] for g in rows(footfall)) == ["Click", "pageview"]


def test_foreign_hostname_is_dropped(footfall: Footfall) -> None:
    p = payload(alias(footfall), hostname="copycat.example")
    assert send(footfall, {"type": "event", "payload": p}).status_code == 200
    assert rows(footfall) == []


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"type": "event"},
        {"type": "event", "payload": []},
        {"type": "nope", "payload": {"website": "x"}},
        {"type": "event", "payload": {"website": "unknown-site"}},
        {"type": "event", "payload": {"website": None}},
        {"type": "event", "payload": {"website": 5}},
        {"type": "event", "payload": {"website": "SITE", "data": [1, 2]}},
        {"type": "event", "payload": {"website": "SITE", "data": {f"k{i}": 1 for i in range(40)}}},
        {"type": "event", "payload": {"website": "SITE", "title": "t" * 600}},
        {"type": "event", "payload": {"website": "SITE", "name": {"x": 1}}},
    ],
)
def test_bad_send_is_4xx(footfall: Footfall, body: Any) -> None:
    text = json.dumps(body).replace("SITE", footfall.site_id)
    r = footfall.client.post(
        "/api/send", content=text, headers={"content-type": "application/json"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"[" * 100_000, b"null"])
def test_garbage_is_4xx(footfall: Footfall, raw: bytes) -> None:
    for path in ("/api/send", "/api/batch"):
        r = footfall.client.post(path, content=raw, headers={"content-type": "text/plain"})
        assert 400 <= r.status_code < 500, (path, r.text)


def test_batch_with_nothing_valid_is_400(footfall: Footfall) -> None:
    r = send(footfall, [{"type": "event", "payload": {}}], "/api/batch")
    assert r.status_code == 400 and r.json()["errors"] == 1


def test_preflight_allows_umami_headers(footfall: Footfall) -> None:
    r = footfall.client.options("/api/send")
    assert r.status_code == 204 and "x-umami-cache" in r.headers["access-control-allow-headers"]


def test_alias_lookup_and_new_sites_get_distinct_uuids(tmp_path: Any) -> None:
    meta = Metadata(f"sqlite:///{tmp_path / 'meta.db'}")
    meta.migrate()
    a, _ = meta.create_site("A", ["a.example"])
    b, _ = meta.create_site("B", ["b.example"])
    assert a.public_uuid != b.public_uuid
    found = meta.site_for_alias(a.public_uuid)
    assert found is not None and found.id == a.id
    by_id = meta.site_for_alias(b.id)
    assert by_id is not None and by_id.id == b.id
    assert meta.site_for_alias("") is None and meta.site_for_alias("x" * 100) is None
    meta.close()


def test_migration_gives_existing_sites_a_uuid(tmp_path: Any) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from footfall.meta.db import MIGRATIONS_DIR, writer

    meta = Metadata(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with writer(meta.engine).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        for sid in ("old-a", "old-b"):
            conn.execute(
                text(
                    "INSERT INTO sites (id, name, timezone, created_at) "
                    "VALUES (:id, :id, 'UTC', '2024-01-01 00:00:00')"
                ),
                {"id": sid},
            )
    meta.migrate()
    uuids = {s.id: s.public_uuid for s in meta.list_sites()}
    assert set(uuids) == {"old-a", "old-b"}
    assert all(len(u) == 36 for u in uuids.values()) and len(set(uuids.values())) == 2
    meta.close()
