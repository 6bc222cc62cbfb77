"""Goals and funnels over the API (/api/v1/sites/{site_id}/goals, /funnels): list,
create, change and delete with admin rights (admin token, or a site admin's login with
its CSRF token); a read token lists only; bad bodies are 400s naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from footfall.meta.users import Accounts
from tests.conftest import ADMIN, Footfall
from tests.dashboard.conftest import PASSWORD, csrf_for, login

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def call(f: Footfall, method: str, path: str, status: int, headers: Any = None, **kw: Any
         ) -> Any:  # fmt: skip
    r = f.client.request(method, f"/api/v1/sites/{f.site_id}{path}",
                         headers=AUTH if headers is None else headers, **kw)  # fmt: skip
    assert r.status_code == status, r.text
    return r.json()


def test_goals_and_funnels_crud_with_the_admin_token(footfall: Footfall) -> None:
    f = footfall
    signup = call(f, "POST", "/goals", 201, json={"name": "Signup", "kind": "event",
                                                  "target": "signup"})["data"]  # fmt: skip
    pricing = call(f, "POST", "/goals", 201, json={
        "name": "Pricing", "kind": "page", "target": "/pricing/**"})["data"]  # fmt: skip
    assert pricing == {"id": pricing["id"], "name": "Pricing", "kind": "page",
                       "target": "/pricing/**", "prop_key": "", "prop_value": "",
                       "currency": None}  # fmt: skip
    funnel = call(f, "POST", "/funnels", 201, json={
        "name": "Buy", "steps": [pricing["id"], signup["id"]]})["data"]  # fmt: skip
    assert funnel["steps"] == ["Pricing", "Signup"]
    assert funnel["goal_ids"] == [pricing["id"], signup["id"]]
    # Changed: the goal's new name shows in the funnel, the funnel's steps reversed.
    changed = call(f, "PUT", f"/goals/{signup['id']}", 200, json={
        "name": "Pro signup", "kind": "event", "target": "signup", "prop_key": "plan",
        "prop_value": "pro"})["data"]  # fmt: skip
    assert (changed["name"], changed["prop_key"], changed["prop_value"]) == (
        "Pro signup",
        "plan",
        "pro",
    )
    funnel = call(f, "PUT", f"/funnels/{funnel['id']}", 200, json={
        "name": "Buy again", "steps": [signup["id"], pricing["id"]]})["data"]  # fmt: skip
    assert (funnel["name"], funnel["steps"]) == ("Buy again", ["Pro signup", "Pricing"])
    listed = call(f, "GET", "/funnels", 200)["data"]
    assert [(x["name"], x["steps"]) for x in listed] == [("Buy again", ["Pro signup", "Pricing"])]
    # The funnel report reads the changed funnel.
    r = f.client.get("/api/v1/funnel", params={"site_id": f.site_id, "funnel_id": funnel["id"]},
                     headers=AUTH)  # fmt: skip
    assert [s["label"] for s in r.json()["data"]["steps"]] == ["Pro signup", "Pricing"]
    # A goal a funnel uses cannot go; once the funnel is gone it can.
    body = call(f, "DELETE", f"/goals/{signup['id']}", 400)
    assert body["details"][0]["field"] == "goal_id"
    call(f, "DELETE", f"/funnels/{funnel['id']}", 200)
    call(f, "DELETE", f"/goals/{signup['id']}", 200)
    call(f, "DELETE", f"/goals/{signup['id']}", 404)
    assert [g["name"] for g in call(f, "GET", "/goals", 200)["data"]] == ["Pricing"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "", "kind": "event", "target": "x"}, "name"),
    ({"name": "A", "kind": "visit", "target": "x"}, "kind"),
    ({"name": "A", "kind": "page", "target": "pricing"}, "target"),
    ({"name": "A", "kind": "event", "target": "x", "prop_key": "plan"}, "prop_value"),
    ({"name": "A", "kind": "event"}, "target"),
    ({"name": "A", "kind": "event", "target": "x", "colour": "red"}, "colour"),
    ({"name": 5, "kind": "event", "target": "x"}, "name"),
])  # fmt: skip
def test_bad_goals_are_400_naming_the_field(
    footfall: Footfall, body: dict[str, Any], field: str
) -> None:
    got = call(footfall, "POST", "/goals", 400, json=body)
    assert [d["field"] for d in got["details"]] == [field]


def test_bad_funnels_and_ids_are_4xx(footfall: Footfall) -> None:
    f = footfall
    goal = call(f, "POST", "/goals", 201, json={"name": "G", "kind": "event", "target": "g"})
    gid = goal["data"]["id"]
    for body, field in [({"name": "F", "steps": [gid]}, "steps"),
                        ({"name": "F", "steps": [gid, 999999]}, "steps"),
                        ({"name": "F", "steps": ["x", gid]}, "steps")]:  # fmt: skip
        assert call(f, "POST", "/funnels", 400, json=body)["details"][0]["field"] == field
    assert call(f, "PUT", "/goals/abc", 400, json={})["details"][0]["field"] == "goal_id"
    call(f, "PUT", "/goals/999999", 404, json={"name": "G", "kind": "event", "target": "g"})
    assert call(f, "POST", "/goals", 400, content=b"{")["details"][0]["field"] == "body"


def test_read_tokens_list_but_do_not_change(footfall: Footfall) -> None:
    f = footfall
    read = {"Authorization": f"Bearer {f.token}"}
    assert call(f, "GET", "/goals", 200, read)["data"] == []
    call(f, "POST", "/goals", 403, read, json={"name": "G", "kind": "event", "target": "g"})
    call(f, "GET", "/goals", 401, {})
    call(f, "GET", "/goals", 401, {"Authorization": "Bearer nope"})
    r = f.client.get("/api/v1/sites/other-site/goals", headers=read)
    assert r.status_code == 404  # another site, whether or not it exists


def test_a_site_admins_login_changes_goals_a_viewers_does_not(footfall: Footfall) -> None:
    f = footfall
    accounts = Accounts(f.services.meta)
    for email, role in (("admin@example.com", "admin"), ("viewer@example.com", "viewer")):
        user = accounts.create_user(email, PASSWORD)
        accounts.grant(user.id, f.site_id, role)
    body = {"name": "G", "kind": "event", "target": "g"}
    assert login(f.client, "viewer@example.com").status_code == 303
    token = csrf_for(f.client)
    call(f, "GET", "/goals", 200, {})
    call(f, "POST", "/goals", 403, {"X-CSRF-Token": token}, json=body)
    f.client.cookies.clear()
    assert login(f.client, "admin@example.com").status_code == 303
    call(f, "POST", "/goals", 403, {}, json=body)  # a cookie login needs its CSRF token
    got = call(f, "POST", "/goals", 201, {"X-CSRF-Token": csrf_for(f.client)}, json=body)
    assert got["data"]["name"] == "G"
