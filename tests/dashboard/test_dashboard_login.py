"""Accounts over HTTP: the setup page, login and logout, cookies, CSRF, rate limits, and
``footfall users`` on the command line."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from footfall.dashboard.auth_views import safe_next
from footfall.meta.users import Accounts, UserInfo
from footfall.shared.local import limits as ratelimit
from tests.conftest import Footfall, make_settings
from tests.dashboard.conftest import PASSWORD, csrf_for, csrf_of, login


def test_setup_page_creates_the_owner_once(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    with TestClient(app) as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/setup"
        assert client.get("/login", follow_redirects=False).headers["location"] == "/setup"
        page = client.get("/setup")
        assert page.status_code == 200
        form = {"email": "Boss@Example.com", "password": PASSWORD, "password2": PASSWORD}
        assert client.post("/setup", data=form).status_code == 403  # no CSRF token
        r = client.post("/setup", data={**form, "csrf": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303 and "ff_session=" in r.headers["set-cookie"]
        assert "Your sites" in client.get("/").text
        accounts = Accounts(app.state.services.meta)
        assert accounts.list_users() == [UserInfo(1, "boss@example.com", True)]
        # Setup is over: neither the page nor a replayed form creates anyone.
        other = TestClient(app)
        assert other.get("/setup").status_code == 404
        token = csrf_of(other.get("/login").text)
        again = other.post("/setup", data={**form, "email": "x@example.com", "csrf": token})
        assert again.status_code == 404 and accounts.count_users() == 1


def test_login_sets_a_hardened_cookie_and_logout_ends_the_session(
    footfall: Footfall, owner: UserInfo
) -> None:
    client = footfall.client
    bad = login(client, owner.email, "wrong password")
    assert bad.status_code == 401 and "Wrong email or password" in bad.text
    assert login(client, "nobody@example.com").status_code == 401
    r = login(client, owner.email)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    session = client.cookies["ff_session"]
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={}).status_code == 403  # CSRF checked on logout too
    out = client.post("/logout", data={"csrf": csrf_for(client)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    client.cookies.set("ff_session", session)  # the old cookie is dead server-side
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_login_form_needs_its_csrf_token(footfall: Footfall, owner: UserInfo) -> None:
    r = footfall.client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert r.status_code == 403 and "ff_session" not in r.headers.get("set-cookie", "")


def test_cookie_is_secure_over_https_and_behind_a_trusted_proxy(
    tmp_path: Path, footfall: Footfall, owner: UserInfo
) -> None:
    https = TestClient(footfall.client.app, base_url="https://testserver")
    assert "secure" in login(https, owner.email).headers["set-cookie"].lower()
    forged = {"x-forwarded-proto": "https"}
    plain = TestClient(footfall.client.app, headers=forged)
    assert "secure" not in login(plain, owner.email).headers["set-cookie"].lower()
    app = create_app(make_settings(tmp_path / "proxied", trusted_proxies=1))
    with TestClient(app, headers=forged) as proxied:
        Accounts(app.state.services.meta).create_user("p@example.com", PASSWORD)
        assert "secure" in login(proxied, "p@example.com").headers["set-cookie"].lower()


@pytest.fixture
def still_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rate limits' clock, standing still unless a test moves it (argon2 is slow enough
    on a busy machine that buckets would otherwise refill while a test runs)."""
    now = [1000.0]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(
    footfall: Footfall, owner: UserInfo, still_clock: list[float]
) -> None:
    attacker = TestClient(footfall.client.app, client=("203.0.113.66", 4444))
    home = TestClient(footfall.client.app, client=("198.51.100.9", 1234))
    for round_ in range(3):
        for _ in range(10 if round_ == 0 else 2):
            assert login(attacker, owner.email, "wrong password").status_code in (401, 429)
        limited = login(attacker, owner.email, "another guess")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert login(attacker, owner.email).status_code == 429  # even the right password
        # The owner, from their own address, gets in while the attacker keeps going.
        assert login(home, owner.email).status_code == 303
        home.cookies.clear()


def test_one_address_stays_throttled_across_emails(
    footfall: Footfall, owner: UserInfo, still_clock: list[float]
) -> None:
    """Brute force stays slow: 10 tries per email and 30 in all per address in 5 minutes."""
    per_email, per_address = 10, 30
    attacker = TestClient(footfall.client.app, client=("203.0.113.66", 4444))
    for _ in range(per_email):
        assert login(attacker, owner.email, "wrong password").status_code == 401
    assert login(attacker, owner.email, "wrong password").status_code == 429
    emails = [f"guess{i}@example.com" for i in range(per_address)]
    answers = [login(attacker, email, "wrong password").status_code for email in emails]
    assert answers.count(401) == per_address - per_email - 1
    assert set(answers[per_address - per_email - 1 :]) == {429}
    still_clock[0] += 10  # the address gets a try back every 10 s: slow, never locked
    assert login(attacker, "late@example.com", "wrong password").status_code == 401
    assert login(attacker, "late@example.com", "wrong password").status_code == 429
    # Another account logs in from elsewhere without noticing.
    Accounts(footfall.services.meta).create_user("other@example.com", PASSWORD)
    elsewhere = TestClient(footfall.client.app, client=("198.51.100.9", 1234))
    assert login(elsewhere, "other@example.com").status_code == 303


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/sites/a?period=7d", "/sites/a?period=7d"), ("//evil.example/x", "/"),
     ("https://evil.example/", "/"), ("/\\evil.example", "/"), (None, "/"), ("sites", "/")],
)  # fmt: skip
def test_next_is_local_only(value: object, expected: str) -> None:
    assert safe_next(value) == expected


def test_users_cli_create_and_set_password_end_sessions(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FOOTFALL_DATA_DIR", str(footfall.services.settings.data_dir))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "create", "--email", "cli@example.com", "--owner"]) == 0
    assert main(["users", "create", "--email", "cli@example.com", "--password", PASSWORD]) == 2
    assert main(["users", "create", "--email", "short@example.com", "--password", "short"]) == 2
    accounts = Accounts(footfall.services.meta)
    user = accounts.get_user("cli@example.com")
    assert user is not None and user.is_owner
    assert login(footfall.client, "cli@example.com").status_code == 303
    token, _ = accounts.start_session(user)
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new password\n"))
    assert main(["users", "set-password", "--email", "cli@example.com"]) == 0
    assert accounts.session_for(token) is None
    assert footfall.client.get("/", follow_redirects=False).status_code == 303
    assert accounts.authenticate("cli@example.com", "a brand new password") == user
    assert main(["users", "grant", "--email", "cli@example.com", "--site", "nope"]) == 2
    assert "created" in capsys.readouterr().out


def test_set_password_can_keep_the_current_session(footfall: Footfall, owner: UserInfo) -> None:
    accounts = Accounts(footfall.services.meta)
    mine, _ = accounts.start_session(owner)
    other, _ = accounts.start_session(owner)
    assert accounts.set_password(owner.email, "another password", keep_token=mine)
    assert accounts.session_for(mine) is not None and accounts.session_for(other) is None


def test_changing_ones_password_ends_other_sessions_only(
    footfall: Footfall, owner: UserInfo
) -> None:
    client, elsewhere = footfall.client, TestClient(footfall.client.app)
    login(client, owner.email)
    login(elsewhere, owner.email)
    form = {"csrf": csrf_for(client, "/account"), "current": "wrong", "password": "new password 1",
            "password2": "new password 1"}  # fmt: skip
    assert client.post("/account/password", data=form).status_code == 400
    assert client.post("/account/password", data={**form, "csrf": "x"}).status_code == 403
    done = client.post("/account/password", data={**form, "current": PASSWORD})
    assert done.status_code == 200 and "other sessions were logged out" in done.text
    assert client.get("/", follow_redirects=False).status_code == 200
    assert elsewhere.get("/", follow_redirects=False).status_code == 303
    assert Accounts(footfall.services.meta).authenticate(owner.email, "new password 1") == owner
