# ruff: noqa: E501  (SQL reads better unwrapped)
"""Upkeep of built rollups on DuckDB: the ``reach_firsts`` rows of ``reach`` rows (and of
their changes), summing them, re-sorting ``reach``, and dropping a site's rows. :func:`footfall.store.duckdb.rollups_run.maintain` calls these after
each run's seals.

Why re-sort: a build writes ``reach`` one kind and window at a time, so each (kind, window)
lies in its own row groups and a query's scan skips the rest by their min/max. A seal
deletes its visitors' rows and appends their new ones at the end of the table, all kinds
and windows mixed, so every query of the current windows must also scan that growing
tail; the visitors-touched correction (footfall/query/rollup.py) reads every row of its
window, and measured 20-30% slower after a day of seals at 10M events. Once the rows
seals appended reach ``RESORT_RATIO`` of the current windows' rows, those windows are
rewritten in order (their old rows' row groups are reclaimed at the next checkpoint).
The order within a (kind, window) is by ``days``: a row with a day in a range starting at
bit a has days >= 2**a, so the correction skips by min/max the row groups of visitors
seen only before the range (about a third of a window for a 30-day range). Within equal
``days`` the rows go by visitor number, so ``vno`` is stored as small deltas.
A build writes each (kind, window) unsorted (the sort was a third of its CPU): the
compaction after a bulk load sorts it (compact.py ``BY_GROUP``).
Windows before the current two are only touched by late events, so their tails stay small.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import duckdb

log = logging.getLogger("footfall.jobs")

# The tables a build fills for a site (drop() clears these and the site's pending rows).
BUILT_TABLES = ("rollup_state", "reach", "reach_firsts", "daily", "visit_daily", "visitor_numbers")
# reach_firsts is summed again once its removed rows (n < 0) are this share of its rows;
# the current windows alone once theirs are CURRENT_COMPACT_RATIO of their rows (every
# dashboard range reads them, and their few hundred thousand rows sum in a fraction of a
# second at 10M events).
COMPACT_RATIO = 0.1
CURRENT_COMPACT_RATIO = 0.02
# The order of one (kind, window)'s reach rows (see the module's docstring).
REACH_ORDER = "days, vno"
# The current windows of reach are re-sorted once seals appended this share of their rows.
RESORT_RATIO = 0.01
# ... and never for fewer appended rows than this (a small site's tail is cheap to scan).
RESORT_MIN_ROWS = 50_000


# A build step that runs out of DuckDB's memory waits and runs again, this many times:
# while a first build runs, the dashboard's queries read raw events under the same memory
# limit; at 10M events a `reach` step failed at 512 MiB and the whole build, 12 minutes
# in, started over at the next run. Only the step's own transaction is lost here.
STEP_RETRIES = 4
STEP_RETRY_WAIT = 5.0


def run_step(cur_factory: Any, statements: Sequence[tuple[str, list[Any]]],
             should_stop: Callable[[], bool] = lambda: False) -> None:  # fmt: skip
    """Run ``statements`` in one transaction of ``cur_factory``; again after a wait (up
    to STEP_RETRIES times) when DuckDB runs out of memory."""
    for attempt in range(STEP_RETRIES + 1):
        try:
            with cur_factory() as cur:
                for sql, params in statements:
                    cur.execute(sql, params)
            return
        except duckdb.OutOfMemoryException as exc:
            if attempt == STEP_RETRIES or should_stop():
                raise
            log.warning("rollups build step out of memory, trying again: %s", str(exc)[:120])
            time.sleep(STEP_RETRY_WAIT * (attempt + 1))


def firsts_select(source: str) -> str:
    """(kind, win, value, d, prev, n) of ``source`` rows (kind, win, value, days, n): each
    row's set bits, with the bit set before each. Callers pass patterns (rows grouped by
    (value, days)), so the per-bit expansion runs once per pattern, not once per visitor."""
    bits = "list_filter(range(64), lambda i: ((days >> i::UBIGINT) & 1::UBIGINT) = 1)"
    return f"""
        SELECT kind, win, value, bits[j]::SMALLINT AS d,
               (CASE WHEN j = 1 THEN -1 ELSE bits[j - 1] END)::SMALLINT AS prev, sum(n)::BIGINT AS n
        FROM (SELECT kind, win, value, n, bits, unnest(range(1, len(bits) + 1)) AS j
              FROM (SELECT kind, win, value, n, {bits} AS bits FROM {source}))
        GROUP BY ALL"""


def patterns(source: str, sign: str = "") -> str:
    return f"(SELECT kind, win, value, days, {sign}count(*) AS n FROM {source} GROUP BY ALL)"


def _top_bit(x: str) -> str:
    """The highest set bit of UBIGINT ``x`` (-1 for 0), exactly: the bits below it smeared
    in, then counted."""
    smear = f"({x})"
    for k in (1, 2, 4, 8, 16, 32):
        smear = f"({smear} | ({smear} >> {k}::UBIGINT))"
    return f"(bit_count({smear})::INTEGER - 1)"


def firsts_delta(changes: str) -> str:
    """The reach_firsts rows (kind, win, value, d, prev, n) that turn ``changes`` rows'
    ``old_days`` (NULL: a new row) into ``new_days`` (0: a removed row). Bits below the
    lowest bit that differs have the same (d, prev) in both and cancel, so only the bits
    from there on are expanded, the first one's ``prev`` being the highest bit below it:
    a day appended after a row's last one is one +1 at (d, prev = that last day), whatever
    the row's history. (Expanding all 64 bits of every row, grouped by pattern first, was
    3.8 of a seal's 20 CPU seconds on a fold of 100k events in time order.)"""
    diff = "xor(coalesce(old_days, 0::UBIGINT), new_days)"
    low = f"bit_count(({diff} & ((~{diff}) + 1::UBIGINT)) - 1::UBIGINT)::INTEGER"
    sides = (f"SELECT kind, win, value, old_days AS days, {low} AS low, -1 AS n FROM {changes} WHERE old_days IS NOT NULL "
             f"UNION ALL SELECT kind, win, value, new_days AS days, {low} AS low, 1 AS n FROM {changes} WHERE new_days <> 0")  # fmt: skip
    below = f"{_top_bit('days & (((1::UBIGINT) << low::UBIGINT) - 1::UBIGINT)')}"
    bits = f"list_filter(range(low, {_top_bit('days')} + 1), lambda i: ((days >> i::UBIGINT) & 1::UBIGINT) = 1)"
    return f"""
        SELECT * FROM (
            SELECT kind, win, value, bits[j]::SMALLINT AS d,
                   (CASE WHEN j = 1 THEN first_prev ELSE bits[j - 1] END)::SMALLINT AS prev, sum(n)::BIGINT AS n
            FROM (SELECT kind, win, value, n, bits, first_prev, unnest(range(1, len(bits) + 1)) AS j
                  FROM (SELECT kind, win, value, n, {bits} AS bits, {below} AS first_prev FROM ({sides})))
            GROUP BY ALL)
        WHERE n <> 0"""


def built_windows(cur: duckdb.DuckDBPyConnection, site_id: str, lo: int, hi: int) -> set[int]:
    """The site's windows in [lo, hi] that hold rows (every row has a site-total twin)."""
    rows = cur.execute("SELECT DISTINCT win FROM reach_firsts WHERE site_id = ? AND kind = '' AND win BETWEEN ? AND ?",
                       [site_id, lo, hi]).fetchall()  # fmt: skip
    return {int(r[0]) for r in rows}


def open_windows(cur: duckdb.DuckDBPyConnection, site_id: str, kinds: Iterable[str], lo: int, hi: int,
                 needed: Iterable[int]) -> set[int]:  # fmt: skip
    """Make sure each window in ``needed`` exists, and return the site's windows in [lo, hi].

    Window ``w`` is built only once its upper block (``w + 1``) has events: until then the
    window before it holds every row it would (its block ``w`` in bits 32-63) and answers
    every range it would, so building it too only doubled the current data's rows. The
    first events sealed in block ``w + 1`` open it here: window ``w - 1``'s rows with a day
    in block ``w``, shifted down, are exactly its rows on that block, and the seal then
    adds the new days (rollups.py has the rule the readers follow)."""
    have = built_windows(cur, site_id, lo, hi)
    for w in sorted(set(needed) - have):
        for kind in kinds:
            cur.execute(
                "INSERT INTO reach SELECT site_id, kind, ?, value, vno, days >> 32 FROM reach "
                f"WHERE site_id = ? AND kind = ? AND win = ? AND days >= ?::UBIGINT ORDER BY {REACH_ORDER}",
                [w, site_id, kind, w - 1, 1 << 32],
            )
            rows = "(SELECT * FROM reach WHERE site_id = ? AND kind = ? AND win = ?)"
            cur.execute(f"INSERT INTO reach_firsts SELECT ?, * FROM ({firsts_select(patterns(rows))}) ORDER BY d, value",
                        [site_id, site_id, kind, w])  # fmt: skip
        have.add(w)
    return have


def day_window(wins: Iterable[int]) -> str:
    """SQL: whether a ``reach_firsts`` row (win, d) is the one counted for its day 32 * win + d
    among windows ``wins``: the window starting in the day's block if built, else the one
    before it (where the day is in bits 32-63). Either holds every visitor of the day."""
    listed = ", ".join(str(w) for w in sorted(wins)) or "NULL"
    return f"(CASE WHEN (32 * win + d) // 32 IN ({listed}) THEN d < 32 ELSE d >= 32 END)"


def compact(cur: duckdb.DuckDBPyConnection, site_id: str, win: int) -> None:
    """Sum a site's reach_firsts rows once seals have appended enough removals. Nearly
    every seal lands in the current windows (``win`` and the next), which are also what
    every dashboard range reads, so those are summed on their own as soon as their removed
    rows reach CURRENT_COMPACT_RATIO of theirs; the whole site once they reach
    COMPACT_RATIO of all its rows. Either way the summed rows go back sorted, each (kind,
    window) in one run of rows that queries find by min/max."""
    removed, rows, removed_now, rows_now = cur.execute(
        "SELECT count(*) FILTER (WHERE n < 0), count(*), count(*) FILTER (WHERE n < 0 AND win >= ?), "
        "count(*) FILTER (WHERE win >= ?) FROM reach_firsts WHERE site_id = ?", [win, win, site_id]).fetchall()[0]  # fmt: skip
    params: list[Any]
    if removed and removed >= COMPACT_RATIO * rows:
        where, params = "site_id = ?", [site_id]
    elif removed_now and removed_now >= CURRENT_COMPACT_RATIO * rows_now:
        where, params = "site_id = ? AND win >= ?", [site_id, win]
    else:
        return
    cur.execute("CREATE OR REPLACE TEMP TABLE _rf AS SELECT site_id, kind, win, value, d, prev, sum(n)::BIGINT AS n "
                f"FROM reach_firsts WHERE {where} GROUP BY ALL HAVING sum(n) <> 0", params)  # fmt: skip
    cur.execute(f"DELETE FROM reach_firsts WHERE {where}", params)
    cur.execute("INSERT INTO reach_firsts SELECT * FROM _rf ORDER BY kind, win, d, value")
    cur.execute("DROP TABLE _rf")


def resort(cur_factory: Any, site_id: str, win: int, kinds: Iterable[str], appended: int,
           should_stop: Callable[[], bool] = lambda: False,
           checkpoint: Callable[[], None] = lambda: None) -> bool:  # fmt: skip
    """Re-sort the site's current windows of ``reach`` (``win`` and the next, if built) when
    ``appended`` (rows seals added since the last build or re-sort) makes it worth it;
    True if it did. One transaction per
    kind and window, as a build writes them, so no step holds a large table in memory and
    every query sees each piece either before or after its re-sort."""
    if appended < RESORT_MIN_ROWS:
        return False
    with cur_factory() as cur:
        rows = cur.execute("SELECT count(*) FROM reach WHERE site_id = ? AND win >= ?", [site_id, win]).fetchall()[0][0]  # fmt: skip
    if appended < RESORT_RATIO * rows:
        return False
    # The seals' changes not yet checkpointed stay in DuckDB's memory: after a seal of 85k
    # events at 10M (448 MiB), the first step's sort ran out of it; checkpointed first, the
    # same steps fit.
    checkpoint()
    for kind in kinds:
        for w in (win, win + 1):
            if should_stop():  # closing: the pieces done are sorted, the count stays due
                return False
            key = [site_id, kind, w]
            with cur_factory() as cur:
                where = "site_id = ? AND kind = ? AND win = ?"
                # The sorted copy is appended and the old rows deleted by row id (stable
                # within the transaction), not copied into a temp table first: a temp
                # table of a 10M site's pages window and its sort ran out of 448 MiB.
                last = cur.execute("SELECT max(rowid) FROM reach").fetchall()[0][0]
                cur.execute(f"INSERT INTO reach SELECT * FROM reach WHERE {where} ORDER BY {REACH_ORDER}", key)  # fmt: skip
                cur.execute(f"DELETE FROM reach WHERE {where} AND rowid <= ?", [*key, last])
    with cur_factory() as cur:
        cur.execute("UPDATE rollup_state SET sealed_rows = 0 WHERE site_id = ?", [site_id])
    return True


def number_visitors(cur: duckdb.DuckDBPyConnection, site_id: str, source: str,
                    params: list[Any]) -> None:  # fmt: skip
    """Give the visitors of ``source`` (rows of visitor_id and ``first``, when it was first
    seen) that have no number yet the site's next numbers, in order of ``first``: visitors
    of the same days get nearby numbers, which keeps a row group's range of them small.
    A left join, whose hash table DuckDB builds on the smaller side: ``NOT IN`` and ``NOT
    EXISTS`` made it hash every numbered visitor to look up a seal's few, 0.35-0.6 of a
    10-minute seal's 1.2-1.4 CPU s at 8M numbered visitors (0.03 this way)."""
    cur.execute("INSERT INTO visitor_numbers SELECT ?, s.visitor_id, (coalesce((SELECT max(vno) FROM visitor_numbers WHERE site_id = ?), 0) "
                f"+ row_number() OVER (ORDER BY s.first, s.visitor_id))::UINTEGER FROM ({source}) s "
                "LEFT JOIN (SELECT visitor_id FROM visitor_numbers WHERE site_id = ?) n ON n.visitor_id = s.visitor_id "
                "WHERE n.visitor_id IS NULL",
                [site_id, site_id, *params, site_id])  # fmt: skip


def upgrade_layout(con: duckdb.DuckDBPyConnection) -> None:
    """Before the schema is applied: a ``reach`` table of the layout that held the 64-bit
    visitor ids goes, and every site is built again (the rollups job does it; queries use
    raw events meanwhile)."""
    old = con.execute("SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
                      "AND table_name = 'reach' AND column_name = 'visitor_id'").fetchall()[0][0]  # fmt: skip
    if old:
        con.execute("DROP TABLE reach")
        con.execute("DELETE FROM rollup_state")


def drop(cur: duckdb.DuckDBPyConnection, site_id: str) -> None:
    for table in (*BUILT_TABLES, "rollup_pending"):
        cur.execute(f"DELETE FROM {table} WHERE site_id = ?", [site_id])
