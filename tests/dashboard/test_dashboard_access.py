"""Who may read and change what: cookie logins on the query API and admin endpoints
(bearer tokens unchanged), site roles on pages and settings, escaping of hostile names."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from footfall.meta.users import Accounts, UserInfo
from tests.conftest import ADMIN, Footfall
from tests.dashboard.conftest import PASSWORD, csrf_for, login

QUERY = {"metrics": ["visitors"], "date_range": "7d"}


def query(client: TestClient, site_id: str, **headers: str) -> Any:
    return client.post("/api/v2/query", json={"site_id": site_id, **QUERY}, headers=headers)


def other_site(footfall: Footfall) -> str:
    site, _ = footfall.services.meta.create_site("Other", ["other.example"])
    return site.id


def test_cookie_reads_member_sites_only_and_bearer_is_unchanged(
    footfall: Footfall, viewer: UserInfo
) -> None:
    client, other = footfall.client, other_site(footfall)
    assert query(client, footfall.site_id).status_code == 401  # nobody
    login(client, viewer.email)
    assert query(client, footfall.site_id).status_code == 200
    assert query(client, other).status_code == 404  # exists, but not theirs
    assert query(client, "no-such-site").status_code == 404
    # A bearer token is judged on its own, cookie or not.
    assert query(client, footfall.site_id, authorization="Bearer nope").status_code == 401
    assert query(client, other, authorization=f"Bearer {footfall.token}").status_code == 404
    assert query(client, other, authorization=f"Bearer {ADMIN}").status_code == 200
    stats = client.get("/api/stats", params={"site_id": footfall.site_id})
    assert stats.status_code == 200


def test_owner_reads_every_site_and_may_call_admin_endpoints_with_csrf(
    footfall: Footfall, owner: UserInfo, viewer: UserInfo
) -> None:
    client, other = footfall.client, other_site(footfall)
    login(client, owner.email)
    assert query(client, other).status_code == 200
    body = {"name": "Made by owner", "domains": ["owner.example"]}
    assert client.post("/api/site/create", json=body).status_code == 403  # no CSRF header
    token = csrf_for(client)
    made = client.post("/api/site/create", json=body, headers={"x-csrf-token": token})
    assert made.status_code == 201, made.text
    viewer_client = TestClient(client.app)
    login(viewer_client, viewer.email)
    token = csrf_for(viewer_client)
    denied = viewer_client.post("/api/site/create", json=body, headers={"x-csrf-token": token})
    assert denied.status_code == 401


def test_viewer_sees_the_dashboard_but_not_settings(footfall: Footfall, viewer: UserInfo) -> None:
    client, site = footfall.client, footfall.site_id
    assert client.get(f"/sites/{site}", follow_redirects=False).status_code == 303
    login(client, viewer.email)
    page = client.get(f"/sites/{site}")
    assert page.status_code == 200 and 'id="dashboard"' in page.text
    assert "/settings" not in page.text
    assert client.get(f"/sites/{site}/settings").status_code == 403
    token = csrf_for(client, f"/sites/{site}")
    for action in ("general", "rotate-key", "token-create", "delete", "member-add"):
        r = client.post(
            f"/sites/{site}/settings/{action}", data={"csrf": token, "confirm": "Example"}
        )
        assert r.status_code == 403, action
    assert footfall.services.meta.get_site(site) is not None
    assert client.get(f"/sites/{other_site(footfall)}").status_code == 404
    assert client.get(f"/sites/{site}/sessions").status_code == 200


def test_site_admin_member_may_change_settings(footfall: Footfall, accounts: Accounts) -> None:
    admin = accounts.create_user("admin@example.com", PASSWORD)
    accounts.grant(admin.id, footfall.site_id, "admin")
    client = footfall.client
    login(client, admin.email)
    url = f"/sites/{footfall.site_id}/settings"
    assert client.get(url).status_code == 200
    form = {"csrf": csrf_for(client, url), "name": "Renamed", "domains": "example.com a.example",
            "timezone": "Europe/Berlin"}  # fmt: skip
    assert client.post(url + "/general", data={**form, "csrf": "forged"}).status_code == 403
    assert client.post(url + "/general", data=form).status_code == 200
    site = footfall.services.meta.get_site(footfall.site_id)
    assert site is not None and (site.name, site.domains, site.timezone) == (
        "Renamed", ("example.com", "a.example"), "Europe/Berlin")  # fmt: skip
    bad = client.post(url + "/general", data={**form, "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "timezone" in bad.text


def test_sites_list_shows_only_member_sites(footfall: Footfall, viewer: UserInfo) -> None:
    other_site(footfall)
    login(footfall.client, viewer.email)
    page = footfall.client.get("/").text
    assert f'href="/sites/{footfall.site_id}"' in page and "/sites/other" not in page


def test_hostile_site_names_are_escaped_in_every_context(
    footfall: Footfall, owner: UserInfo
) -> None:
    evil = "\"><script>alert(1)</script><img src=x onerror=alert(1) a='"
    footfall.services.meta.update_site(footfall.site_id, name=evil)
    client = footfall.client
    login(client, owner.email)
    for path in ("/", f"/sites/{footfall.site_id}", f"/sites/{footfall.site_id}/settings",
                 f"/sites/{footfall.site_id}/sessions"):  # fmt: skip
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    page = client.get(f"/sites/{footfall.site_id}")
    assert 'data-site-name="&#34;&gt;&lt;script&gt;' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_without_admin_token_only_a_logged_in_owner_reaches_admin_endpoints(
    tmp_path: Any,
) -> None:
    from footfall.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, admin_token=""))
    body = {"name": "Tokenless", "domains": ["tokenless.example"]}
    with TestClient(app) as client:
        assert client.post("/api/site/create", json=body).status_code == 403
        accounts = Accounts(app.state.services.meta)
        accounts.create_user("boss@example.com", PASSWORD, owner=True)
        accounts.create_user("nobody@example.com", PASSWORD)
        other = TestClient(app)
        login(other, "nobody@example.com")
        denied = other.post("/api/site/create", json=body,
                            headers={"x-csrf-token": csrf_for(other)})  # fmt: skip
        assert denied.status_code == 403
        login(client, "boss@example.com")
        made = client.post(
            "/api/site/create", json=body, headers={"x-csrf-token": csrf_for(client)}
        )
        assert made.status_code == 201, made.text


def test_owner_manages_users_and_others_may_not(
    footfall: Footfall, owner: UserInfo, viewer: UserInfo
) -> None:
    client = footfall.client
    login(client, viewer.email)
    assert client.get("/users").status_code == 403
    token = csrf_for(client)
    form = {"csrf": token, "email": "made@example.com", "password": PASSWORD}
    assert client.post("/users", data=form).status_code == 403
    client.post("/logout", data={"csrf": token})
    login(client, owner.email)
    page = client.get("/users")
    assert page.status_code == 200 and "viewer@example.com" in page.text and "viewer" in page.text
    made = client.post("/users", data={**form, "csrf": csrf_for(client, "/users")})
    assert made.status_code == 200 and "made@example.com created" in made.text
    again = client.post("/users", data={**form, "csrf": csrf_for(client, "/users")})
    assert again.status_code == 400 and "exists" in again.text
    assert login(TestClient(client.app), "made@example.com").status_code == 303


def test_every_logged_in_form_refuses_a_forged_token(footfall: Footfall, owner: UserInfo) -> None:
    """A form posted from another page (no, or a wrong, CSRF token) changes nothing."""
    client, meta = footfall.client, footfall.services.meta
    login(client, owner.email)
    site = footfall.site_id
    forms = {
        "/account/password": {"password": "a brand new passphrase"},
        "/sites": {"name": "Forged", "domains": "forged.example"},
        "/users": {"email": "forged@example.com", "password": PASSWORD},
        "/users/site-creation": {"user_id": str(owner.id), "allow": "on"},
        f"/sites/{site}/settings/delete": {"confirm": "Example"},
    }
    for path, form in forms.items():
        for token in ({}, {"csrf": "forged"}):
            r = client.post(path, data={**form, **token}, follow_redirects=False)
            assert r.status_code == 403, (path, token, r.status_code)
            assert "Your form expired" in r.text, path
    assert [s.name for s in meta.list_sites()] == ["Example"]
    assert [u.email for u in Accounts(meta).list_users()] == [owner.email]
    client.cookies.clear()
    assert login(client, owner.email).status_code == 303  # the password is unchanged
