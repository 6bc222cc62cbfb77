"""Per-site privacy and exclusions through the real settings form and the real collection
endpoints: DNT/GPC with the site's flag off and on, excluded IP ranges (IPv4 and IPv6),
excluded path patterns, field-named validation errors, and the drop counters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from footfall.meta.prefs import SitePrefs
from footfall.meta.users import UserInfo
from footfall.telemetry import REGISTRY
from tests.conftest import Footfall
from tests.dashboard.conftest import csrf_for, login


def dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("footfall_events_dropped_total", {"reason": reason})
    return value or 0.0


def save_privacy(footfall: Footfall, status: int = 200, **form: str) -> str:
    url = f"/sites/{footfall.site_id}/settings"
    data = {"csrf": csrf_for(footfall.client, url), "excluded_ips": "", "excluded_paths": "",
            "retention_days": "", **form}  # fmt: skip
    r = footfall.client.post(f"{url}/privacy", data=data)
    assert r.status_code == status, r.text
    return r.text


def send(footfall: Footfall, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    body = {
        "event_type": "pageview",
        "path": path,
        "timestamp": datetime.now(UTC).isoformat(),
        **kw,
    }
    r = footfall.client.post("/api/event", json=body,
                             headers={"x-api-key": footfall.api_key, **(headers or {})})  # fmt: skip
    assert r.status_code == 202, r.text
    return r.json()["message"]


def stored_paths(footfall: Footfall) -> list[str]:
    footfall.flush()
    rows = footfall.services.store.query(
        "SELECT pathname FROM events WHERE site_id = ? ORDER BY pathname", [footfall.site_id]
    )
    return [r[0] for r in rows]


def test_dnt_and_gpc_are_ignored_until_the_site_honours_them(
    footfall: Footfall, owner: UserInfo
) -> None:
    assert send(footfall, "/off-dnt", {"DNT": "1"}) == "Event queued successfully"
    assert send(footfall, "/off-gpc", {"Sec-GPC": "1"}) == "Event queued successfully"
    login(footfall.client, owner.email)
    page = save_privacy(footfall, respect_dnt="on")
    assert "Privacy and exclusions saved" in page and 'id="respect_dnt" checked' in page
    before = dropped("dnt")
    assert send(footfall, "/on-dnt", {"DNT": "1"}) == "Event dropped (dnt)"
    assert send(footfall, "/on-gpc", {"Sec-GPC": "1"}) == "Event dropped (dnt)"
    assert send(footfall, "/on-dnt0", {"DNT": "0"}) == "Event queued successfully"
    batch = footfall.client.post(
        "/api/events", headers={"x-api-key": footfall.api_key, "Sec-GPC": "1"},
        json={"events": [{"event_type": "pageview", "path": "/on-batch"}]},
    )  # fmt: skip
    assert batch.status_code == 202 and batch.json()["dropped"] == 1
    assert dropped("dnt") == before + 3
    assert stored_paths(footfall) == ["/off-dnt", "/off-gpc", "/on-dnt0"]
    save_privacy(footfall)  # unchecked box: honoured no more
    assert send(footfall, "/again", {"DNT": "1"}) == "Event queued successfully"


def test_excluded_ip_ranges_ipv4_and_ipv6(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    page = save_privacy(footfall, excluded_ips="203.0.113.0/24\n2001:db8::/32")
    assert "203.0.113.0/24\n2001:db8::/32</textarea>" in page
    before = dropped("excluded_ip")
    # The test client connects from 203.0.113.7; server-side senders pass the visitor's IP.
    assert send(footfall, "/socket") == "Event dropped (excluded_ip)"
    assert send(footfall, "/v6", ip="2001:db8::1", user_agent="Mozilla/5.0") == (
        "Event dropped (excluded_ip)")  # fmt: skip
    assert send(footfall, "/v6-other", ip="2001:db9::1", user_agent="Mozilla/5.0") == (
        "Event queued successfully")  # fmt: skip
    assert send(footfall, "/v4-other", ip="198.51.100.1", user_agent="Mozilla/5.0") == (
        "Event queued successfully")  # fmt: skip
    assert dropped("excluded_ip") == before + 2
    assert stored_paths(footfall) == ["/v4-other", "/v6-other"]


def test_excluded_path_patterns(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    save_privacy(footfall, excluded_paths="/admin/*\n/preview/**")
    before = dropped("excluded_path")
    for path in ("/admin/users", "/preview/a/b", "/admin/users?x=1"):
        assert send(footfall, path) == "Event dropped (excluded_path)"
    for path in ("/admin/users/7", "/pricing", "/previews"):
        assert send(footfall, path) == "Event queued successfully"
    # Custom events on an excluded page are not counted either.
    assert send(footfall, "/admin/x", event_type="Signup") == "Event dropped (excluded_path)"
    assert dropped("excluded_path") == before + 4
    assert stored_paths(footfall) == ["/admin/users/7", "/previews", "/pricing"]


def test_plausible_compatible_endpoint_honours_the_same_rules(
    footfall: Footfall, owner: UserInfo
) -> None:
    login(footfall.client, owner.email)
    save_privacy(footfall, respect_dnt="on", excluded_paths="/private/**")
    post = footfall.client.post
    body = {"n": "pageview", "u": "https://example.com/private/x", "d": "example.com"}
    assert post("/api/event", json=body).status_code == 202
    body["u"] = "https://example.com/public"
    assert post("/api/event", json=body, headers={"DNT": "1"}).status_code == 202
    assert post("/api/event", json=body).status_code == 202
    assert stored_paths(footfall) == ["/public"]


def test_validation_errors_name_the_field_and_change_nothing(
    footfall: Footfall, owner: UserInfo
) -> None:
    login(footfall.client, owner.email)
    save_privacy(footfall, excluded_ips="10.0.0.0/8")
    for form, field in [
        ({"excluded_ips": "10.0.0.0/8 300.1.1.1"}, "excluded_ips"),
        ({"excluded_ips": "2001:db8::/129"}, "excluded_ips"),
        ({"excluded_paths": "admin/*"}, "excluded_paths"),
        ({"retention_days": "forever"}, "retention_days"),
        ({"retention_days": "0"}, "retention_days"),
    ]:
        page = save_privacy(footfall, 400, **form)
        assert f'id="settings-error">{field}: ' in page, (field, page[:200])
    # The first, valid save is still in force.
    privacy = SitePrefs(footfall.services.meta).privacy(footfall.site_id)
    assert privacy.excluded_ips == ("10.0.0.0/8",)
