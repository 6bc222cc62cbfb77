"""Counts in server-rendered pages read as English: "1 day", not "1 days"."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.config import Settings
from footfall.meta.users import UserInfo
from tests.conftest import Footfall, make_settings
from tests.dashboard.conftest import login


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, retention_days=1)


def test_instance_retention_of_one_day_is_singular(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    page = footfall.client.get(f"/sites/{footfall.site_id}/settings").text
    assert "empty uses the instance setting, 1 day)" in page
