"""Event stores behind one port (``base.py``): DuckDB embedded (``duckdb/``) and
ClickHouse (``clickhouse/``), side by side with the same file names; ``open_store``
picks one from ``FOOTFALL_STORE_URL``."""

from footfall.store.factory import StoreURLError, open_store

__all__ = ["StoreURLError", "open_store"]
