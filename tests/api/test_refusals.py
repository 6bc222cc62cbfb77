"""The native API's refusals, one per kind of cause, each answered in the error envelope
with the status and the field a user reads (never a 500): who is asking (401/404), a bad
body (400 naming the body field), a value the metadata layer refuses (400 naming the
request's own field name, not the settings form's)."""

from __future__ import annotations

from tests.conftest import ADMIN, Footfall

ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


def fields(r: object) -> list[str]:
    body = r.json()  # type: ignore[attr-defined]
    assert body["success"] is False, body
    return [d["field"] for d in body.get("details", [])]


def test_each_kind_of_refusal_names_what_was_wrong(footfall: Footfall) -> None:
    client, site = footfall.client, footfall.site_id
    goals = f"/api/v1/sites/{site}/goals"
    no_admin = client.post("/api/site/create", json={"name": "X", "domains": ["x.example"]},
                           headers={"Authorization": "Bearer wrong"})  # fmt: skip
    assert no_admin.status_code == 401 and no_admin.json()["success"] is False
    bad_domain = client.post("/api/site/create", headers=ADMIN_AUTH,
                             json={"name": "X", "domains": ["not a domain"]})  # fmt: skip
    assert bad_domain.status_code == 400 and fields(bad_domain) == ["domains"]
    # The metadata layer names the settings form's field (goal_kind): the API says "kind".
    bad_kind = client.post(goals, headers=ADMIN_AUTH,
                           json={"name": "G", "kind": "nonsense", "target": "/"})  # fmt: skip
    assert bad_kind.status_code == 400 and fields(bad_kind) == ["kind"]
    unknown = client.get("/api/v1/sites/no-such-site/goals", headers=ADMIN_AUTH)
    assert unknown.status_code == 404
    nobody = client.delete(f"/api/v1/visitors?site_id={site}", headers=ADMIN_AUTH)
    assert nobody.status_code == 400 and fields(nobody) != []
    export = client.get("/api/v1/export", params={"site_id": site, "format": "xls"},
                        headers=ADMIN_AUTH)  # fmt: skip
    assert export.status_code == 400 and fields(export) == ["format"]
