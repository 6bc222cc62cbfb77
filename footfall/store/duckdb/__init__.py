"""The embedded event store on DuckDB (``store.py``), with its exact rollups
(``rollups.py``, ``rollups_upkeep.py``) and schema (``schema.sql``)."""

from footfall.store.duckdb.store import CAPABILITIES, DuckDBStore

__all__ = ["CAPABILITIES", "DuckDBStore"]
