"""Opening the DuckDB store's database: the connection's settings and the schema.

The settings are sized for a small server unless configured (sizing.py says why); the
schema is applied on every open (``CREATE ... IF NOT EXISTS``, ``ADD COLUMN IF NOT
EXISTS``), so nothing is versioned. The store opens through here at start, after a
compaction's swap (compact.py) and after DuckDB invalidated the database (revive.py).
"""

from __future__ import annotations

from importlib import resources

import duckdb

from footfall.store import imported
from footfall.store.base import RENAMED_VALUES
from footfall.store.duckdb import rollups_upkeep as duckdb_rollups_upkeep
from footfall.store.duckdb import sizing


def open_database(path: str, threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A connection to the database at ``path`` (``:memory:`` for tests), its tables made
    or brought up to date; ``threads`` 0 and ``memory_limit`` "" take the defaults."""
    con = duckdb.connect(path)
    # How much WAL before a checkpoint: sizing.py says why not more or less.
    con.execute("SET checkpoint_threshold = ?", [sizing.CHECKPOINT_THRESHOLD])
    con.execute(f"SET threads = {int(threads or sizing.default_threads())}")
    con.execute("SET memory_limit = ?", [memory_limit or sizing.default_memory_limit()])
    for name, value in sizing.ALLOCATOR_SETTINGS.items():
        con.execute(f"SET {name} = ?", [value])
    con.execute(resources.files("footfall.ingest.batch").joinpath("tables.sql").read_text())
    duckdb_rollups_upkeep.upgrade_layout(con)
    con.execute(resources.files("footfall.store.duckdb").joinpath("schema.sql").read_text())
    con.execute(imported.duckdb_ddl())
    # Values stored before Footfall took Plausible's names ("desktop" is "Desktop"):
    # rewritten in place; once done, each is a scan of one column finding nothing.
    for table in ("events", "sessions"):
        for column, old, new in RENAMED_VALUES:
            con.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", [new, old])
    return con
