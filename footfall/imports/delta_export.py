"""``footfall export SITE --to DIR --format delta``: a site's events as a Delta Lake table.

For a data platform that keeps its events in Delta tables (Spark, Databricks, Trino,
DuckDB's ``delta_scan``, Polars' ``scan_delta``): ``DIR`` becomes one Delta table of the
site's raw events, every column of the events table, partitioned by ``day`` (the UTC day,
``YYYY-MM-DD``), written through the ``deltalake`` package (the optional ``delta`` extra)
in one commit. Delta has no unsigned integers: ``visitor_id`` and ``session_id`` (unsigned
64-bit) are ``DECIMAL(20, 0)``, exact; ``ts`` is a UTC timestamp in microseconds.

The Parquet export (:mod:`footfall.imports.parquet_export`) stays what moves a whole site
(visits, drop counts, settings) to another installation; this one is for analysis.
Rows are read one day at a time in Arrow batches, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from footfall.imports.parquet_export import EVENT_NAMES, EVENT_SCHEMA, _conform, _events_sql
from footfall.meta.repo import SiteInfo
from footfall.store.base import EventStore

_UNSIGNED = ("visitor_id", "session_id")
DELTA_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.decimal128(20, 0))
        if f.name in _UNSIGNED
        else pa.field(f.name, pa.timestamp("us", tz="UTC"))
        if f.name == "ts"
        else f
        for f in EVENT_SCHEMA
    ]
    + [pa.field("day", pa.string())]
)


class DeltaUnavailable(Exception):
    """The ``deltalake`` package is not installed."""


def _days(store: EventStore, site_id: str) -> list[Any]:
    sql = "SELECT DISTINCT CAST(ts AS DATE) AS d FROM events WHERE site_id = ? ORDER BY d"
    return [r[0] for r in store.query(sql, [site_id])]


def _batches(store: EventStore, site_id: str, days: list[Any], count: list[int]) -> Iterator[
    pa.RecordBatch
]:  # fmt: skip
    for day in days:
        lo = datetime(day.year, day.month, day.day)
        hi = datetime.fromordinal(lo.toordinal() + 1)
        for batch in store.stream(_events_sql(), [site_id, lo, hi]):
            if not batch.num_rows:
                continue
            table = _conform(pa.Table.from_batches([batch]), EVENT_SCHEMA)
            columns = [table.column(n).cast(DELTA_SCHEMA.field(n).type) for n in EVENT_NAMES] + [
                pa.array([day.isoformat()] * table.num_rows, pa.string())
            ]
            count[0] += table.num_rows
            yield from pa.table(columns, schema=DELTA_SCHEMA).to_batches()


def export_delta(store: EventStore, site: SiteInfo, out: Path) -> dict[str, int]:
    """Write the site's events as a Delta table at ``out`` (empty or absent); row counts."""
    try:
        from deltalake import write_deltalake
    except ImportError:
        raise DeltaUnavailable(
            "the Delta format needs the deltalake package: pip install 'footfall[delta]'"
        ) from None
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    days, count = _days(store, site.id), [0]
    reader = pa.RecordBatchReader.from_batches(DELTA_SCHEMA, _batches(store, site.id, days, count))
    write_deltalake(str(out), reader, partition_by=["day"], mode="error")
    return {"events": count[0], "days": len(days)}
