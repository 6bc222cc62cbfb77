"""Alembic environment of the metadata store.

Normally run through :func:`footfall.meta.db.migrate`, which hands over an open
connection in ``config.attributes["connection"]`` (inside a transaction that, on SQLite,
holds the write lock and, on PostgreSQL, an advisory lock, so concurrent starts migrate
once). Run by the ``alembic`` command instead (``alembic -c footfall/meta/alembic.ini
...``), it connects to ``sqlalchemy.url`` if set, else to the URL that the FOOTFALL_*
settings name. Batch mode (copy-and-move table changes) is used on SQLite, which cannot
ALTER most things in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from footfall.meta.models import Base


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from footfall.config import Settings

    return Settings.from_env().metadata_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade head --sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    from footfall.meta.db import make_engine

    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
