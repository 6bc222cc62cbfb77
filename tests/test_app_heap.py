"""The server process freezes its start-up heap, so full garbage collections under load
walk only what was made since (a full walk of start-up's objects stopped the event loop for
50-60 ms every few seconds, which set the ingest p99). Tests build many apps in one
process, so ``create_app`` leaves the heap alone unless asked."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import make_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # give the test process its collector back


def test_server_app_freezes_start_up_objects(tmp_path: Path, unfrozen: None) -> None:
    app = create_app(make_settings(tmp_path), freeze_heap=True)
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        frozen = gc.get_freeze_count()
        # Everything alive at start-up (this test process's modules included) is out of
        # the collector's walk; what it still walks is what was made after.
        assert frozen > 10_000
        assert len(gc.get_objects()) < frozen / 2
        # The app goes on serving from frozen objects.
        assert client.get("/api/health").json()["status"] == "ok"


def test_plain_app_leaves_the_heap_alone(tmp_path: Path, unfrozen: None) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        assert client.get("/api/health").status_code == 200
        assert gc.get_freeze_count() == 0
