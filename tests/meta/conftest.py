"""Fixtures of the metadata store tests: every contract test runs on SQLite and PostgreSQL.

PostgreSQL is the server at ``FOOTFALL_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a fresh schema
that is dropped afterwards. When the server is unreachable those tests are skipped,
unless ``FOOTFALL_REQUIRE_SERVICES=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import make_url

from footfall.meta import Metadata

PG_URL = os.environ.get(
    "FOOTFALL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq_dsn() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def _postgres_problem() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    try:
        with psycopg.connect(_libpq_dsn(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_URL} is unreachable: {exc}".strip()
    return None


def _require_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if os.environ.get("FOOTFALL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{problem} (FOOTFALL_REQUIRE_SERVICES=1)")
    pytest.skip(problem)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty metadata database on each backend."""
    if request.param == "sqlite":
        # a directory that does not exist yet: migrate() must create it
        yield f"sqlite:///{tmp_path / 'data' / 'meta.sqlite3'}"
        return
    _require_postgres()
    import psycopg

    schema = f"ff_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def meta(db_url: str) -> Iterator[Metadata]:
    """A migrated, empty metadata store."""
    store = Metadata(db_url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()
