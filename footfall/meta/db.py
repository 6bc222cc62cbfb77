"""Engines and migrations of the metadata store (SQLite or PostgreSQL, same code).

:func:`make_engine` turns ``settings.metadata_url`` into an engine. For SQLite it sets
every new connection up so that several processes (``footfall serve``, ``footfall
worker``, the CLI) can share one file: write-ahead logging (readers never block the
writer), a busy timeout (a writer waits for another instead of failing at once) and
foreign keys. It also takes over ``BEGIN`` from the ``sqlite3`` driver so that a
transaction started through :func:`writer` begins with ``BEGIN IMMEDIATE``: it takes the
write lock up front and waits for it, instead of reading first and then failing with
"database is locked" when it tries to upgrade to writing.

:func:`migrate` applies the Alembic migrations shipped in ``migrations/`` (found next to
this file, so it works from an installed package) up to head. It is a no-op when the
schema is current and safe to run from several processes starting at once: it runs in
one transaction that holds SQLite's write lock or a PostgreSQL advisory lock. When the
stored revision is already the scripts' head it returns without importing Alembic.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 15_000
WRITE_OPTION = "footfall_write"
_PG_MIGRATION_LOCK = 0x666F6F74_6D657461  # b"footmeta": one advisory lock id for migrations


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url``, configured for shared use when it is SQLite."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        engine = create_engine(sa_url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(sa_url, pool_pre_ping=True)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions take the SQLite write lock first."""
    return engine.execution_options(**{WRITE_OPTION: True})


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory or URI-style database."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; creates a SQLite file's directory."""
    path = sqlite_path(engine.url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    head = _head()
    if head is not None and _stored_revisions(engine) == [head]:
        return  # current: no Alembic (~0.4 CPU s to import it and read its scripts)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


_REVISION = re.compile(r'^revision(?::[^=]*)? = "(\w+)"', re.M)
_DOWN = re.compile(r'^down_revision(?::[^=]*)? = "(\w+)"', re.M)


def _head() -> str | None:
    """The newest revision, read from the migration scripts' text (Alembic's own parse is
    the slow part of a no-op upgrade); None unless there is exactly one."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = script.read_text()
        revisions.update(_REVISION.findall(source))
        downs.update(_DOWN.findall(source))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(engine: Engine) -> list[str]:
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except exc.DBAPIError:  # no table yet: a new database
        return []
    return [str(r[0]) for r in rows]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_on_begin); the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        _sqlite_enable_wal(cursor)
    finally:
        cursor.close()


def _sqlite_enable_wal(cursor: Any) -> None:
    # WAL is a property of the file, so it is usually on already. Switching it on needs
    # a moment alone with the file and SQLite does not wait for that (no busy handler),
    # so two processes opening a new file at once must retry here.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    mode = str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    while mode not in ("wal", "memory"):
        try:
            mode = str(cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        if mode != "wal" and time.monotonic() > deadline:
            return  # e.g. a file system without shared memory: keep the rollback journal
        if mode != "wal":
            time.sleep(0.01)


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = bool(conn.get_execution_options().get(WRITE_OPTION, False))
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
