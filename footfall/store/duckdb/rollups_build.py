# ruff: noqa: E501  (SQL reads better unwrapped)
"""A site's first (or repeated) build of the exact rollups from all its raw events.

rollups.py describes the tables; this module fills them for one site, one step per
transaction (a kind's bitmaps, then their firsts, over a run of days, or a 32-day block
of the day sums), each
step over at most about STEP_EVENTS events, so that each statement's aggregate stays within
DuckDB's memory limit whatever the site's size. The state row is written last: queries
read the rollups only once a build is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from footfall.store.base import RollupSpec
from footfall.store.duckdb import firsts
from footfall.store.duckdb.bitmaps import bitmaps_of, write
from footfall.store.duckdb.rollups import (
    Interrupted,
    _bitmap_rows,
    _daily_counts,
    _daily_join,
    _day_number,
    _kinds_list,
    _local_day,
    _midnight,
    _seen,
    _visit_select,
    _visits_source,
)
from footfall.store.duckdb.rollups_upkeep import BUILT_TABLES, number_visitors, run_step

# A bitmaps step reads at most about this many events (a run of whole days; a day with
# more is a step of its own): each kind's values of them are grouped in one statement,
# every group's visitor numbers a list in DuckDB's memory.
STEP_EVENTS = 4_000_000


def _events_source(dn: str, kinds: Mapping[str, str], where: str) -> str:
    """Events (visitor_id, dn, name, kvs) of a site and time span (three parameters), on the
    local days ``where`` names."""
    return (f"(SELECT * FROM (SELECT visitor_id, {dn} AS dn, name, {_kinds_list(kinds)} AS kvs "
            f"FROM events WHERE site_id = ? AND ts >= ? AND ts < ?) WHERE {where})")  # fmt: skip


def _runs(per_day: Mapping[int, int]) -> list[tuple[int, int]]:
    """Runs [a, b) of the local days in ``per_day`` (day -> events), each of at most
    STEP_EVENTS events unless a single day has more."""
    limit = STEP_EVENTS
    out: list[tuple[int, int]] = []
    total = 0
    for day in sorted(per_day):
        if out and out[-1][1] == day and total + per_day[day] <= limit:
            out[-1] = (out[-1][0], day + 1)
            total += per_day[day]
        else:
            out.append((day, day + 1))
            total = per_day[day]
    return out


def build(cur_factory: Any, site_id: str, timezone: str, spec: RollupSpec,
          should_stop: Callable[[], bool] = lambda: False) -> None:  # fmt: skip
    """(Re)build one site's rollups from all its raw events, a kind and a run of days (or a
    32-day block, for the sums) per transaction: each step's aggregate stays small, the
    writer's checkpoints go on between steps, and closing the store stops it. The site's
    state row is written last, so queries use the rollups only once they are complete;
    events written meanwhile are listed in ``rollup_pending`` and sealed afterwards."""
    zone, kinds = ZoneInfo(timezone), spec.kinds
    with cur_factory() as cur:
        for table in BUILT_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE site_id = ?", [site_id])
        # Every pending row visible now has its events committed, so the steps below (later
        # transactions) read them: sealing those visitors again afterwards would redo it.
        cur.execute("DELETE FROM rollup_pending WHERE site_id = ?", [site_id])
        lo, hi = cur.execute(
            "SELECT min(ts), max(ts) FROM events WHERE site_id = ?", [site_id]
        ).fetchall()[0]
        number_visitors(cur, site_id, "SELECT visitor_id, min(ts) AS first FROM events "
                        "WHERE site_id = ? GROUP BY visitor_id", [site_id])  # fmt: skip
        per_day: dict[int, int] = {}
        if lo is not None:
            dn, params = _day_number(spec, "ts", zone, lo, hi)
            rows = cur.execute(f"SELECT {dn}, count(*) FROM events WHERE site_id = ? GROUP BY ALL",
                               [*params, site_id]).fetchall()  # fmt: skip
            per_day = {int(d): int(n) for d, n in rows}
    if lo is not None:
        dn_start, p_start = _day_number(spec, "start_ts", zone, lo, hi)
        first, last = _local_day(lo, zone), _local_day(hi, zone)
        runs = _runs(per_day)
        steps: list[tuple[str, str, int, int]] = [("bitmaps", kind, a, b) for a, b in runs for kind in kinds]
        steps += [("firsts", kind, a, b) for a, b in runs for kind in kinds]
        blocks = [(32 * w, 32 * w + 32) for w in range(first // 32, last // 32 + 1)]
        steps += [("daily", kind, a, b) for a, b in blocks for kind in kinds]
        steps += [("visit_daily", "", a, b) for a, b in blocks]
        for table, kind, a, b in steps:
            if should_stop():
                raise Interrupted(site_id)
            # A local day starts and ends within an hour of midnight's UTC instant either side.
            t_lo, t_hi = _midnight(a, zone) - timedelta(hours=1), _midnight(b, zone) + timedelta(hours=1)
            if table == "bitmaps":
                # Visitors first seen after the numbering above are pending: the seal
                # after this build adds them (the join drops their events here).
                src = _events_source(dn, {kind: kinds[kind]}, f"dn >= {a} AND dn < {b}")
                numbered = f"(SELECT n.vno, x.dn, x.kvs FROM {src} x JOIN visitor_numbers n ON n.site_id = ? AND n.visitor_id = x.visitor_id)"
                sql, p = _bitmap_rows("kvs", numbered), [*params, site_id, t_lo, t_hi, site_id]

                def step(cur: duckdb.DuckDBPyConnection, sql: str = sql, p: list[Any] = p) -> None:
                    write(cur, site_id, bitmaps_of(cur, sql, p))

                run_step(cur_factory, step, should_stop)
            elif table == "firsts":

                def counts(cur: duckdb.DuckDBPyConnection, kind: str = kind, a: int = a, b: int = b) -> None:
                    firsts.build_days(cur, site_id, kind, a, b)

                run_step(cur_factory, counts, should_stop)
            elif table == "visit_daily":
                visits = _visits_source(dn_start, spec.visit_kinds, f"dn >= {a} AND dn < {b}")
                run_step(cur_factory, [(f"INSERT INTO visit_daily SELECT ?, * FROM ({_visit_select('kvs', visits, spec.visit_sums)})",
                                        [site_id, *p_start, site_id, t_lo, t_hi])], should_stop)  # fmt: skip
            else:
                src = _events_source(dn, {kind: kinds[kind]}, f"dn >= {a} AND dn < {b}")
                seen = _seen(f"kind = ? AND day >= {a} AND day < {b}")
                run_step(cur_factory, [(f"INSERT INTO daily SELECT ?, * FROM ({_daily_join(_daily_counts('kvs', src), seen)})",
                                        [site_id, *params, site_id, t_lo, t_hi, site_id, kind])], should_stop)  # fmt: skip
    with cur_factory() as cur:
        cur.execute("INSERT OR REPLACE INTO rollup_state (site_id, timezone, built_at, version) VALUES (?, ?, ?, ?)",
                    [site_id, timezone, datetime.now(UTC).replace(tzinfo=None), spec.version])  # fmt: skip
