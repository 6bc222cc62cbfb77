"""Site settings actions, deleting a site with its stored data, public shared links
(with and without a password), the live-count stream and the installation check."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from starlette.testclient import TestClient

from footfall.dashboard.siteops import current_visitors, verify_installation
from footfall.meta.users import UserInfo
from tests.conftest import Footfall
from tests.dashboard.conftest import PASSWORD, csrf_for, csrf_of, login


def settings_post(footfall: Footfall, action: str, **form: str) -> str:
    url = f"/sites/{footfall.site_id}/settings"
    r = footfall.client.post(
        f"{url}/{action}", data={"csrf": csrf_for(footfall.client, url), **form}
    )
    assert r.status_code == 200, r.text
    return r.text


def pageview(footfall: Footfall, visitor: str = "v1") -> None:
    now = datetime.now(UTC).isoformat()
    r = footfall.send(
        {"event_type": "pageview", "path": "/", "visitor_id": visitor, "timestamp": now}
    )
    assert r.status_code == 202, r.text


def test_rotate_key_and_read_tokens(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    page = settings_post(footfall, "rotate-key")
    key = re.search(r'id="new-key">([^<]+)<', page)
    assert key and key.group(1) in page.split('id="snippet">')[1]
    assert footfall.send({"event_type": "pageview", "path": "/"}).status_code == 401  # old key
    page = settings_post(footfall, "token-create")
    token = re.search(r'id="new-token">([^<]+)<', page)
    assert token
    auth = {"authorization": f"Bearer {token.group(1)}"}
    body = {"site_id": footfall.site_id, "metrics": ["visitors"], "date_range": "day"}
    assert (
        TestClient(footfall.client.app).post("/api/v2/query", json=body, headers=auth).status_code
        == 200
    )
    token_id = footfall.services.meta.list_read_tokens(footfall.site_id)[-1].id
    assert "Token revoked" in settings_post(footfall, "token-revoke", token_id=str(token_id))
    assert (
        TestClient(footfall.client.app).post("/api/v2/query", json=body, headers=auth).status_code
        == 401
    )


def test_verify_installation_and_live_count(footfall: Footfall, owner: UserInfo) -> None:
    site = footfall.services.meta.get_site(footfall.site_id)
    assert site is not None
    assert not verify_installation(footfall.services, site).ok
    pageview(footfall, "a")
    pageview(footfall, "b")
    footfall.flush()
    check = verify_installation(footfall.services, site)
    assert check.ok and check.events == 2 and check.last_event is not None
    assert current_visitors(footfall.services, site) == 2
    login(footfall.client, owner.email)
    assert "Events are arriving: 2 stored" in footfall.client.get(f"/sites/{site.id}/settings").text
    with footfall.client.stream("GET", f"/sites/{site.id}/live") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        data = next(line for line in lines if line.startswith("data:"))
    assert json.loads(data.removeprefix("data:")) == {"visitors": 2}


def test_delete_site_needs_its_name_and_removes_its_data(
    footfall: Footfall, owner: UserInfo
) -> None:
    pageview(footfall)
    footfall.flush()
    svc = footfall.services
    other, other_key = svc.meta.create_site("Kept", ["kept.example"])
    keep = footfall.client.post("/api/event", headers={"x-api-key": other_key},
                                json={"event_type": "pageview", "path": "/"})  # fmt: skip
    assert keep.status_code == 202
    footfall.flush()
    login(footfall.client, owner.email)
    url = f"/sites/{footfall.site_id}/settings"
    token = csrf_for(footfall.client, url)
    wrong = footfall.client.post(url + "/delete", data={"csrf": token, "confirm": "example"})
    assert wrong.status_code == 400 and svc.meta.get_site(footfall.site_id) is not None
    gone = footfall.client.post(url + "/delete", data={"csrf": token, "confirm": "Example"},
                                follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303 and svc.meta.get_site(footfall.site_id) is None
    for table in ("events", "sessions", "dropped_events"):
        rows = svc.store.query(
            f"SELECT count(*) FROM {table} WHERE site_id = ?", [footfall.site_id]
        )
        assert rows[0][0] == 0, table
    assert svc.store.query("SELECT count(*) FROM events WHERE site_id = ?", [other.id])[0][0] == 1


def test_shared_link_shows_one_dashboard_without_login(footfall: Footfall, owner: UserInfo) -> None:
    pageview(footfall)
    footfall.flush()
    login(footfall.client, owner.email)
    page = settings_post(footfall, "share-create", label="Public <b>")
    slug = re.search(r'href="/share/([^"]+)"', page)
    assert slug and "Public &lt;b&gt;" in page
    anon = TestClient(footfall.client.app)
    shared = anon.get(f"/share/{slug.group(1)}")
    assert shared.status_code == 200 and 'id="dashboard"' in shared.text
    assert "/settings" not in shared.text and "Log out" not in shared.text
    body = {"site_id": footfall.site_id, "metrics": ["visitors"], "date_range": "day"}
    got = anon.post(f"/share/{slug.group(1)}/query", json=body)
    assert got.status_code == 200 and got.json()["results"][0]["metrics"] == [1]
    other, _ = footfall.services.meta.create_site("Other", ["other.example"])
    assert (
        anon.post(f"/share/{slug.group(1)}/query", json={**body, "site_id": other.id}).status_code
        == 404
    )
    assert anon.post("/api/v2/query", json=body).status_code == 401
    assert anon.get(f"/sites/{footfall.site_id}", follow_redirects=False).status_code == 303
    assert anon.get("/share/not-a-link").status_code == 404
    share_id = re.search(r'name="share_id" value="(\d+)"', page)
    assert share_id
    settings_post(footfall, "share-delete", share_id=share_id.group(1))
    assert anon.get(f"/share/{slug.group(1)}").status_code == 404


def test_password_protected_shared_link(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    page = settings_post(footfall, "share-create", password=PASSWORD)
    slug = re.search(r'href="/share/([^"]+)"', page)
    assert slug
    url = f"/share/{slug.group(1)}"
    anon = TestClient(footfall.client.app)
    form_page = anon.get(url)
    assert 'type="password"' in form_page.text and 'id="dashboard"' not in form_page.text
    body = {"site_id": footfall.site_id, "metrics": ["visitors"], "date_range": "day"}
    assert anon.post(url + "/query", json=body).status_code == 401
    token = csrf_of(form_page.text)
    assert anon.post(url, data={"csrf": token, "password": "wrong one"}).status_code == 401
    assert anon.post(url, data={"password": PASSWORD}).status_code == 403  # CSRF
    ok = anon.post(url, data={"csrf": token, "password": PASSWORD}, follow_redirects=False)
    assert ok.status_code == 303 and "httponly" in ok.headers["set-cookie"].lower()
    assert 'id="dashboard"' in anon.get(url).text
    assert anon.post(url + "/query", json=body).status_code == 200
    forged = TestClient(footfall.client.app, cookies={"ff_share_1": "forged.value"})
    assert forged.post(url + "/query", json=body).status_code == 401


def test_member_add_creates_a_viewer(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    page = settings_post(footfall, "member-add", email="new@example.com", role="viewer",
                         password=PASSWORD)  # fmt: skip
    assert "new@example.com" in page
    viewer = TestClient(footfall.client.app)
    assert login(viewer, "new@example.com").status_code == 303
    assert viewer.get(f"/sites/{footfall.site_id}/settings").status_code == 403
    missing = footfall.client.post(
        f"/sites/{footfall.site_id}/settings/member-add",
        data={"csrf": csrf_for(footfall.client), "email": "ghost@example.com", "role": "viewer"},
    )
    assert missing.status_code == 400 and "give a password" in missing.text
