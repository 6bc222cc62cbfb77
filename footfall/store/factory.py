"""``open_store``: the event store a process uses, chosen by ``FOOTFALL_STORE_URL``.

- empty: DuckDB in the data directory (the embedded shape);
- ``clickhouse://user:password@host:8123/database`` (``?secure=true`` for https): a
  ClickHouse server through clickhouse-connect;
- ``chdb://`` or ``chdb:///absolute/path``: ClickHouse's engine in this process (one
  process per path; no path means ``<data dir>/clickhouse``; ``?database=name`` picks a
  database in it, so several stores can share one engine, as the tests do).

The ClickHouse clients (chdb, clickhouse-connect) are an optional extra (``pip install
'footfall[clickhouse]'``), imported only when a ClickHouse store opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from footfall.config import Settings
from footfall.store.clickhouse.target import ClickHouseTarget

if TYPE_CHECKING:  # the engines load when a store opens, not when a URL is checked
    from footfall.store.base import EventStore


class StoreURLError(ValueError):
    """FOOTFALL_STORE_URL names no usable store (the message says why)."""


def parse_store_url(url: str, data_dir: Path) -> ClickHouseTarget | None:
    """None for the embedded DuckDB store, else where the ClickHouse store is."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        if parts.netloc:
            raise StoreURLError("FOOTFALL_STORE_URL: chdb:// takes an absolute path, no host")
        path = unquote(parts.path) or str((data_dir / "clickhouse").absolute())
        database = parse_qs(parts.query).get("database", ["default"])[0]
        if not database.replace("_", "").isalnum():
            raise StoreURLError("FOOTFALL_STORE_URL: database must be letters, digits and _")
        return ClickHouseTarget(path=path, database=database)
    if parts.scheme == "clickhouse":
        if not parts.hostname:
            raise StoreURLError("FOOTFALL_STORE_URL: clickhouse:// needs a host")
        query = parse_qs(parts.query)
        secure = query.get("secure", ["false"])[0].lower() in ("1", "true", "yes")
        return ClickHouseTarget(
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=parts.path.strip("/") or "default",
            secure=secure,
        )
    raise StoreURLError(
        f"FOOTFALL_STORE_URL: unknown scheme {parts.scheme!r} (empty, clickhouse:// or chdb://)"
    )


def open_store(settings: Settings, *, migrate: bool = True) -> EventStore:
    """The configured store, opened, with its migrations applied unless ``migrate`` is
    False (``footfall migrate`` applies them itself, to report them)."""
    target = parse_store_url(settings.store_url, settings.data_dir)
    store: EventStore
    if target is None:
        from footfall.store.duckdb import DuckDBStore

        store = DuckDBStore(
            settings.store_path,
            threads=settings.duckdb_threads,
            memory_limit=settings.duckdb_memory_limit,
        )
    else:
        try:
            from footfall.store.clickhouse.store import ClickHouseStore
        except ImportError as e:  # the optional extra is missing
            extra = "pip install 'footfall[clickhouse]'"
            raise StoreURLError(
                f"FOOTFALL_STORE_URL needs the ClickHouse extra: {extra} ({e})"
            ) from None
        store = ClickHouseStore(target)
    store.open()
    if migrate:
        store.migrate()
    return store
