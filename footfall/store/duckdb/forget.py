# ruff: noqa: E501  (SQL reads better unwrapped)
"""Forgetting on DuckDB: one person's visits, and rows past a site's retention.

A person is the visits (``session_id``) holding an event whose ``user_id`` or
``visitor_id`` matches: whole visits go, never part of one, so the visits that remain are
exactly those the 30-minute rule would have made had the person's events never been sent
(a visit is one visitor's, and the visits around it were more than 30 minutes away).

The rollups that counted those events are rebuilt for the days they touched, in the same
transaction: the affected visitors and spans are listed in ``rollup_pending`` exactly as
the writer lists what it adds, and the site is sealed at once (footfall/store/duckdb/
rollups.py ``seal_site`` recomputes those visitors' bits and those days' sums from the
raw events that remain), so no rollup row keeps the person's visitor id afterwards, and
every report reads what it would had the events never been sent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

from footfall.store.base import RollupSpec
from footfall.store.duckdb.rollups import EPOCH, seal_site
from footfall.store.duckdb.rollups_upkeep import drop

PERSON_COLUMNS = ("user_id", "visitor_id")


def delete_person(
    cur: duckdb.DuckDBPyConnection, site_id: str, column: str, value: str | int, spec: RollupSpec
) -> dict[str, int]:
    """Delete the visits of one person (inside the caller's transaction); how many rows
    went from each table."""
    if column not in PERSON_COLUMNS:
        raise ValueError(f"a person is found by {' or '.join(PERSON_COLUMNS)}, not {column!r}")
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _gone AS SELECT DISTINCT session_id FROM events WHERE site_id = ? AND {column} = ?",
        [site_id, value],
    )
    # Each affected visitor's span of deleted events: the days whose rollups change.
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _gone_span AS SELECT visitor_id, min(ts) AS lo, max(ts) AS hi FROM events "
        "WHERE site_id = ? AND session_id IN (SELECT session_id FROM _gone) GROUP BY visitor_id",
        [site_id],
    )
    # reach names visitors by number (visitor_numbers)
    visitors = ("(SELECT vno FROM visitor_numbers WHERE site_id = ? AND visitor_id IN "
                "(SELECT visitor_id FROM _gone_span))")  # fmt: skip
    in_reach = f"SELECT count(*) FROM reach WHERE site_id = ? AND vno IN {visitors}"
    reach_before = _count(cur, in_reach, site_id, site_id)
    sessions = _count(
        cur,
        "DELETE FROM sessions WHERE site_id = ? AND session_id IN (SELECT session_id FROM _gone)",
        site_id,
    )
    events = _count(
        cur,
        "DELETE FROM events WHERE site_id = ? AND session_id IN (SELECT session_id FROM _gone)",
        site_id,
    )
    state = cur.execute("SELECT timezone FROM rollup_state WHERE site_id = ?", [site_id]).fetchall()
    if events and state:
        cur.execute(
            "INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) SELECT ?, visitor_id, lo, hi FROM _gone_span",
            [site_id],
        )
        upto = int(cur.execute("SELECT max(seq) FROM rollup_pending").fetchall()[0][0])
        _, appended = seal_site(cur, site_id, state[0][0], spec, upto)
        cur.execute("DELETE FROM rollup_pending WHERE site_id = ? AND seq <= ?", [site_id, upto])
        cur.execute(
            "UPDATE rollup_state SET sealed_rows = coalesce(sealed_rows, 0) + ? WHERE site_id = ?",
            [appended, site_id],
        )
    reach_after = _count(cur, in_reach, site_id, site_id)
    # A visitor none of whose rows remain loses its number too: no rollup row or
    # number keeps the person's visitor id.
    cur.execute(
        "DELETE FROM visitor_numbers WHERE site_id = ? AND visitor_id IN (SELECT visitor_id FROM _gone_span) "
        "AND vno NOT IN (SELECT vno FROM reach WHERE site_id = ?)",
        [site_id, site_id],
    )
    cur.execute("DROP TABLE _gone")
    cur.execute("DROP TABLE _gone_span")
    return {
        "events": events,
        "sessions": sessions,
        "rollup_rows": max(reach_before - reach_after, 0),
    }


def delete_sessions_before(cur: duckdb.DuckDBPyConnection, site_id: str, upto: datetime) -> int:
    """Visits of ``site_id`` that ended before ``upto`` (one batch of the caller's)."""
    return _count(cur, "DELETE FROM sessions WHERE site_id = ? AND end_ts < ?", site_id, upto)


def delete_rollups_before(cur: duckdb.DuckDBPyConnection, site_id: str, day: date) -> int:
    """Rollup rows of ``site_id`` for site-local days before ``day``: the day sums, the
    64-day ``reach`` windows that end before it (a window still holding a kept day stays
    whole, so ranges after the cutoff keep their exact visitor counts), and the visitor
    numbers only those windows named."""
    dn = (day - EPOCH).days
    n = _count(cur, "DELETE FROM daily WHERE site_id = ? AND day < ?", site_id, day)
    n += _count(cur, "DELETE FROM visit_daily WHERE site_id = ? AND day < ?", site_id, day)
    # Window ``win`` holds days [32 * win, 32 * win + 64).
    n += _count(cur, "DELETE FROM reach WHERE site_id = ? AND 32 * win + 64 <= ?", site_id, dn)
    n += _count(
        cur, "DELETE FROM reach_firsts WHERE site_id = ? AND 32 * win + 64 <= ?", site_id, dn
    )
    # Numbers no reach row names any more go too, or visitor_numbers would grow with every
    # visitor ever seen. A visitor who comes back gets a new number: the windows are
    # counted one at a time, and none still holds the old one.
    n += _count(
        cur,
        "DELETE FROM visitor_numbers WHERE site_id = ? AND vno NOT IN "
        "(SELECT vno FROM reach WHERE site_id = ?)",
        site_id,
        site_id,
    )
    return n


def delete_site(cur: duckdb.DuckDBPyConnection, site_id: str) -> int:
    """Every stored row of one site (events, visits, drop counts, imported figures,
    rollups), inside the caller's transaction; how many events went."""
    got = cur.execute("DELETE FROM events WHERE site_id = ?", [site_id]).fetchall()
    for table in ("sessions", "dropped_events", "imported_stats"):
        cur.execute(f"DELETE FROM {table} WHERE site_id = ?", [site_id])
    drop(cur, site_id)
    return int(got[0][0]) if got else 0


def day_batches(oldest: datetime, cutoff: datetime) -> list[datetime]:
    """Ends of day-sized batches from ``oldest`` up to ``cutoff`` (the last is ``cutoff``):
    small transactions keep each delete's undo log small on a big store."""
    ends: list[datetime] = []
    step = oldest.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while step < cutoff:
        ends.append(step)
        step += timedelta(days=1)
    return [*ends, cutoff]


def _count(cur: duckdb.DuckDBPyConnection, sql: str, *params: object) -> int:
    got = cur.execute(sql, list(params)).fetchall()
    return int(got[0][0]) if got and got[0][0] is not None else 0
