"""Goals and funnels defined in site settings (create, list, delete, refusals), the goal
list the dashboard gets and the query API accepting each goal's filters, and viewers
refused (403) on every settings change."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from footfall.dashboard.settings_views import ACTIONS
from footfall.meta.prefs import SitePrefs
from footfall.meta.users import UserInfo
from tests.conftest import Footfall
from tests.dashboard.conftest import csrf_for, login


def post(footfall: Footfall, action: str, status: int = 200, **form: str) -> str:
    url = f"/sites/{footfall.site_id}/settings"
    r = footfall.client.post(
        f"{url}/{action}", data={"csrf": csrf_for(footfall.client, url), **form}
    )
    assert r.status_code == status, r.text
    return r.text


def goal_ids(footfall: Footfall) -> dict[str, int]:
    return {g.name: g.id for g in SitePrefs(footfall.services.meta).goals(footfall.site_id)}


def test_goal_and_funnel_crud(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    post(footfall, "goal-create", goal_name="Signup", goal_kind="event", goal_event="Signup")
    post(footfall, "goal-create", goal_name="Pro signup", goal_kind="event", goal_event="Signup",
         goal_prop_key="plan", goal_prop_value="pro")  # fmt: skip
    page = post(
        footfall, "goal-create", goal_name="Thanks", goal_kind="page", goal_path="/thanks/*"
    )
    assert "Goal &#39;Thanks&#39; created" in page and "where plan = pro" in page
    page = post(footfall, "goal-create", 400, goal_name="Signup", goal_kind="event", goal_event="X")
    assert 'id="settings-error">goal_name: ' in page  # names are unique per site
    ids = goal_ids(footfall)
    page = post(footfall, "funnel-create", funnel_name="Convert", step1=str(ids["Thanks"]),
                step2=str(ids["Signup"]), step4=str(ids["Pro signup"]))  # fmt: skip
    assert "Thanks → Signup → Pro signup" in html.unescape(page)
    funnel = SitePrefs(footfall.services.meta).funnels(footfall.site_id)[0]
    assert [s.name for s in funnel.steps] == ["Thanks", "Signup", "Pro signup"]
    for form in ({"step1": str(ids["Signup"])},
                 {"step1": str(ids["Signup"]), "step2": "999999"},
                 {"step1": str(ids["Signup"]), "step2": str(ids["Signup"])}):  # fmt: skip
        page = post(footfall, "funnel-create", 400, funnel_name="Bad", **form)
        assert 'id="settings-error">funnel_steps: ' in page
    page = post(footfall, "goal-delete", 400, goal_id=str(ids["Signup"]))
    assert 'id="settings-error">goal_id: funnel' in html.unescape(page)
    assert "Funnel deleted" in post(footfall, "funnel-delete", funnel_id=str(funnel.id))
    assert "Goal deleted" in post(footfall, "goal-delete", goal_id=str(ids["Signup"]))
    assert "No such goal" in post(footfall, "goal-delete", goal_id=str(ids["Signup"]))
    assert set(goal_ids(footfall)) == {"Pro signup", "Thanks"}


def test_goals_on_the_dashboard_use_the_query_api(footfall: Footfall, owner: UserInfo) -> None:
    now = datetime.now(UTC).isoformat()
    for visitor, path in [("a", "/thanks/x"), ("b", "/"), ("c", "/thanks/x/y"), ("d", "/")]:
        footfall.send(
            {"event_type": "pageview", "path": path, "visitor_id": visitor, "timestamp": now}
        )
    footfall.send({"event_type": "Signup", "path": "/", "visitor_id": "b", "timestamp": now,
                   "metadata": {"plan": "pro"}})  # fmt: skip
    footfall.flush()
    login(footfall.client, owner.email)
    post(footfall, "goal-create", goal_name="Signup", goal_kind="event", goal_event="Signup")
    post(footfall, "goal-create", goal_name="Thanks", goal_kind="page", goal_path="/thanks/*")
    post(footfall, "goal-create", goal_name="Pro", goal_kind="event", goal_event="Signup",
         goal_prop_key="plan", goal_prop_value="pro")  # fmt: skip
    page = footfall.client.get(f"/sites/{footfall.site_id}").text
    found = re.search(r"data-goals='([^']*)'", page)
    assert found
    goals = json.loads(html.unescape(found.group(1)))
    assert [g["name"] for g in goals] == ["Signup", "Thanks", "Pro"]
    # The dashboard's goals table: one event:goal breakdown (goals.js), a conversion rate
    # for page goals as for event goals.
    body = {"site_id": footfall.site_id, "date_range": "day", "dimensions": ["event:goal"],
            "metrics": ["visitors", "conversion_rate"]}  # fmt: skip
    r = footfall.client.post("/api/v2/query", json=body)  # the dashboard's session cookie
    assert r.status_code == 200, r.text
    got = {row["dimensions"][0]: row["metrics"] for row in r.json()["results"]}
    # 4 visitors: b signed up (25 %); only a's /thanks/x matches /thanks/* (one segment).
    assert got == {"Signup": [1, 25.0], "Thanks": [1, 25.0], "Pro": [1, 25.0]}

    # A public shared link shows the same goals, answered through the link's own endpoint.
    share = csrf_for(footfall.client, f"/sites/{footfall.site_id}/settings")
    page = footfall.client.post(f"/sites/{footfall.site_id}/settings/share-create",
                                data={"csrf": share, "label": "Public"}).text  # fmt: skip
    slug = re.search(r'href="/share/([^"]+)"', page)
    assert slug
    anon = TestClient(footfall.client.app)
    found = re.search(r"data-goals='([^']*)'", anon.get(f"/share/{slug.group(1)}").text)
    assert found and json.loads(html.unescape(found.group(1))) == goals
    r = anon.post(f"/share/{slug.group(1)}/query", json=body)  # the link attaches the goals
    assert r.status_code == 200, r.text
    assert {row["dimensions"][0]: row["metrics"] for row in r.json()["results"]} == got


@pytest.mark.parametrize("action", [*ACTIONS, "delete"])
def test_viewers_get_403_on_every_settings_change(
    footfall: Footfall, viewer: UserInfo, action: str
) -> None:
    login(footfall.client, viewer.email)
    csrf = csrf_for(footfall.client, f"/sites/{footfall.site_id}")
    r = footfall.client.post(
        f"/sites/{footfall.site_id}/settings/{action}",
        data={"csrf": csrf, "respect_dnt": "on", "excluded_ips": "0.0.0.0/0", "goal_name": "x",
              "goal_kind": "event", "goal_event": "x", "goal_id": "1", "confirm": "Example"},
    )  # fmt: skip
    assert r.status_code == 403, r.text
    assert SitePrefs(footfall.services.meta).privacy(footfall.site_id).excluded_ips == ()
    assert footfall.services.meta.get_site(footfall.site_id) is not None


def test_funnels_on_the_dashboard_and_on_a_shared_link(footfall: Footfall, owner: UserInfo) -> None:
    # a: pricing, then signs up; b: pricing only; c: signs up without seeing pricing; d: home.
    now = datetime.now(UTC)
    at = lambda minutes: (now - timedelta(minutes=minutes)).isoformat()  # noqa: E731
    for visitor, name, path, ago in [("a", "pageview", "/pricing", 10), ("a", "Signup", "/", 5),
                                     ("b", "pageview", "/pricing", 10), ("c", "Signup", "/", 5),
                                     ("d", "pageview", "/", 10)]:  # fmt: skip
        footfall.send(
            {"event_type": name, "path": path, "visitor_id": visitor, "timestamp": at(ago)}
        )
    footfall.flush()
    login(footfall.client, owner.email)
    post(footfall, "goal-create", goal_name="Pricing", goal_kind="page", goal_path="/pricing")
    post(footfall, "goal-create", goal_name="Signup", goal_kind="event", goal_event="Signup")
    ids = goal_ids(footfall)
    post(footfall, "funnel-create", funnel_name="Buy <b>", step1=str(ids["Pricing"]),
         step2=str(ids["Signup"]))  # fmt: skip
    post(footfall, "funnel-create", funnel_name="Reverse", step1=str(ids["Signup"]),
         step2=str(ids["Pricing"]))  # fmt: skip
    page = footfall.client.get(f"/sites/{footfall.site_id}").text
    found = re.search(r"data-funnels='([^']*)'", page)
    assert found and 'data-funnel-url="/api/v1/funnel"' in page
    listed = json.loads(html.unescape(found.group(1)))
    assert [(f["name"], f["steps"]) for f in listed] == [
        ("Buy <b>", ["Pricing", "Signup"]), ("Reverse", ["Signup", "Pricing"])]  # fmt: skip
    params = {"site_id": footfall.site_id, "funnel_id": str(listed[0]["id"]), "period": "7d"}
    r = footfall.client.get("/api/v1/funnel", params=params)  # the session cookie authorises
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    expected = {"all_visitors": 4, "entering_visitors": 2, "entering_visitors_percentage": 50.0}
    assert {k: data[k] for k in expected} == expected
    assert [(s["label"], s["visitors"], s["conversion_rate"], s["dropoff"]) for s in data["steps"]] == [
        ("Pricing", 2, 100.0, 0), ("Signup", 1, 50.0, 1)]  # fmt: skip

    # The shared link lists the same funnels and answers them through its own endpoint,
    # for its site only.
    csrf = csrf_for(footfall.client, f"/sites/{footfall.site_id}/settings")
    made = footfall.client.post(f"/sites/{footfall.site_id}/settings/share-create",
                                data={"csrf": csrf, "label": "Public"}).text  # fmt: skip
    slug = re.search(r'href="/share/([^"]+)"', made)
    assert slug
    base = f"/share/{slug.group(1)}"
    anon = TestClient(footfall.client.app)
    shared = anon.get(base).text
    found = re.search(r"data-funnels='([^']*)'", shared)
    assert found and json.loads(html.unescape(found.group(1))) == listed
    assert f'data-funnel-url="{base}/funnel"' in shared
    r = anon.get(f"{base}/funnel", params=params)
    assert r.status_code == 200 and r.json()["data"] == data
    assert anon.get("/api/v1/funnel", params=params).status_code == 401  # no login, no link
    reverse = anon.get(f"{base}/funnel", params={**params, "funnel_id": str(listed[1]["id"])})
    assert [s["visitors"] for s in reverse.json()["data"]["steps"]] == [2, 0]  # a, c signed up
    filtered = {**params, "filters": json.dumps([["is", "event:page", ["/pricing"]]])}
    assert anon.get(f"{base}/funnel", params=filtered).json()["data"]["all_visitors"] == 2
    for bad, field in [
        ({"funnel_id": "1 OR 1=1"}, "funnel_id"),
        ({"funnel_id": ""}, "funnel_id"),
        ({"period": "../../etc"}, "period"),
        ({"filters": '[["is"'}, "filters"),
    ]:
        r = anon.get(f"{base}/funnel", params={**params, **bad})
        assert r.status_code == 400 and field in r.text, (bad, r.text)
    assert anon.get(f"{base}/funnel", params={**params, "funnel_id": "999999"}).status_code == 404
    other, _ = footfall.services.meta.create_site("Other", ["other.example"], "UTC")
    assert anon.get(f"{base}/funnel", params={**params, "site_id": other.id}).status_code == 404
    assert anon.get("/share/not-a-link/funnel", params=params).status_code == 404
    csrf = csrf_for(footfall.client, f"/sites/{footfall.site_id}/settings")
    made = footfall.client.post(f"/sites/{footfall.site_id}/settings/share-create",
                                data={"csrf": csrf, "label": "Locked", "password": "pw pw pw pw"}).text  # fmt: skip
    locked = [m for m in re.findall(r'href="/share/([^"]+)"', made) if m != slug.group(1)]
    assert len(locked) == 1
    r = anon.get(f"/share/{locked[0]}/funnel", params=params)
    assert r.status_code == 401 and "password" in r.json()["error"]
