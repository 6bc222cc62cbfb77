"""Exports as byte streams: raw events or a query's rows, as CSV, JSON lines or Parquet.

Raw events come from the store as Arrow batches (``EventStore.stream``) and each batch is
encoded and handed on before the next is read, so memory stays at about one batch
whatever the size of the export. Encoders write into a ``BytesIO`` that is drained after
every batch; CSV writes its header once, Parquet one row group per batch and its footer
at the end.

CSV is opened in spreadsheets, which run a cell starting with ``=``, ``+``, ``-``, ``@``,
tab or CR as a formula; visitors choose event names, titles and props, so such text
cells get a leading ``'``, as the dashboard's own CSV download does (dash/csv.js).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from footfall.ingest.validate import FieldError
from footfall.store.base import EVENT_COLUMNS, EventStore

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson",
           "parquet": "application/vnd.apache.parquet"}  # fmt: skip
BATCH_ROWS = 10_000  # measured: 50k-row batches hold ~2x the memory (bench/export_memory.py)
# Ids as text: uuids and unsigned 64-bit ids survive every reader (JSON numbers do not).
_AS_TEXT = {"event_id", "visitor_id", "session_id"}
RAW_COLUMNS = [n for n, _ in EVENT_COLUMNS]
_encode = msgspec.json.Encoder().encode


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise FieldError("format", f"use one of {', '.join(FORMATS)}")
    return value


def raw_events_sql(site_id: str, start: datetime, end: datetime) -> tuple[str, list[Any]]:
    """Every stored column of the site's events in [start, end), in storage order."""
    cols = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" if c in _AS_TEXT else c for c in RAW_COLUMNS)
    return f"SELECT {cols} FROM events WHERE site_id = ? AND ts >= ? AND ts < ?", [
        site_id, start, end
    ]  # fmt: skip


def raw_events(
    store: EventStore, site_id: str, start: datetime, end: datetime, fmt: str
) -> Iterator[bytes]:
    sql, params = raw_events_sql(site_id, start, end)
    return encode(store.stream(sql, params, BATCH_ROWS), fmt)


def query_rows(result: dict[str, Any], fmt: str) -> Iterator[bytes]:
    """A ``QueryRunner.run`` result as a table: one column per dimension, then per metric."""
    query = result["query"]
    names = [*query["dimensions"], *query["metrics"]]
    rows = [r["dimensions"] + r["metrics"] for r in result["results"]]
    columns = {n: [row[i] for row in rows] for i, n in enumerate(names)}
    table = pa.table(columns) if rows else pa.table({n: pa.array([], pa.string()) for n in names})
    return encode(table.to_batches() or [pa.RecordBatch.from_pylist([], table.schema)], fmt)


def _utc(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamps marked UTC, so every format writes them with a zone (``Z``)."""
    arrays, fields = [], []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            t = pa.timestamp(f.type.unit, tz="UTC")
            col, f = col.cast(t), pa.field(f.name, t)
        arrays.append(col)
        fields.append(f)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _maps_as_json(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Map columns (props) as JSON object text, for CSV."""
    arrays, fields = [], []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_map(f.type):
            text = [None if m is None else _encode(dict(m)).decode() for m in col.to_pylist()]
            col, f = pa.array(text, pa.string()), pa.field(f.name, pa.string())
        arrays.append(col)
        fields.append(f)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


_FORMULA = r"^[=+\-@\t\r]"


def _no_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Text cells a spreadsheet would run as a formula, prefixed with ``'`` (for CSV)."""
    arrays = []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            quoted = pc.binary_join_element_wise("'", col, "")  # "'" + cell
            col = pc.if_else(pc.match_substring_regex(col, _FORMULA), quoted, col)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def encode(batches: Iterable[pa.RecordBatch], fmt: str) -> Iterator[bytes]:
    """Bytes of ``fmt``, yielded after each batch."""
    if fmt == "jsonl":
        yield from _jsonl(batches)
        return
    sink = io.BytesIO()
    writer: pa_csv.CSVWriter | pq.ParquetWriter | None = None
    for raw in batches:
        batch = _utc(raw)
        if fmt == "csv":
            batch = _no_formulas(_maps_as_json(batch))
            writer = writer or pa_csv.CSVWriter(sink, batch.schema)
        else:
            writer = writer or pq.ParquetWriter(sink, batch.schema, compression="zstd")
        if batch.num_rows:
            writer.write_batch(batch)
        if data := _drain(sink):
            yield data
    if writer is not None:
        writer.close()
        if data := _drain(sink):
            yield data


def _jsonl(batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    for raw in batches:
        batch = _utc(raw)
        maps = [f.name for f in batch.schema if pa.types.is_map(f.type)]
        rows = batch.to_pylist()
        for row in rows:
            for m in maps:
                if row[m] is not None:
                    row[m] = dict(row[m])
        if rows:
            yield b"\n".join(_encode(r) for r in rows) + b"\n"
