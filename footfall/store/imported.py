"""Imported aggregates: daily totals brought in from another analytics tool (Plausible's CSV
export), kept apart from raw events in one table, ``imported_stats``, in every store.

One row is one line of one of Plausible's export files: ``kind`` names the file
(``visitors``, ``pages``, ``entry_pages``, ``exit_pages``, ``sources``, ``devices``,
``browsers``, ``operating_systems``, ``locations``, ``custom_events``), ``date`` the
site-local day, the dimension columns that file has (the others are empty) and its
counts (0 where the file has none). ``import_id`` names the import a row came from, so an
import can be replaced whole (``EventStore.write_imported``). The query layer adds them to
reports that ask for them (``include.imports``, :mod:`footfall.query.imported`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    import duckdb

KINDS = (
    "visitors", "pages", "entry_pages", "exit_pages", "sources", "devices", "browsers",
    "operating_systems", "locations", "custom_events",
)  # fmt: skip

DIMENSION_COLUMNS = (
    "hostname", "page", "entry_page", "exit_page", "source", "referrer", "utm_source",
    "utm_medium", "utm_campaign", "utm_content", "utm_term", "device", "browser",
    "browser_version", "os", "os_version", "country", "region", "city", "name", "link_url",
    "path",
)  # fmt: skip

COUNT_COLUMNS = (
    "visitors", "visits", "pageviews", "bounces", "visit_duration", "events", "entrances",
    "exits", "time_on_page",
)  # fmt: skip

IMPORTED_SCHEMA = pa.schema(
    [("site_id", pa.string()), ("import_id", pa.string()), ("kind", pa.string()),
     ("date", pa.date32())]
    + [(c, pa.string()) for c in DIMENSION_COLUMNS]
    + [(c, pa.int64()) for c in COUNT_COLUMNS]
)  # fmt: skip


def duckdb_ddl() -> str:
    dims = ", ".join(f"{c} VARCHAR NOT NULL DEFAULT ''" for c in DIMENSION_COLUMNS)
    counts = ", ".join(f"{c} BIGINT NOT NULL DEFAULT 0" for c in COUNT_COLUMNS)
    return (
        "CREATE TABLE IF NOT EXISTS imported_stats (site_id VARCHAR NOT NULL, "
        f"import_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, date DATE NOT NULL, {dims}, "
        f"{counts})"
    )


def duckdb_replace(cur: duckdb.DuckDBPyConnection, site_id: str, import_id: str,
                   table: pa.Table) -> None:  # fmt: skip
    """Replace one import's rows with ``table`` (conformed), inside the caller's DuckDB
    transaction: an import run again replaces its rows whole."""
    cur.execute(
        "DELETE FROM imported_stats WHERE site_id = ? AND import_id = ?", [site_id, import_id]
    )
    cur.register("_imported", table)
    cur.execute("INSERT INTO imported_stats SELECT * FROM _imported")
    cur.unregister("_imported")


def clickhouse_ddl() -> str:
    # No non_replicated_deduplication_window here: a re-import writes the same rows again
    # after deleting them, and block deduplication would drop that insert.
    dims = ", ".join(f"{c} String DEFAULT ''" for c in DIMENSION_COLUMNS)
    counts = ", ".join(f"{c} Int64 DEFAULT 0" for c in COUNT_COLUMNS)
    return (
        "CREATE TABLE IF NOT EXISTS imported_stats (site_id LowCardinality(String), "
        f"import_id String, kind LowCardinality(String), date Date, {dims}, {counts}) "
        "ENGINE = MergeTree ORDER BY (site_id, kind, date)"
    )


def conform(rows: pa.Table, site_id: str, import_id: str) -> pa.Table:
    """``rows`` of ``site_id`` from ``import_id`` with every column of the table, in order:
    missing dimensions empty, missing counts 0."""
    n = rows.num_rows
    cols = []
    for f in IMPORTED_SCHEMA:
        if f.name in ("site_id", "import_id"):
            cols.append(pa.array([site_id if f.name == "site_id" else import_id] * n, f.type))
        elif f.name in rows.column_names:
            col = rows.column(f.name).cast(f.type)
            if f.type in (pa.string(), pa.int64()):
                col = col.fill_null("" if f.type == pa.string() else 0)
            cols.append(col)
        elif f.type == pa.string():
            cols.append(pa.array([""] * n, pa.string()))
        else:
            cols.append(pa.array([0] * n, f.type))
    return pa.table(cols, schema=IMPORTED_SCHEMA)
