"""Dashboard test helpers: users made through the accounts repository, and a browser-like
login through the real forms (CSRF token scraped from the page)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.meta.users import Accounts, UserInfo
from tests.conftest import Footfall

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf_of(page.text), "next": "/"},
        follow_redirects=False,
    )


def csrf_for(client: TestClient, path: str = "/") -> str:
    return csrf_of(client.get(path).text)


@pytest.fixture
def accounts(footfall: Footfall) -> Accounts:
    return Accounts(footfall.services.meta)


@pytest.fixture
def owner(accounts: Accounts) -> UserInfo:
    return accounts.create_user("owner@example.com", PASSWORD, owner=True)


@pytest.fixture
def viewer(accounts: Accounts, footfall: Footfall) -> UserInfo:
    user = accounts.create_user("viewer@example.com", PASSWORD)
    accounts.grant(user.id, footfall.site_id, "viewer")
    return user
