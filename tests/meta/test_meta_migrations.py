"""Migrations: apply from empty, are idempotent, match the models, and survive a race."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, make_url, text

from footfall.meta import Metadata
from footfall.meta.db import MIGRATIONS_DIR, current_revision
from footfall.meta.models import Base

HEAD = "0009"

TABLES = {
    "sites",
    "site_domains",
    "ingest_keys",
    "read_tokens",
    "salts",
    "alembic_version",
    "users",
    "memberships",
    "login_sessions",
    "shared_links",
    "site_settings",
    "goals",
    "funnels",
    "funnel_steps",
    "site_retention",
    "report_recipients",
    "instance_secrets",
}


def test_migrate_from_empty_creates_every_table(db_url: str) -> None:
    store = Metadata(db_url)
    try:
        store.migrate()  # on SQLite this also creates the missing data directory
        assert set(inspect(store.engine).get_table_names()) == TABLES
        assert current_revision(store.engine) == HEAD
    finally:
        store.close()


def test_second_migrate_is_a_no_op(meta: Metadata) -> None:
    meta.create_site("Kept", ["kept.example"])
    before = inspect(meta.engine).get_table_names()
    meta.migrate()
    again = Metadata(meta.engine.url)
    try:
        again.migrate()
        assert [s.id for s in again.list_sites()] == ["kept"]
    finally:
        again.close()
    assert sorted(inspect(meta.engine).get_table_names()) == sorted(before)
    assert current_revision(meta.engine) == HEAD


def test_models_and_migrations_agree(meta: Metadata) -> None:
    with meta.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_concurrent_first_migrations_both_succeed(db_url: str) -> None:
    stores = [Metadata(db_url), Metadata(db_url)]
    errors: list[BaseException] = []

    def run(store: Metadata) -> None:
        try:
            store.migrate()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert current_revision(stores[0].engine) == HEAD
    finally:
        for s in stores:
            s.close()


def test_sqlite_file_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "meta.sqlite3"
    store = Metadata(f"sqlite:///{path}")
    try:
        store.migrate()
        assert path.is_file()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        store.close()
    assert make_url(f"sqlite:///{path}").database == str(path)


def test_migration_scripts_are_found_next_to_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


def test_upgrade_gives_a_shared_domain_to_its_oldest_site_only(db_url: str) -> None:
    """Before 0005 two sites could list one domain; the first to register it keeps it."""
    from alembic import command
    from alembic.config import Config

    from footfall.meta.db import sqlite_path, writer

    store = Metadata(db_url)
    path = sqlite_path(store.engine.url)
    if path is not None:
        path.parent.mkdir(parents=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    sites = [("victim", "2024-01-01 00:00:00"), ("spy", "2024-06-01 00:00:00")]
    domains = [("victim", "b.example", 0), ("spy", "b.example", 0), ("spy", "spy.example", 1)]
    try:
        with writer(store.engine).begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
            for sid, created in sites:
                conn.execute(
                    text("INSERT INTO sites (id, name, timezone, created_at, public_uuid) "
                         "VALUES (:id, :id, 'UTC', :at, :id)"), {"id": sid, "at": created}
                )  # fmt: skip
            for sid, domain, position in domains:
                conn.execute(
                    text("INSERT INTO site_domains (site_id, domain, position) "
                         "VALUES (:s, :d, :p)"), {"s": sid, "d": domain, "p": position}
                )  # fmt: skip
        store.migrate()
        assert {s.id: s.domains for s in store.list_sites()} == {
            "spy": ("spy.example",),
            "victim": ("b.example",),
        }
        found = store.site_for_domain("b.example")
        assert found is not None and found.id == "victim"
    finally:
        store.close()
