"""The admin API's JSON bodies: whatever arrives, a 400 naming the body, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, Footfall

DEEP = b"[" * 5000 + b"]" * 5000
BODIES = {
    "unknown-field-nested-deep": b'{"name": "A", "domains": ["a.org"], "x": ' + DEEP + b"}",
    "nested-deep": DEEP,
    "not-utf8": b'{"name": "\xff", "site_id": "\xff"}',
    "truncated": b'{"name": ',
}


@pytest.mark.parametrize("path", ["/api/site/create", "/api/tokens"])
@pytest.mark.parametrize("name", BODIES)
def test_bad_admin_bodies_are_400_naming_the_body(footfall: Footfall, path: str, name: str) -> None:
    r = footfall.client.post(
        path, content=BODIES[name], headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["details"][0]["field"] == "body"
