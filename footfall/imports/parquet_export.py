"""``footfall export SITE --to DIR``: one site's data as Parquet files and a manifest.

The directory holds everything ``footfall import footfall`` needs to make every report of
the site equal on another installation (or another store):

- ``events/day=YYYY-MM-DD/part-0.parquet``: the raw events, every column of the events
  table, one folder per UTC day: a Hive-partitioned dataset that DuckDB
  (``read_parquet('DIR/events/*/*.parquet', hive_partitioning = true)``), Polars
  (``pl.scan_parquet('DIR/events/**/*.parquet')``) or Spark read as it is;
- ``sessions.parquet``: the visits (one row each, as the writer keeps them);
- ``dropped_events.parquet``: the counts of events dropped as bots or spam, per hour;
- ``manifest.json``: the format's version, the site (name, domains, time zone, goals and
  funnels) and the row counts, written last: a directory without it is incomplete.

Rows are read with ``EventStore.stream`` in Arrow batches, one day at a time, so memory
stays bounded whatever the site's size.
"""

from __future__ import annotations

import functools
import json
import shutil
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from footfall.ingest.batch.visits import _SESSION_COLUMNS
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import Metadata, SiteInfo
from footfall.store.base import EVENT_COLUMNS, EventStore

FORMAT = "footfall-export"
VERSION = 1
EVENT_NAMES = [name for name, _ in EVENT_COLUMNS]
EVENT_SCHEMA = pa.schema([(n, pa.timestamp("us") if n == "ts" else t) for n, t in EVENT_COLUMNS])
SESSION_NAMES = list(_SESSION_COLUMNS)
DROPPED_NAMES = ["site_id", "hour", "reason", "n"]


@functools.cache
def engine_schema(table: str) -> pa.Schema:
    """The batch engine's Arrow schema of ``table`` (footfall/ingest/batch/tables.sql):
    what both stores' rows are written as, and read back into."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(resources.files("footfall.ingest.batch").joinpath("tables.sql").read_text())
        schema: pa.Schema = con.sql(f"FROM {table} LIMIT 0").to_arrow_table().schema
    finally:
        con.close()
    return schema


def _events_sql() -> str:
    # event_id as text in both dialects (a UUID type in each store).
    cols = ", ".join(
        "CAST(event_id AS VARCHAR) AS event_id" if n == "event_id" else n for n in EVENT_NAMES
    )
    return f"SELECT {cols} FROM events WHERE site_id = ? AND ts >= ? AND ts < ? ORDER BY ts"


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s column types (stores differ in unsigned and map types)."""
    return pa.table([table.column(f.name).cast(f.type) for f in schema], schema=schema)


def site_manifest(meta: Metadata, site: SiteInfo) -> dict[str, Any]:
    prefs = SitePrefs(meta)
    goals = [
        {
            "name": g.name,
            "kind": g.kind,
            "target": g.target,
            "prop_key": g.prop_key,
            "prop_value": g.prop_value,
            "currency": g.currency,
        }
        for g in prefs.goals(site.id)
    ]
    funnels = [
        {"name": f.name, "steps": [g.name for g in f.steps], "window_hours": f.window_hours}
        for f in prefs.funnels(site.id)
    ]
    return {
        "id": site.id,
        "name": site.name,
        "domains": list(site.domains),
        "timezone": site.timezone,
        "goals": goals,
        "funnels": funnels,
    }


def export_site(store: EventStore, meta: Metadata, site: SiteInfo, out: Path) -> dict[str, Any]:
    """Write the site's export to ``out`` (which must be empty or absent); the manifest."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    days = [
        r[0]
        for r in store.query(
            "SELECT DISTINCT CAST(ts AS DATE) AS d FROM events WHERE site_id = ? ORDER BY d",
            [site.id],
        )
    ]
    events = 0
    for day in days:
        lo = datetime(day.year, day.month, day.day)
        hi = datetime.fromordinal(lo.toordinal() + 1)
        folder = out / "events" / f"day={day.isoformat()}"
        folder.mkdir(parents=True)
        with pq.ParquetWriter(folder / "part-0.parquet", EVENT_SCHEMA, compression="zstd") as w:
            for batch in store.stream(_events_sql(), [site.id, lo, hi]):
                if batch.num_rows:
                    w.write_table(_conform(pa.Table.from_batches([batch]), EVENT_SCHEMA))
                    events += batch.num_rows
    sessions = _write_all(store, out / "sessions.parquet", "sessions", SESSION_NAMES, site.id)
    dropped = _write_all(
        store, out / "dropped_events.parquet", "dropped_events", DROPPED_NAMES, site.id
    )
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "site": site_manifest(meta, site),
        "rows": {"events": events, "sessions": sessions, "dropped_events": dropped},
        "days": [d.isoformat() for d in days],
    }
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(out / "manifest.json")
    return manifest


def _write_all(store: EventStore, path: Path, table: str, names: list[str], site_id: str) -> int:
    sql = f"SELECT {', '.join(names)} FROM {table} WHERE site_id = ?"
    full = engine_schema(table)
    schema = pa.schema([full.field(n) for n in names])
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in store.stream(sql, [site_id]):
            if batch.num_rows:
                writer.write_table(_conform(pa.Table.from_batches([batch]), schema))
                n += batch.num_rows
    return n


def remove_partial(out: Path) -> None:
    """An export that failed leaves no half-written directory behind."""
    if out.exists() and not (out / "manifest.json").exists():
        shutil.rmtree(out, ignore_errors=True)
