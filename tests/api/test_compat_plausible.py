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
    short = {
        "n": "pageview",
        "u": "https://example.com/a?utm_source=x",
        "d": "example.com",
        "r": "https://news.example.org/",
    }
    long = {
        "name": "Signup",
        "url": "https://www.example.com/b",
        "domain": "example.com",
        "props": {"plan": "pro", "seats": 3, "trial": True},
        "interactive": False,
    }
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
    body = {
        "n": "Purchase",
        "u": "https://example.com/checkout",
        "d": "example.com",
        "revenue": {"currency": "EUR", "amount": "12.50"},
    }
    assert post(footfall, body, ctype="application/json").status_code == 202
    (row,) = rows(footfall)
    assert row[0] == "Purchase" and float(row[5]) == 12.5


def create_site(footfall: Footfall, name: str, domains: list[str]) -> Any:
    return footfall.client.post(
        "/api/site/create", json={"name": name, "domains": domains},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )  # fmt: skip


def all_rows(footfall: Footfall) -> list[tuple[Any, ...]]:
    footfall.flush()
    return footfall.services.store.query("SELECT site_id, pathname FROM events ORDER BY site_id")


def test_comma_list_sends_one_event_per_site(footfall: Footfall) -> None:
    other = create_site(footfall, "Other", ["other.example"]).json()["site_id"]
    third = create_site(footfall, "Third", ["third.example"]).json()["site_id"]
    # www.example.com is example.com again: the site gets the event once. third.example's
    # page host is not one of its domains, so that copy is dropped.
    body = {"n": "pageview", "u": "https://example.com/", "d": "example.com,third.example,"
            "WWW.Example.com"}  # fmt: skip
    assert post(footfall, body).status_code == 202
    assert len(rows(footfall)) == 1
    assert rows(footfall, other) == [] and rows(footfall, third) == []


def test_a_site_cannot_capture_another_sites_plausible_traffic(footfall: Footfall) -> None:
    """A viewer of A tries to make "Spy" with B's domain, A's admin tries to add it to A:
    both are refused, and B's Plausible events reach B alone."""
    from footfall.meta.users import Accounts
    from tests.dashboard.conftest import PASSWORD, csrf_for, login

    victim = create_site(footfall, "B", ["b.example.com"]).json()["site_id"]
    accounts = Accounts(footfall.services.meta)
    viewer = accounts.create_user("viewer@example.com", PASSWORD)
    accounts.grant(viewer.id, footfall.site_id, "viewer")
    admin = accounts.create_user("admin@example.com", PASSWORD)
    accounts.grant(admin.id, footfall.site_id, "admin")
    client = footfall.client
    login(client, viewer.email)
    token = csrf_for(client)
    for domains in ("b.example.com", "WWW.B.example.com.", "b.example.com:443"):
        form = {"csrf": token, "name": "Spy", "domains": domains, "timezone": "UTC"}
        assert client.post("/sites", data=form).status_code == 403
        api = client.post("/api/site/create", json={"name": "Spy", "domains": [domains]},
                          headers={"x-csrf-token": token})  # fmt: skip
        assert api.status_code == 401
    client.post("/logout", data={"csrf": token})
    login(client, admin.email)
    url = f"/sites/{footfall.site_id}/settings"
    token = csrf_for(client, url)
    for domains in ("b.example.com", "example.com WWW.B.example.com.", "b.example.com:443"):
        form = {"csrf": token, "name": "Example", "domains": domains, "timezone": "UTC"}
        r = client.post(url + "/general", data=form)
        assert r.status_code == 400 and "domains: b.example.com is already" in r.text
    assert sorted(s.name for s in footfall.services.meta.list_sites()) == ["B", "Example"]
    event = {"n": "pageview", "u": "https://b.example.com/pricing?utm_campaign=launch",
             "d": "b.example.com"}  # fmt: skip
    assert post(footfall, event).status_code == 202
    assert all_rows(footfall) == [(victim, "/pricing")]


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
        (
            {"n": "x", "u": "https://example.com/", "d": "example.com", "p": {"a": {"b": 1}}},
            "props",
        ),
        (
            {
                "n": "x",
                "u": "https://example.com/",
                "d": "example.com",
                "p": {f"k{i}": i for i in range(31)},
            },
            "props",
        ),
        (
            {
                "n": "x",
                "u": "https://example.com/",
                "d": "example.com",
                "revenue": {"amount": "lots"},
            },
            "revenue",
        ),
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


def test_a_domain_moved_in_the_dashboard_sends_the_next_event_to_its_new_site(
    footfall: Footfall,
) -> None:
    from footfall.meta.users import Accounts
    from tests.dashboard.conftest import PASSWORD, csrf_for, login

    old = create_site(footfall, "Old", ["old.example", "moved.example"]).json()["site_id"]
    event = {"n": "pageview", "u": "https://moved.example/a", "d": "moved.example"}
    assert post(footfall, event).status_code == 202  # the lookup is cached now
    Accounts(footfall.services.meta).create_user("owner@example.com", PASSWORD, owner=True)
    client = footfall.client
    login(client, "owner@example.com")
    for site_id, domains in ((old, "old.example"), (footfall.site_id, "example.com moved.example")):
        url = f"/sites/{site_id}/settings"
        form = {"csrf": csrf_for(client, url), "name": site_id, "domains": domains}
        assert client.post(url + "/general", data=form).status_code == 200
    assert post(footfall, {**event, "u": "https://moved.example/b"}).status_code == 202
    assert all_rows(footfall) == [(footfall.site_id, "/b"), (old, "/a")]
