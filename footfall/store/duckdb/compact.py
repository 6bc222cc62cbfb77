"""Compaction of the DuckDB file: rewrite it when most of it is free blocks.

DuckDB reuses the blocks that deleted or rewritten rows leave free, but never gives them
back to the file system: after a 10M-event bulk load and its first rollup build, 64% of
a 2.5 GiB file was free blocks (issue 25). Rewriting the database into a new file
(schema first, then every table's rows) and swapping the files returns them. The rewrite
also stores rows in the order that compresses best and that queries prune by:

* ``events`` by (site, day, visitor): a visitor's events of a day lie together, so the
  64-bit random ``visitor_id`` and ``session_id`` become runs and deltas instead of
  incompressible values in time order; every row group still covers about one day, so
  the time-range scans skip by min/max as before;
* ``sessions`` by (site, start time): a visit is one row, so a visitor's rows rarely
  meet and visitor order buys its id little (6.6 against 8.6 bytes a row), while its
  five timestamps then lie near their neighbours' (4.4-4.5 bytes each against 4.9-5.0;
  start 2.8): 48.6 against 51.4 bytes a visit on the footprint bench's 2M events;
* the rollups in the order their queries read them (rollups_upkeep.py).

The writer appends events in time order, which stores the ids as random values again,
so the rewrite is also due once the events appended since the last one are
``UNSORTED_SHARE`` of those it sorted (``compact_state`` keeps that count): after a bulk
load, and then rarer as the table grows, about twice a retention period at steady state.

The store (store.py) runs this with writes and rollup runs held off, readers going on
against the old file until the swap, which waits for them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from footfall.store.duckdb.rollups_upkeep import REACH_ORDER

if TYPE_CHECKING:
    from footfall.store.duckdb.store import DuckDBStore

# Tables rewritten one (site, UTC day) at a time, each day's rows in the given order: the
# order is (site, day, ...) and each sort stays a day's size (a whole table's would spill
# gigabytes at 10M events).
BY_DAY = {"events": ("ts", "visitor_id, ts"), "sessions": ("start_ts", "start_ts, visitor_id")}
# Tables rewritten one group at a time (the groups in order, each group's rows in the
# given order): all of ``reach`` sorted at once spilled 4.6 GB to the temp directory at
# 10M events, beside a 1.2 GB file; one (site, kind, window) is at most a 64-day window of
# one kind's rows.
BY_GROUP = {"reach": ("site_id, kind, win", REACH_ORDER)}
# Tables rewritten in a chosen order; every other table is copied as it is.
ORDER_BY = {
    "visitor_numbers": "site_id, vno",
    "reach_firsts": "site_id, kind, win, d, value",
    "daily": "site_id, kind, day, value",
    "visit_daily": "site_id, kind, day, value",
}
# Below this many bytes of free blocks a rewrite is not worth its I/O.
MIN_FREE_BYTES = 64 << 20
# Events appended since the last rewrite, as a share of those it sorted, that make the
# next one due, and never fewer than MIN_UNSORTED rows (time order costs them about 10
# bytes an event: docs/benchmarks.md).
UNSORTED_SHARE = 0.5
MIN_UNSORTED = 500_000


@dataclass(frozen=True, slots=True)
class FileUse:
    """``PRAGMA database_size`` of the store's file, in bytes; the events stored, and how
    many of them the last rewrite sorted."""

    total: int
    free: int
    wal: int
    events: int = 0
    sorted_events: int = 0

    @property
    def free_share(self) -> float:
        return self.free / self.total if self.total else 0.0


def file_use(cur: duckdb.DuckDBPyConnection) -> FileUse:
    row = cur.execute(
        "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchall()[0]
    block, total, free = (int(v) for v in row)
    wal = cur.execute(
        "SELECT wal_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()[0][0]
    events, done = cur.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT max(events_sorted) FROM compact_state)"
    ).fetchall()[0]
    return FileUse(total * block, free * block, _bytes(str(wal)), int(events), int(done or 0))


def _bytes(text: str) -> int:
    """DuckDB's human-readable sizes ("12.5 MiB") back to bytes (an estimate is enough)."""
    num, _, unit = text.partition(" ")
    scale = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
    try:
        return int(float(num) * scale.get(unit, 1))
    except ValueError:
        return 0


def due(use: FileUse, free_ratio: float) -> bool:
    """Whether a rewrite is due (``free_ratio`` 0: never): ``free_ratio`` of the file free
    and enough to matter, or enough events stored in time order since the last one."""
    if free_ratio <= 0:
        return False
    unsorted = use.events - use.sorted_events
    if unsorted >= MIN_UNSORTED and unsorted >= UNSORTED_SHARE * use.sorted_events:
        return True
    return use.free >= MIN_FREE_BYTES and use.free_share >= free_ratio


def rewrite(cur: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Write the whole database into a new file at ``target`` (replaced if present).

    The caller holds off every write; reads may go on meanwhile."""
    for leftover in (target, Path(f"{target}.wal")):
        leftover.unlink(missing_ok=True)
    source = cur.execute("SELECT current_database()").fetchall()[0][0]
    cur.execute("ATTACH ? AS footfall_compact", [str(target)])
    try:
        # The schema (tables, defaults, keys, the sequence) as DuckDB itself would copy
        # it; the sequence restarts at 1, which is harmless: the pending rows it numbers
        # are all folded in by the next rollup run whatever their numbers.
        cur.execute(f'COPY FROM DATABASE "{source}" TO footfall_compact (SCHEMA)')
        tables = cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND NOT temporary",
            [source],
        ).fetchall()
        for (table,) in tables:
            if table in BY_DAY:
                _copy_by_day(cur, source, table)
                continue
            if table in BY_GROUP:
                _copy_by_group(cur, source, table)
                continue
            order = f" ORDER BY {ORDER_BY[table]}" if table in ORDER_BY else ""
            cur.execute(
                f'INSERT INTO footfall_compact."{table}" SELECT * FROM "{source}"."{table}"{order}'
            )
        cur.execute("DELETE FROM footfall_compact.compact_state")
        cur.execute("INSERT INTO footfall_compact.compact_state "
                    "SELECT 1, count(*) FROM footfall_compact.events")  # fmt: skip
        cur.execute("CHECKPOINT footfall_compact")
    finally:
        cur.execute("DETACH footfall_compact")


def _copy_by_day(cur: duckdb.DuckDBPyConnection, source: str, table: str) -> None:
    column, order = BY_DAY[table]
    days = cur.execute(f'SELECT DISTINCT site_id, CAST({column} AS DATE) AS d '
                       f'FROM "{source}"."{table}" ORDER BY ALL').fetchall()  # fmt: skip
    for site_id, day in days:
        lo = datetime.combine(day, datetime.min.time())
        cur.execute(
            f'INSERT INTO footfall_compact."{table}" SELECT * FROM "{source}"."{table}" '
            f"WHERE site_id = ? AND {column} >= ? AND {column} < ? ORDER BY {order}",
            [site_id, lo, lo + timedelta(days=1)],
        )


def _copy_by_group(cur: duckdb.DuckDBPyConnection, source: str, table: str) -> None:
    keys, order = BY_GROUP[table]
    groups = cur.execute(
        f'SELECT DISTINCT {keys} FROM "{source}"."{table}" ORDER BY ALL'
    ).fetchall()
    match = " AND ".join(f"{name} = ?" for name in keys.split(", "))
    for group in groups:
        cur.execute(
            f'INSERT INTO footfall_compact."{table}" SELECT * FROM "{source}"."{table}" '
            f"WHERE {match} ORDER BY {order}",
            list(group),
        )


def swap(target: Path, path: Path) -> None:
    """Put the rewritten file in place of the old one (the old file is closed)."""
    Path(f"{path}.wal").unlink(missing_ok=True)  # checkpointed before the rewrite
    os.replace(target, path)
    Path(f"{target}.wal").unlink(missing_ok=True)


def compact_store(store: DuckDBStore, free_ratio: float, swap_wait: float) -> dict[str, Any]:
    """Rewrite ``store``'s file when ``free_ratio`` of it is free blocks. Writes
    and rollup runs wait meanwhile (the queue holds acknowledged events); queries go
    on until the swap, which waits up to ``swap_wait`` s for the running ones."""
    if store.path == ":memory:":
        return {"compacted": False}
    with store._rollup_lock, store._write_lock:
        cur = store._cursor()
        cur.execute("CHECKPOINT").fetchall()
        before = file_use(cur)
        out: dict[str, Any] = {"compacted": False, "bytes_before": before.total,
                               "free_before": before.free}  # fmt: skip
        if not due(before, free_ratio):
            return out
        started = time.perf_counter()
        target = Path(f"{store.path}.compact")
        if store._closing:
            return out
        store._maintaining = cur  # shutdown interrupts the rewrite, as it does a build
        try:
            rewrite(cur, target)
        except BaseException:  # the disk filled up, or closing interrupted it
            target.unlink(missing_ok=True)
            Path(f"{target}.wal").unlink(missing_ok=True)
            raise
        finally:
            store._maintaining = None
        with store._gate.exclusive(swap_wait) as drained:
            if not drained:  # a reader held on (an export): try again next time
                target.unlink(missing_ok=True)
                return out
            store.close()
            swap(target, Path(store.path))
            store.open()
        after = file_use(store._cursor())
    out.update(compacted=True, bytes_after=after.total, seconds=time.perf_counter() - started)
    return out
