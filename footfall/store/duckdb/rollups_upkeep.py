# ruff: noqa: E501  (SQL reads better unwrapped)
"""Upkeep of built rollups on DuckDB: the steps a build runs (retried when DuckDB runs
out of memory), visitor numbers, and dropping a site's rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

log = logging.getLogger("footfall.jobs")

# The tables a build fills for a site (drop() clears these and the site's pending rows).
BUILT_TABLES = ("rollup_state", "day_bitmaps", "day_firsts", "daily", "visit_daily", "visitor_numbers")
# A build step that runs out of DuckDB's memory waits and runs again, this many times:
# while a first build runs, the dashboard's queries read raw events under the same memory
# limit; at 10M events a build step failed at 512 MiB and the whole build, 12 minutes
# in, started over at the next run. Only the step's own transaction is lost here.
STEP_RETRIES = 4
STEP_RETRY_WAIT = 5.0


Step = Sequence[tuple[str, list[Any]]] | Callable[[duckdb.DuckDBPyConnection], object]


def run_step(cur_factory: Any, step: Step, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Run ``step`` (statements, or a function of a cursor) in one transaction of
    ``cur_factory``; again after a wait (up to STEP_RETRIES times) when DuckDB runs out of
    memory."""
    for attempt in range(STEP_RETRIES + 1):
        try:
            with cur_factory() as cur:
                if callable(step):
                    step(cur)
                else:
                    for sql, params in step:
                        cur.execute(sql, params)
            return
        except duckdb.OutOfMemoryException as exc:
            if attempt == STEP_RETRIES or should_stop():
                raise
            log.warning("rollups build step out of memory, trying again: %s", str(exc)[:120])
            time.sleep(STEP_RETRY_WAIT * (attempt + 1))


def number_visitors(cur: duckdb.DuckDBPyConnection, site_id: str, source: str,
                    params: list[Any]) -> None:  # fmt: skip
    """Give the visitors of ``source`` (rows of visitor_id and ``first``, when it was first
    seen) that have no number yet the site's next numbers, in order of ``first``: visitors
    of the same days get nearby numbers, which a day's bitmap stores as runs."""
    cur.execute("INSERT INTO visitor_numbers SELECT ?, visitor_id, (coalesce((SELECT max(vno) FROM visitor_numbers WHERE site_id = ?), 0) "
                f"+ row_number() OVER (ORDER BY first, visitor_id))::UINTEGER FROM ({source}) "
                "WHERE visitor_id NOT IN (SELECT visitor_id FROM visitor_numbers WHERE site_id = ?)",
                [site_id, site_id, *params, site_id])  # fmt: skip


def drop(cur: duckdb.DuckDBPyConnection, site_id: str) -> None:
    for table in (*BUILT_TABLES, "rollup_pending"):
        cur.execute(f"DELETE FROM {table} WHERE site_id = ?", [site_id])
