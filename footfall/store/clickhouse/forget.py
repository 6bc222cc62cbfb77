"""Forgetting on ClickHouse: one person's visits, and rows past a site's retention.

As on DuckDB (footfall/store/duckdb/forget.py), a person is the visits holding an event
whose ``user_id`` or ``visitor_id`` matches, and whole visits go. ClickHouse keeps no
rollups here, so the events and visits are all there is: each goes by a lightweight
``DELETE`` (synchronous under the store's session settings, ``lightweight_deletes_sync``),
a few thousand visits per statement so that no statement grows without bound. Visits are
deleted before their events: a delete interrupted between the two leaves events that a
second run finds again, never events whose visit is gone unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

PERSON_COLUMNS = ("user_id", "visitor_id")
# Visits per DELETE statement (their ids are written into it as integer literals).
BATCH = 5_000

QueryFn = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
DeleteFn = Callable[[str, str, Sequence[Any]], None]  # (table, where, params)


def delete_person(
    query: QueryFn, delete: DeleteFn, site_id: str, column: str, value: str | int
) -> dict[str, int]:
    """Delete one person's visits; how many rows went from each table."""
    if column not in PERSON_COLUMNS:
        raise ValueError(f"a person is found by {' or '.join(PERSON_COLUMNS)}, not {column!r}")
    sql = f"SELECT DISTINCT session_id FROM events WHERE site_id = ? AND {column} = ?"
    visits = sorted(int(r[0]) for r in query(sql, [site_id, value]))
    events = sessions = 0
    for i in range(0, len(visits), BATCH):
        # Integers from the store, formatted by int(): nothing of the caller's is spliced.
        ids = ", ".join(str(int(v)) for v in visits[i : i + BATCH])
        where = f"site_id = ? AND session_id IN ({ids})"
        sessions += int(query(f"SELECT count() FROM sessions WHERE {where}", [site_id])[0][0])
        events += int(query(f"SELECT count() FROM events WHERE {where}", [site_id])[0][0])
        delete("sessions", where, [site_id])
        delete("events", where, [site_id])
    return {"events": events, "sessions": sessions, "rollup_rows": 0}


def delete_sessions_before(query: QueryFn, delete: DeleteFn, site_id: str, cutoff: datetime) -> int:
    """Visits of ``site_id`` that ended before ``cutoff``."""
    where = "site_id = ? AND end_ts < ?"
    n = int(query(f"SELECT count() FROM sessions WHERE {where}", [site_id, cutoff])[0][0])
    if n:
        delete("sessions", where, [site_id, cutoff])
    return n
