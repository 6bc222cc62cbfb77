"""One site's people cannot reach another site's traffic: who may create sites, and a domain
belongs to one site however it is spelled, through the dashboard forms, the admin API and
the CLI."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from footfall.cli import main
from footfall.meta.repo import SiteInfo
from footfall.meta.users import Accounts, UserInfo
from tests.conftest import ADMIN, Footfall
from tests.dashboard.conftest import PASSWORD, csrf_for, login

SPELLINGS = ["b.example.com", "WWW.B.example.com.", "b.example.com:443", "https://B.example.com/"]
TAKEN = "b.example.com is already a domain of another site"


@pytest.fixture
def site_b(footfall: Footfall) -> SiteInfo:
    site, _ = footfall.services.meta.create_site("B", ["b.example.com"])
    return site


def create_form(client: TestClient, domains: str, name: str = "Spy") -> dict[str, str]:
    return {"csrf": csrf_for(client), "name": name, "domains": domains, "timezone": "UTC"}


def site_names(footfall: Footfall) -> list[str]:
    return sorted(s.name for s in footfall.services.meta.list_sites())


def test_viewer_and_site_admin_may_not_create_sites(
    footfall: Footfall, accounts: Accounts, viewer: UserInfo, site_b: SiteInfo
) -> None:
    admin = accounts.create_user("admin@example.com", PASSWORD)
    accounts.grant(admin.id, footfall.site_id, "admin")
    for user in (viewer, admin):
        client = TestClient(footfall.client.app)
        login(client, user.email)
        assert 'id="create-site"' not in client.get("/").text
        for domains in ("b.example.com", "fresh.example"):
            r = client.post("/sites", data=create_form(client, domains))
            assert r.status_code == 403, user.email
            assert "Only the instance owner, or users the owner allows" in r.text
    assert site_names(footfall) == ["B", "Example"]
    assert accounts.site_ids_for(viewer) == [footfall.site_id]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_site_admin_cannot_add_another_sites_domain(
    footfall: Footfall, accounts: Accounts, site_b: SiteInfo, spelling: str
) -> None:
    admin = accounts.create_user("admin@example.com", PASSWORD)
    accounts.grant(admin.id, footfall.site_id, "admin")
    client = footfall.client
    login(client, admin.email)
    url = f"/sites/{footfall.site_id}/settings"
    form = {"csrf": csrf_for(client, url), "name": "Example", "timezone": "UTC"}
    for domains in (spelling, f"example.com {spelling}"):  # as the main or an extra domain
        r = client.post(url + "/general", data={**form, "domains": domains})
        assert r.status_code == 400 and f"domains: {TAKEN}" in r.text
    mine = footfall.services.meta.get_site(footfall.site_id)
    assert mine is not None and mine.domains == ("example.com",)
    assert footfall.services.meta.site_for_domain("b.example.com") == site_b


def test_owner_allows_a_user_to_create_sites_with_free_domains_only(
    footfall: Footfall, accounts: Accounts, owner: UserInfo, site_b: SiteInfo
) -> None:
    client = footfall.client
    login(client, owner.email)
    form = {"csrf": csrf_for(client, "/users"), "email": "maker@example.com",
            "password": PASSWORD, "may_create_sites": "on"}  # fmt: skip
    assert client.post("/users", data=form).status_code == 200
    maker = accounts.get_user("maker@example.com")
    assert maker is not None and maker.can_create_sites
    # The owner's own attempt with a taken domain is refused with a message, too.
    r = client.post("/sites", data=create_form(client, "WWW.B.example.com."))
    assert r.status_code == 400 and f"domains: {TAKEN}" in r.text
    maker_client = TestClient(client.app)
    login(maker_client, maker.email)
    assert 'id="create-site"' in maker_client.get("/").text
    for spelling in SPELLINGS:
        r = maker_client.post("/sites", data=create_form(maker_client, f"mine.example {spelling}"))
        assert r.status_code == 400 and f"domains: {TAKEN}" in r.text
    made = maker_client.post("/sites", data=create_form(maker_client, "mine.example", "Mine"))
    assert made.status_code == 200 and "Site created." in made.text
    assert site_names(footfall) == ["B", "Example", "Mine"]
    # The owner can take the permission back.
    revoke = {"csrf": csrf_for(client, "/users"), "user_id": str(maker.id), "allow": "off"}
    assert client.post("/users/site-creation", data=revoke).status_code == 200
    again = maker_client.post("/sites", data=create_form(maker_client, "later.example"))
    assert again.status_code == 403


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_admin_api_answers_400_naming_domains(
    footfall: Footfall, site_b: SiteInfo, spelling: str
) -> None:
    body = {"name": "Spy", "domains": ["spy.example", spelling]}
    r = footfall.client.post(
        "/api/site/create", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.json()["details"] == [{"field": "domains", "message": TAKEN}]
    assert site_names(footfall) == ["B", "Example"]


def test_cli_refuses_a_taken_domain_and_owner_grants_site_creation(
    footfall: Footfall, site_b: SiteInfo, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("FOOTFALL_DATA_DIR", str(footfall.services.settings.data_dir))
    assert main(["sites", "create", "Spy", "--domain", "b.example.com:443"]) == 2
    assert f"error: domains: {TAKEN}" in capsys.readouterr().err
    accounts = Accounts(footfall.services.meta)
    accounts.create_user("later@example.com", PASSWORD)
    assert main(["users", "allow-sites", "--email", "later@example.com"]) == 0
    later = accounts.get_user("later@example.com")
    assert later is not None and later.can_create_sites
    assert main(["users", "allow-sites", "--email", "later@example.com", "--revoke"]) == 0
    later = accounts.get_user("later@example.com")
    assert later is not None and not later.can_create_sites
    assert main(["users", "allow-sites", "--email", "nobody@example.com"]) == 2
    assert site_names(footfall) == ["B", "Example"]
