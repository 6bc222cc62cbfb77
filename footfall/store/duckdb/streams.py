"""Arrow batches read lazily from DuckDB, for streamed responses (exports).

A relation streams; a DB-API result (``cursor.execute``) would copy every row first. The
read runs on a cursor of its own, closed when the consumer stops, since the consumer (a
streaming HTTP response) may pull each batch from a different thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa


def batches(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The rows of ``sql`` in batches of ``batch_rows``; one empty batch (with the columns)
    when there are none."""
    cur = con.cursor()
    try:
        rel = cur.sql(sql, params=list(params))
        if rel is None:
            raise ValueError("stream() needs a statement that returns rows")
        reader = rel.to_arrow_reader(batch_rows)
        empty = True
        for batch in reader:
            empty = False
            yield batch
        if empty:  # consumers learn the columns even when there are no rows
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)
    finally:
        cur.close()
