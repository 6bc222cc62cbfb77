# ruff: noqa: E501  (SQL reads better unwrapped)
"""A site's first (or repeated) build of the exact rollups from all its raw events.

rollups.py describes the tables; this module fills them for one site, one step per
transaction (a kind and a 64-day window of ``reach``, or a 32-day block of the day sums),
and a step over many events in parts, so that each statement's aggregate stays within
DuckDB's memory limit whatever the site's size. The state row is written last: queries
read the rollups only once a build is complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from footfall.store.base import RollupSpec
from footfall.store.duckdb.rollups import (
    Interrupted,
    _daily_counts,
    _daily_join,
    _day_number,
    _kinds_columns,
    _local_day,
    _midnight,
    _visit_select,
    _visits_source,
)
from footfall.store.duckdb.rollups_upkeep import (
    BUILT_TABLES,
    firsts_select,
    number_visitors,
    patterns,
    run_step,
)

# A build step reads at most about this many events, in parts beyond it: at 100M events
# (70M in a 64-day window) one (kind, window) of `reach` ran out of the default memory
# limit (448 MiB) in every retry, and the site stayed on raw events.
STEP_EVENTS = 12_000_000
# A kind's SQL that is a stored column (query/rollup.py ``kinds``: NULL read as ''). Any
# other SQL is grouped by its text (_reach_rows): the same rows, so a kind this misreads
# costs speed, never an answer.
_COLUMN = re.compile(r"coalesce\(\w+, ''\)")


def _events_source(dn: str, kinds: Mapping[str, str], where: str) -> str:
    """Events (visitor_id, dn, name, and the kinds' columns v0, v1, ...) of a site and time
    span (three parameters), on the local days ``where`` names."""
    return (f"(SELECT * FROM (SELECT visitor_id, {dn} AS dn, name, {_kinds_columns(kinds)} "
            f"FROM events WHERE site_id = ? AND ts >= ? AND ts < ?) WHERE {where})")  # fmt: skip


def _reach_rows(dn: str, p_dn: list[Any], expr: str, w: int, span: int, who: str,
                span_params: list[Any]) -> tuple[str, list[Any]]:  # fmt: skip
    """(value, visitor_id, days) of one kind's window ``w``, and its parameters: each
    visitor's days with the value, from the events of a site and time span
    (``span_params``: site, from, to) on the window's local days (``dn``, ``p_dn``). A
    stored column's values are grouped by a number per value (a join with the span's
    distinct values), not the string, leaving the constant kind and window out: over the
    footprint bench's 10M events (9.8M pairs of page and visitor) the step's select took
    2.5 CPU s, against 3.9 grouped by the string and 6.4 by (kind, window, string). A
    computed value (the channel's CASE) would be computed twice that way, and is grouped
    by its text. The join drops NULL values: a kind's SQL gives '' for none
    (query/rollup.py ``kinds``)."""
    events = (f"(SELECT visitor_id, {dn} AS dn, CAST({expr} AS VARCHAR) AS value "
              f"FROM events WHERE site_id = ? AND ts >= ? AND ts < ?{who})")  # fmt: skip
    days = f"bit_or((1::UBIGINT) << (e.dn - {32 * w})::UBIGINT) AS days"
    in_window = f"e.dn >= {32 * w} AND e.dn < {32 * w + span}"
    if not _COLUMN.fullmatch(expr):
        return (f"SELECT e.value, e.visitor_id, {days} FROM {events} e WHERE {in_window} GROUP BY e.value, e.visitor_id",
                [*p_dn, *span_params])  # fmt: skip
    ids = (f"(SELECT value, (row_number() OVER ())::INTEGER AS id FROM (SELECT DISTINCT CAST({expr} AS VARCHAR) AS value "
           "FROM events WHERE site_id = ? AND ts >= ? AND ts < ?))")  # fmt: skip
    return (f"WITH ids AS MATERIALIZED {ids} "
            f"SELECT ids.value, g.visitor_id, g.days FROM (SELECT ids.id, e.visitor_id, {days} "
            f"FROM {events} e JOIN ids ON ids.value = e.value WHERE {in_window} "
            "GROUP BY ids.id, e.visitor_id) g JOIN ids ON ids.id = g.id",
            [*span_params, *p_dn, *span_params])  # fmt: skip


def _daily_from_reach(kinds: Mapping[str, str], src: str, w: int, a: int, b: int) -> str:
    """``daily`` rows of local days [a, b), every kind's: the additive sums from the
    ``src`` events (three parameters), the distinct visitors counted off the
    ``reach_firsts`` rows of window ``w`` just built, one that holds those days (two more:
    site, window): a reach row with bit d has one (d, prev) pair there. All kinds in one
    statement: a kind per statement read the block's events and computed their local day
    ten times (the day sums were 7.3 of a 10M build's 33.5 s).
    A distinct count over the raw events was 2.5 of a 1M build's 14 CPU seconds; with the
    window's reach rows grouped by (value, days) instead, the day sums of a 10M build took
    13.5 of its 86, with reach_firsts 11.5 (bench/query.py's 28-day store). A visitor not numbered
    yet (first seen during the build) has no reach rows: its events are pending, so
    queries read those days raw and the seal after the build counts it."""
    seen = (f"SELECT kind, DATE '1970-01-01' + ({32 * w} + d)::INTEGER AS day, value, sum(n)::BIGINT AS visitors "
            f"FROM reach_firsts WHERE site_id = ? AND win = ? AND d >= {a - 32 * w} AND d < {b - 32 * w} "
            "GROUP BY ALL")  # fmt: skip
    return _daily_join(_daily_counts(kinds, src), seen)


def _parts(per_day: Mapping[date, int], lo: datetime, hi: datetime) -> int:
    """In how many parts a build step over the events of [lo, hi) runs (``per_day``: the
    site's events per UTC day; the edge days count whole, an estimate is enough)."""
    n = sum(count for day, count in per_day.items() if lo.date() <= day <= hi.date())
    return max(1, min(32, -(-n // STEP_EVENTS)))


def build(cur_factory: Any, site_id: str, timezone: str, spec: RollupSpec,
          should_stop: Callable[[], bool] = lambda: False) -> None:  # fmt: skip
    """(Re)build one site's rollups from all its raw events, a kind and a window (or a
    32-day block, for ``daily``) per transaction: each step's aggregate stays small, the
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
        per_day: dict[date, int] = {}
        blocks: set[int] = set()
        if lo is not None:
            dn, params = _day_number(spec, "ts", zone, lo, hi)
            for d, b, n in cur.execute(f"SELECT ts::DATE, ({dn}) // 32, count(*) FROM events WHERE site_id = ? GROUP BY ALL",
                                       [*params, site_id]).fetchall():  # fmt: skip
                per_day[d] = per_day.get(d, 0) + n
                blocks.add(int(b))
    if lo is not None:
        dn_start, p_start = _day_number(spec, "start_ts", zone, lo, hi)
        first, last = _local_day(lo, zone), _local_day(hi, zone)
        # A day's two windows start in its block and the one before; the one starting in
        # a block is built only when the block after it has events (rollups_upkeep.open_windows).
        wins = sorted({b - 1 for b in blocks})
        steps = [("reach", kind, w) for w in wins for kind in kinds]
        steps += [("daily", "", b) for b in range(first // 32, last // 32 + 1)]
        steps += [("visit_daily", "", b) for b in range(first // 32, last // 32 + 1)]
        for table, kind, w in steps:
            if should_stop():
                raise Interrupted(site_id)
            span = 64 if table == "reach" else 32
            t_lo = _midnight(32 * w, zone) - timedelta(hours=1)
            t_hi = _midnight(32 * w + span, zone) + timedelta(hours=1)
            parts = _parts(per_day, t_lo, t_hi)
            if table == "reach":
                # Visitors first seen after the numbering above are pending: the seal
                # after this build adds them. A part takes the visitors of one hash
                # bucket: a visitor's rows are whole in one part. Not sorted by
                # REACH_ORDER here: the sort was a third of a step's CPU (a 10M build 36 s
                # against 31), and the compaction after a bulk load, or the re-sort after
                # the seals, puts each (kind, window) in that order.
                for p in range(parts):
                    who = f" AND hash(visitor_id) % {parts} = {p}" if parts > 1 else ""
                    rows_sql, p_rows = _reach_rows(
                        dn, params, kinds[kind], w, span, who, [site_id, t_lo, t_hi]
                    )
                    run_step(cur_factory, [
                        (f"INSERT INTO reach SELECT ?, ?, {w}, r.value, n.vno, r.days FROM ({rows_sql}) r "
                         f"JOIN visitor_numbers n ON n.site_id = ? AND n.visitor_id = r.visitor_id",
                         [site_id, kind, *p_rows, site_id]),
                    ], should_stop)  # fmt: skip
                rows = "(SELECT * FROM reach WHERE site_id = ? AND kind = ? AND win = ?)"
                run_step(cur_factory, [
                    (f"INSERT INTO reach_firsts SELECT ?, * FROM ({firsts_select(patterns(rows))}) ORDER BY d, value",
                     [site_id, site_id, kind, w]),
                ], should_stop)  # fmt: skip
                continue
            # Day sums of a 32-day block: a part takes a run of whole days.
            step = -(-32 // parts)
            for a in range(32 * w, 32 * w + 32, step):
                b = min(a + step, 32 * w + 32)
                p_lo = _midnight(a, zone) - timedelta(hours=1)
                p_hi = _midnight(b, zone) + timedelta(hours=1)
                if table == "visit_daily":
                    visits = _visits_source(dn_start, spec.visit_kinds, f"dn >= {a} AND dn < {b}")
                    run_step(cur_factory, [(f"INSERT INTO visit_daily SELECT ?, * FROM ({_visit_select(spec.visit_kinds, visits, spec.visit_sums)})",
                                            [site_id, *p_start, site_id, p_lo, p_hi])], should_stop)  # fmt: skip
                else:
                    src = _events_source(dn, kinds, f"dn >= {a} AND dn < {b}")
                    held = w if w in wins else w - 1  # a window that holds the block's days
                    run_step(cur_factory, [(f"INSERT INTO daily SELECT ?, * FROM ({_daily_from_reach(kinds, src, held, a, b)})",
                                            [site_id, *params, site_id, p_lo, p_hi, site_id, held])], should_stop)  # fmt: skip
    with cur_factory() as cur:
        cur.execute("INSERT OR REPLACE INTO rollup_state (site_id, timezone, built_at, version) VALUES (?, ?, ?, ?)",
                    [site_id, timezone, datetime.now(UTC).replace(tzinfo=None), spec.version])  # fmt: skip
