"""Retention on the DuckDB store: raw events and visits before a cutoff deleted a day at a
time (each day its own short transaction, so the writer's rounds go on between them),
after noting in ``rollup_state.raw_from`` that the rollups keep what raw rows lose.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb

from footfall.store.duckdb import forget

if TYPE_CHECKING:
    from footfall.store.duckdb.store import DuckDBStore


def delete_events_before(
    store: DuckDBStore, cutoff: datetime, site_id: str | None, with_sessions: bool
) -> int:
    """Delete raw events (and, ``with_sessions``, visits that ended) before ``cutoff``,
    a day at a time; with ``site_id``, only that site's."""
    cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    where, args = ("site_id = ? AND ", [site_id]) if site_id is not None else ("", [])
    sql = f"SELECT min(ts) FROM events WHERE {where}true"
    oldest = store._cursor().execute(sql, args).fetchall()[0][0]

    def delete(cur: duckdb.DuckDBPyConnection, upto: datetime) -> int:
        got = cur.execute(f"DELETE FROM events WHERE {where}ts < ?", [*args, upto]).fetchall()
        if with_sessions:
            cur.execute(f"DELETE FROM sessions WHERE {where}end_ts < ?", [*args, upto])
        return int(got[0][0]) if got else 0

    return _by_days(store, oldest, cutoff, site_id, delete)


def delete_sessions_before(store: DuckDBStore, cutoff: datetime, site_id: str) -> int:
    cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    sql = "SELECT min(end_ts) FROM sessions WHERE site_id = ?"
    with store._gate.reading():  # not across a compaction's swap of the file
        oldest = store._cursor().execute(sql, [site_id]).fetchall()[0][0]
    return _by_days(
        store,
        oldest,
        cutoff,
        site_id,
        lambda cur, upto: forget.delete_sessions_before(cur, site_id, upto),
    )


def _by_days(
    store: DuckDBStore,
    oldest: datetime | None,
    cutoff: datetime,
    site_id: str | None,
    delete: Callable[[duckdb.DuckDBPyConnection, datetime], int],
) -> int:
    """``delete(cur, upto)`` for each day's end from ``oldest`` to ``cutoff``, a
    transaction each, after noting that raw rows before ``cutoff`` go; how many went."""
    if oldest is None or oldest >= cutoff:
        return 0
    raw_deleted_before(store, cutoff, site_id)
    deleted = 0
    for upto in forget.day_batches(oldest, cutoff):
        with store._write_lock, store._transaction() as cur:
            deleted += delete(cur, upto)
    return deleted


def raw_deleted_before(store: DuckDBStore, cutoff: datetime, site_id: str | None) -> None:
    """Note, before deleting, that raw rows before ``cutoff`` go while the rollups keep
    them: queries then never trade the rollups for raw events before it."""
    where, args = ("WHERE site_id = ?", [site_id]) if site_id is not None else ("", [])
    with store._rollup_lock, store._write_lock, store._transaction() as cur:
        sql = "UPDATE rollup_state SET raw_from = greatest(coalesce(raw_from, ?), ?) "
        cur.execute(sql + where, [cutoff, cutoff, *args])
