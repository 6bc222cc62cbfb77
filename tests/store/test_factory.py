"""FOOTFALL_STORE_URL picks the store (footfall/store/factory.py), and `footfall migrate`
applies the event store's migrations once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from footfall.config import Settings, SettingsError
from footfall.store.clickhouse.target import ClickHouseTarget
from footfall.store.factory import StoreURLError, parse_store_url
from tests.conftest import _chdb_available, require_services


def test_store_urls_name_their_store(tmp_path: Path) -> None:
    assert parse_store_url("", tmp_path) is None
    assert parse_store_url("chdb://", tmp_path) == ClickHouseTarget(
        path=str((tmp_path / "clickhouse").absolute())
    )
    assert parse_store_url("chdb:///srv/ch?database=site_a", tmp_path) == ClickHouseTarget(
        path="/srv/ch", database="site_a"
    )
    assert parse_store_url(
        "clickhouse://ff:p%40ss@ch.internal:9000/analytics", tmp_path
    ) == ClickHouseTarget(
        host="ch.internal", port=9000, username="ff", password="p@ss", database="analytics"
    )
    secure = parse_store_url("clickhouse://ch.example.com/?secure=true", tmp_path)
    assert secure is not None and secure.secure and secure.port == 8443


@pytest.mark.parametrize(
    "url", ["chdb://host/path", "clickhouse:///nohost", "chdb:///p?database=x;DROP"]
)
def test_bad_store_urls_are_refused_with_the_reason(tmp_path: Path, url: str) -> None:
    with pytest.raises(StoreURLError, match="FOOTFALL_STORE_URL"):
        parse_store_url(url, tmp_path)


def test_unknown_scheme_fails_at_start() -> None:
    with pytest.raises(SettingsError, match="FOOTFALL_STORE_URL"):
        Settings(store_url="mysql://db/x").validate()


def test_footfall_migrate_applies_the_clickhouse_schema_once(tmp_path: Path) -> None:
    if not _chdb_available():
        if require_services():
            pytest.fail("chdb not installed")
        pytest.skip("chdb not installed")
    env = {**os.environ, "FOOTFALL_DATA_DIR": str(tmp_path), "FOOTFALL_STORE_URL": "chdb://"}
    cmd = [sys.executable, "-m", "footfall.cli", "migrate"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip().endswith(
        "event store (clickhouse): 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15"
    )
    assert second.stdout.strip().endswith("event store (clickhouse): none pending")
    assert (tmp_path / "clickhouse").is_dir()
