"""Plausible Events API on POST /api/event: short and long keys, text/plain bodies, sites by
domain (comma lists), props, revenue, 202 ok, silent drops, 400 {"errors": ...}."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ADMIN, Footfall

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def post(footfall: Footfall, body: Any, ua: str = UA, ctype: str = "text/plain") -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return footfall.client.post(
        "/api/event", content=data, headers={"content-type": ctype, "user-agent": ua}
    )


def rows(footfall: Footfall, site_id: str | None = None) -> list[tuple[Any, ...]]:
    footfall.flush()
    return footfall.services.store.query(
        "SELECT name, hostname, pathname, referrer, props, revenue, interactive FROM events "
        "WHERE site_id = ? ORDER BY ts, name",
        [site_id or footfall.site_id],
    )


def test_short_and_long_keys_are_counted(footfall: Footfall) -> None:
    short = {"n": "pageview", "u": "https://example.com/a?utm_source=x", "d": "example.com",
             "r": "https://news.example.org/"}
    long = {"name": "Signup", "url": "https://www.example.com/b", "domain": "example.com",
            "props": {"plan": "pro", "seats": 3, "trial": True}, "interactive": False}
    for body in (short, long):
        r = post(footfall, body)
        assert (r.status_code, r.text) == (202, "ok")
    got = rows(footfall)
    assert len(got) == 2
    by_name = {r[0]: r for r in got}
    assert by_name["pageview"][2] == "/a" and by_name["pageview"][3] == "https://news.example.org/"
    assert dict(by_name["Signup"][4]) == {"plan": "pro", "seats": "3", "trial": "true"}
    assert by_name["Signup"][6] is False
    data = footfall.stats()
    assert data["pageviews"] == 1


def test_application_json_and_revenue(footfall: Footfall) -> None:
    body = {"n": "Purchase", "u": "https://example.com/checkout", "d": "example.com",
            "revenue": {"currency": "EUR", "amount": "12.50"}}
    assert post(footfall, body, ctype="application/json").status_code == 202
    (row,) = rows(footfall)
    assert row[0] == "Purchase" and float(row[5]) == 12.5


def test_comma_list_sends_one_event_per_site(footfall: Footfall) -> None:
    r = footfall.client.post(
        "/api/site/create", json={"name": "Other", "domains": ["other.example", "example.com"]},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    other = r.json()["site_id"]
    r2 = footfall.client.post(
        "/api/site/create", json={"name": "Third", "domains": ["third.example"]},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    third = r2.json()["site_id"]
    body = {"n": "pageview", "u": "https://example.com/", "d": "example.com,third.example"}
    assert post(footfall, body).status_code == 202
    # example.com is a domain of both the fixture's site and "Other"; third.example's page
    # host is not one of its domains, so that copy is dropped.
    assert len(rows(footfall)) == 1
    assert len(rows(footfall, other)) == 1
    assert rows(footfall, third) == []


def test_bots_foreign_hosts_and_unknown_domains_are_dropped_silently(footfall: Footfall) -> None:
    ok = {"n": "pageview", "u": "https://example.com/", "d": "example.com"}
    assert post(footfall, ok, ua=BOT_UA).status_code == 202
    assert post(footfall, {**ok, "u": "https://copycat.example/"}).status_code == 202
    assert post(footfall, {**ok, "d": "nobody.example"}).status_code == 202
    assert rows(footfall) == []


def test_hash_mode_keeps_the_fragment(footfall: Footfall) -> None:
    body = {"n": "pageview", "u": "https://example.com/app#/settings", "d": "example.com", "h": 1}
    assert post(footfall, body).status_code == 202
    assert rows(footfall)[0][2] == "/app#/settings"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"n": "pageview", "u": "https://example.com/"}, "domain"),
        ({"u": "https://example.com/", "d": "example.com"}, "name"),
        ({"n": "pageview", "d": "example.com"}, "url"),
        ({"n": "pageview", "u": "not a url", "d": "example.com"}, "url"),
        ({"n": 5, "u": "https://example.com/", "d": "example.com"}, "name"),
        ({"n": "x", "u": "https://example.com/", "d": "example.com", "p": [1]}, "props"),
        ({"n": "x", "u": "https://example.com/", "d": "example.com", "p": {"a": {"b": 1}}}, "props"),
        ({"n": "x", "u": "https://example.com/", "d": "example.com",
          "p": {f"k{i}": i for i in range(31)}}, "props"),
        ({"n": "x", "u": "https://example.com/", "d": "example.com", "revenue": {"amount": "lots"}}, "revenue"),
        ({"n": "x" * 200, "u": "https://example.com/", "d": "example.com"}, "name"),
        ({"n": "x", "u": "https://example.com/" + "a" * 3000, "d": "example.com"}, "url"),
    ],
)
def test_bad_input_is_400_with_plausible_errors(footfall: Footfall, body: dict, field: str) -> None:
    r = post(footfall, body)
    assert r.status_code == 400, r.text
    assert field in r.json()["errors"], r.json()


def test_props_as_json_string_are_accepted(footfall: Footfall) -> None:
    body = {"n": "Click", "u": "https://example.com/", "d": "example.com", "p": '{"btn":"buy"}'}
    assert post(footfall, body).status_code == 202
    assert dict(rows(footfall)[0][4]) == {"btn": "buy"}


def test_native_events_are_not_taken_for_plausible(footfall: Footfall) -> None:
    r = footfall.send({"event_type": "pageview", "path": "/n", "url": "https://example.com/n"})
    assert r.status_code == 202 and r.json()["success"] is True
    no_key = footfall.client.post("/api/event", json={"event_type": "pageview", "path": "/"})
    assert no_key.status_code == 401
