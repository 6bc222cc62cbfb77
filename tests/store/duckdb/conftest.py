"""Fixtures of the DuckDB store's rollup, fold and footprint tests: four months of past
events accepted, and a server whose rollups job runs only when a test runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.config import Settings
from tests.conftest import Footfall, make_settings
from tests.query.test_rollups import ZONE


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, max_past_days=120)


@pytest.fixture
def footfall(footfall: Footfall) -> Footfall:
    # The tests run the rollups job themselves, at chosen moments.
    footfall.services.scheduler.jobs.pop("rollups")
    footfall.services.meta.update_site(footfall.site_id, timezone=ZONE)
    return footfall
