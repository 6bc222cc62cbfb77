"""Server-rendered pages in plain English and local time: "1 day", not "1 days"; the
last event's time in the site's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

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


def test_last_event_time_is_in_the_site_zone(footfall: Footfall, owner: UserInfo) -> None:
    footfall.services.meta.update_site(footfall.site_id, timezone="Asia/Kolkata")
    footfall.services.sites.invalidate()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    r = footfall.client.post(
        "/api/event",
        json={"event_type": "pageview", "path": "/", "timestamp": at.isoformat()},
        headers={"x-api-key": footfall.api_key},
    )
    assert r.status_code == 202, r.text
    footfall.flush()
    login(footfall.client, owner.email)
    page = footfall.client.get(f"/sites/{footfall.site_id}/settings").text
    local = at.astimezone(ZoneInfo("Asia/Kolkata"))  # +05:30
    shown = f"{local.day} {local:%b %Y, %H:%M:%S}</time> (Asia/Kolkata)"
    assert "the last at" in page and shown in page, page
