"""The ClickHouse store's own tests run on both of its transports: chdb in process and
HTTP through clickhouse-connect against the stand-in."""

import time
from collections.abc import Callable

import pytest

from footfall.store.clickhouse import rollups, visit_copy
from tests.contract.conftest import url_for


@pytest.fixture(params=["chdb", "clickhouse-http"])
def store_url(request: pytest.FixtureRequest) -> str:
    return url_for(request, request.param)


@pytest.fixture
def ripen(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Rollup rows bucketed by insert second instead of hour and no margin on dirty marks,
    so that a refresh rebuilds a day a second after it was listed (an hour and ten minutes
    in production, footfall/store/clickhouse/rollups.py) and no grace for an older
    generation of the visits' copy; returns the wait for that."""
    monkeypatch.setattr(rollups, "BUCKET_SECONDS", 1)
    monkeypatch.setattr(rollups, "MARGIN_SECONDS", 0)
    # A refresh clearing marks first publishes a new generation of the visits' copy and
    # first days (firsts.py), which waits for the one before to be GRACE_SECONDS old.
    monkeypatch.setattr(visit_copy, "GRACE_SECONDS", 0)
    return lambda: time.sleep(1.1)
