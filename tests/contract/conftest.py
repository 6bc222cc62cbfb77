"""The contract suite runs every test on every store: DuckDB, ClickHouse's engine in
process (chdb), and ClickHouse over HTTP through clickhouse-connect (against the test
stand-in serving ClickHouse's HTTP interface from a chdb engine)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import _chdb_available, chdb_url, require_services

STORES = ["duckdb", "chdb", "clickhouse-http"]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest) -> str:
    return url_for(request, request.param)


def url_for(request: pytest.FixtureRequest, kind: str) -> str:
    """A fresh, empty store of ``kind`` for one test."""
    if kind == "duckdb":
        return ""
    if not _chdb_available():
        if require_services():
            pytest.fail("chdb/clickhouse-connect not installed (pip install -e '.[dev]')")
        pytest.skip("chdb not installed: the ClickHouse store is not tested")
    name = request.node.name.split("[", 1)[0][:40]
    if kind == "clickhouse-http":
        from tests.support.clickhouse import shared_standin_url

        return shared_standin_url(name)
    return chdb_url(name)


def sibling(url: str, name: str) -> str:
    """Another store like ``url`` (its own DuckDB file, or its own ClickHouse database)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.scheme == "clickhouse":
        from tests.support.clickhouse import shared_standin_url

        return shared_standin_url(f"{parts.path.strip('/')}_{name}")
    db = parse_qs(parts.query).get("database", ["default"])[0]
    return parts._replace(query=f"database={db}_{name}").geturl()
