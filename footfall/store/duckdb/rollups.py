# ruff: noqa: E501  (SQL reads better unwrapped)
"""Exact rollups on DuckDB: building and sealing the ``reach`` and ``daily`` tables.

``visitors`` is a distinct count, so per-day counts do not add up over a range; scanning a
month of raw events for every dashboard panel is what made the dashboard slow. Two tables
keep the answers exact (schema/duckdb.sql):

reach(site_id, kind, win, value, vno, days)
    one row per (kind, 64-day window, value, visitor); bit i of ``days`` says the visitor
    had an event with that value on site-local day 32*win + i. Every day lies in two
    windows, so a range of up to 33 days is a filtered ``count(*)`` of one window's rows.
    The window starting in a block is built only once the next block has events (while
    it would hold the same rows as the window before, which holds the block in bits
    32-63 and answers every range it would): the current data is kept once, not twice
    (``rollups_upkeep.open_windows``; readers take the window before, ``query/rollup_pending.window_of``).
    A build writes each (kind, window) as one run of rows; the compaction after a bulk
    load and the re-sort after seals order it by ``days`` (see rollups_upkeep.py). A visitor
    is named by its number in ``visitor_numbers`` (given at its first build or seal).
reach_firsts(site_id, kind, win, value, d, prev, n)
    how many ``reach`` rows have bit ``d`` set with ``prev`` their previous set bit (-1:
    none). A row has a day in the range [a, b] exactly when one of its bits has
    a <= d <= b and prev < a (its first day in the range), so a range's visitors per
    value are one filtered sum of far fewer rows (a window of 10M events: 13M reach rows,
    ~300k of these; 3,100 for devices). A seal appends the net change of the rows it
    rewrites (n < 0 where a count went down); ``compact`` sums them.
daily(site_id, kind, day, value, visitors, pageviews, events)
    per site-local day: distinct visitors and the additive counts.
visit_daily(site_id, kind, day, value, visits, bounces, duration_ms)
    per site-local day of a visit's start, for the site total and the visit dimensions:
    the additive visit sums, from the ``sessions`` table.

``kind`` is a dimension name ('' for the site total); the caller passes each kind's SQL
expression on ``events`` and ``sessions`` and the visit sums' aggregates (a ``RollupSpec``
from footfall/query/rollup.py), so the meaning of a value is the query layer's, defined
once.

The writer lists every visitor whose events it added or re-stamped in ``rollup_pending``
(with the time span touched). Queries answer the days those rows touch from raw events,
so results are exact at every moment; ``seal`` recomputes those visitors' bits on those
days and those days' sums from raw events (and visits starting on them), rewrites only
the ``reach`` rows whose bits changed, and removes the pending rows it folded in.
Recomputing (rather than adding) makes a seal idempotent and correct for late events,
merged visits and re-stamped attributes alike. A site is built in full once (rollups_build.py; again when its time zone
changes); rollups are kept when retention deletes raw events (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from footfall.store.base import RollupSpec
from footfall.store.duckdb.rollups_upkeep import (
    day_window,
    firsts_delta,
    number_visitors,
    open_windows,
)

FULL = (1 << 64) - 1
EPOCH = date(1970, 1, 1)


def _day_number(
    spec: RollupSpec, column: str, zone: ZoneInfo, lo: datetime, hi: datetime
) -> tuple[str, list[Any]]:
    """The site-local day number of a naive-UTC ``column`` with values in [lo, hi]."""
    return spec.day_number(column, zone, lo - timedelta(days=2), hi + timedelta(days=2))


def _reach_select(kind: str, source: str, win: str, who: str = "visitor_id") -> str:
    """(kind, win, value, ``who``, days) of one kind from ``source`` rows (``who``, dn, and
    the kind's value as ``v0``: :func:`_kinds_columns`); ``win`` is the SQL of a row's
    window(s)."""
    quoted = kind.replace("'", "''")
    return f"""
        SELECT '{quoted}' AS kind, win, value, {who}, bit_or((1::UBIGINT) << (dn - 32 * win)::UBIGINT) AS days
        FROM (SELECT v0 AS value, {who}, dn, {win} AS win FROM {source})
        GROUP BY win, value, {who}"""


def _kinds_columns(kinds: Mapping[str, str]) -> str:
    """Each kind's value as a column ``v0``, ``v1``, ... in the order of ``kinds``, for
    :func:`_by_kind`."""
    return ", ".join(f"CAST({expr} AS VARCHAR) AS v{i}" for i, expr in enumerate(kinds.values()))


def _by_kind(kinds: Mapping[str, str], aggs: str, source: str) -> str:
    """(kind, day, value, *``aggs``) of ``source`` rows (``dn`` and the kinds' columns of
    :func:`_kinds_columns`): one grouping set per kind over one scan. Unnesting a list of
    (kind, value) structs into a row per kind took 2.2-2.6x the CPU (a 32-day block of
    10M events: 7.1-8.0 against 3.1-3.9 CPU s, the same rows)."""
    names = [k.replace("'", "''") for k in kinds]
    kind = " ".join(f"WHEN grouping(v{i}) = 0 THEN '{k}'" for i, k in enumerate(names))
    value = " ".join(f"WHEN grouping(v{i}) = 0 THEN v{i}" for i in range(len(names)))
    sets = ", ".join(f"(dn, v{i})" for i in range(len(names)))
    return (f"SELECT CASE {kind} END AS kind, DATE '1970-01-01' + dn AS day, CASE {value} END AS value, {aggs} "
            f"FROM {source} GROUP BY GROUPING SETS ({sets})")  # fmt: skip


def _daily_counts(kinds: Mapping[str, str], source: str) -> str:
    """(kind, day, value, pageviews, events) of ``source`` events (``dn``, ``name`` and the
    kinds' columns): the additive day sums. Their distinct visitors come from the ``reach``
    side (:func:`_daily_join`): a distinct count over a day's raw events per value held
    every value's visitor set in DuckDB's memory, and a seal of one day at 10M events ran
    out of 448 MiB in it."""
    return _by_kind(kinds, "count(*) FILTER (WHERE name = 'pageview') AS pageviews, "
                    "count(*) FILTER (WHERE name <> 'engagement') AS events", source)  # fmt: skip


def _daily_join(counts: str, seen: str) -> str:
    """``daily`` rows: the day sums ``counts`` with the visitors of ``seen`` (kind, day,
    value, visitors)."""
    return (f"SELECT c.kind, c.day, c.value, coalesce(v.visitors, 0), c.pageviews, c.events FROM ({counts}) c "
            f"LEFT JOIN ({seen}) v ON v.kind = c.kind AND v.day = c.day AND v.value IS NOT DISTINCT FROM c.value")  # fmt: skip


def _visit_select(kinds: Mapping[str, str], source: str, sums: Mapping[str, str]) -> str:
    """(kind, day, value, *sums) of ``source`` visits (:func:`_visits_source`: ``dn``, their
    start day, and the kinds' columns)."""
    return _by_kind(kinds, ", ".join(f"{sql} AS {alias}" for alias, sql in sums.items()), source)


def _visits_source(dn: str, kinds: Mapping[str, str], where: str) -> str:
    """Sessions with their start day (``dn``) and their kinds' values, for _visit_select."""
    return (f"(SELECT * FROM (SELECT *, {dn} AS dn, {_kinds_columns(kinds)} FROM sessions "
            f"WHERE site_id = ? AND start_ts >= ? AND start_ts < ?) WHERE {where})")  # fmt: skip


class Interrupted(Exception):
    """The store is closing: a build stops between two of its steps."""


def _local_day(at: datetime, zone: ZoneInfo) -> int:
    return (at.replace(tzinfo=UTC).astimezone(zone).date() - EPOCH).days


def current_window(timezone: str) -> int:
    """The earlier of the two 64-day windows that hold the site's local today (the one a
    range ending today starts in when it reaches back more than a few days)."""
    return _local_day(datetime.now(UTC), ZoneInfo(timezone)) // 32 - 1


def _midnight(day: int, zone: ZoneInfo) -> datetime:
    local = datetime.combine(EPOCH + timedelta(days=day), datetime.min.time(), zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def _seal_reach(cur: duckdb.DuckDBPyConnection, site_id: str, kind: str, ev: str, p_ev: list[Any],
                wins: tuple[int, int], built: set[int]) -> int:  # fmt: skip
    """The seal's ``reach`` rows of one kind: the pending visitors (``_rp``) recomputed from
    ``ev``, their raw events on the touched days (``p_ev`` its parameters); returns how
    many rows it appended."""
    w_lo, w_hi = wins
    # reach: the pending visitors' bits outside their touched days, plus recomputed bits.
    span_mask = (
        "CASE WHEN greatest(p.lo_day - 32 * r.win, 0) > least(p.hi_day - 32 * r.win, 63) THEN 0::UBIGINT "
        "WHEN least(p.hi_day - 32 * r.win, 63) - greatest(p.lo_day - 32 * r.win, 0) >= 63 "
        f"THEN {FULL}::UBIGINT "
        "ELSE (((1::UBIGINT) << (least(p.hi_day - 32 * r.win, 63) - greatest(p.lo_day - 32 * r.win, 0) + 1)::UBIGINT) - 1) "
        "<< greatest(p.lo_day - 32 * r.win, 0)::UBIGINT END"
    )
    # The visitors' rows in the touched windows, and their bits on the touched days
    # recomputed from raw events: a row's new bits are its old ones outside its visitor's
    # touched days plus the fresh ones. Only the rows that change are deleted and written
    # again, so a fold costs what the new events change, not every row of each visitor it
    # touches (a load in time order sets one later bit in a few of a visitor's rows).
    # Copied into a temp table, not returned to Python: the first seal after a bulk load
    # would bring most of the table outside DuckDB's memory limit.
    fresh = (f"(SELECT p.vno, x.dn, x.v0 FROM {ev} x "
             "JOIN _rp p ON x.visitor_id = p.visitor_id WHERE x.dn BETWEEN p.lo_day AND p.hi_day)")  # fmt: skip
    # A day's window that starts in its block only where built (open_windows).
    listed = ", ".join(str(w) for w in sorted(built))
    win = f"unnest(CASE WHEN dn // 32 IN ({listed}) THEN [dn // 32, dn // 32 - 1] ELSE [dn // 32 - 1] END)"
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _fresh AS {_reach_select(kind, fresh, win, who='vno')}", p_ev
    )
    # The visitors' old rows, by one scan of the kind's rows in the touched windows joined
    # on the visitor (streamed through the join with the fresh rows, not copied), each
    # with its row id for the delete below. Those that change are the ones with a fresh
    # row's key (which may gain bits) and those with a bit on their visitor's touched days
    # (which may lose it). Two scans for those two kinds of rows and a third for the
    # delete by key were half of a seal's CPU at 10M events.
    old_rows = ("(SELECT r.rowid AS rid, r.kind, r.win, r.value, r.vno, r.days FROM reach r SEMI JOIN _rp p ON r.vno = p.vno "
                "WHERE r.site_id = ? AND r.kind = ? AND r.win BETWEEN ? AND ?)")  # fmt: skip
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _chg AS SELECT * FROM ("
        "SELECT r.kind, r.win, r.value, r.vno, r.rid, r.old_days, "
        f"(coalesce(r.old_days, 0::UBIGINT) & ~({span_mask})) | coalesce(r.fresh_days, 0::UBIGINT) AS new_days "
        "FROM (SELECT coalesce(o.kind, f.kind) AS kind, coalesce(o.win, f.win) AS win, "
        "CASE WHEN o.vno IS NULL THEN f.value ELSE o.value END AS value, coalesce(o.vno, f.vno) AS vno, "
        f"o.rid, o.days AS old_days, f.days AS fresh_days FROM {old_rows} o FULL JOIN _fresh f "
        "ON o.vno = f.vno AND o.kind = f.kind AND o.win = f.win AND o.value IS NOT DISTINCT FROM f.value) r "
        "JOIN _rp p ON p.vno = r.vno) WHERE new_days IS DISTINCT FROM old_days",
        [site_id, kind, w_lo, w_hi],
    )
    cur.execute("DROP TABLE _fresh")
    cur.execute("DELETE FROM reach WHERE rowid IN (SELECT rid FROM _chg WHERE rid IS NOT NULL)")
    # By window (this is one kind's), so each query finds its rows in the appended tail by
    # min/max; not by days within them too (half the insert's CPU on that fold): the
    # re-sort does that.
    appended = int(cur.execute(
        "INSERT INTO reach SELECT ?, kind, win, value, vno, new_days FROM _chg WHERE new_days <> 0 ORDER BY win",
        [site_id]).fetchall()[0][0])  # fmt: skip
    cur.execute(f"INSERT INTO reach_firsts SELECT ?, * FROM ({firsts_delta('_chg')})", [site_id])
    cur.execute("DROP TABLE _chg")
    return appended


def seal_site(cur: duckdb.DuckDBPyConnection, site_id: str, timezone: str, spec: RollupSpec,
              upto: int) -> tuple[int, int]:  # fmt: skip
    """Fold one site's pending visitors (rows with ``seq <= upto``) into its rollups;
    returns how many visitors, and how many ``reach`` rows it appended."""
    zone, kinds = ZoneInfo(timezone), spec.kinds
    span = cur.execute(
        "SELECT min(lo), max(hi), count(DISTINCT visitor_id) FROM rollup_pending WHERE site_id = ? AND seq <= ?",
        [site_id, upto],
    ).fetchall()[0]
    if span[0] is None:
        return 0, 0
    lo, hi = span[0], span[1]
    dn_lo, p_lo = _day_number(spec, "lo", zone, lo, hi)
    dn_hi, p_hi = _day_number(spec, "hi", zone, lo, hi)
    pending = "FROM rollup_pending WHERE site_id = ? AND seq <= ? GROUP BY visitor_id"
    number_visitors(cur, site_id, f"SELECT visitor_id, min(lo) AS first {pending}", [site_id, upto])
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _rp AS SELECT p.*, n.vno FROM (SELECT visitor_id, min({dn_lo}) AS lo_day, "
        f"max({dn_hi}) AS hi_day {pending}) p JOIN visitor_numbers n ON n.site_id = ? AND n.visitor_id = p.visitor_id",
        [*p_lo, *p_hi, site_id, upto, site_id],
    )
    w_lo, w_hi, d_lo, d_hi = cur.execute(
        "SELECT min(lo_day) // 32 - 1, max(hi_day) // 32, min(lo_day), max(hi_day) FROM _rp"
    ).fetchall()[0]
    # Every block a visitor's touched span reaches needs the window before it (its days'
    # lower window); the one starting at the block is written only if already built.
    blocks = cur.execute(
        "SELECT DISTINCT unnest(range(lo_day // 32, hi_day // 32 + 1)) FROM _rp"
    ).fetchall()
    built = open_windows(cur, site_id, kinds, w_lo, w_hi, [int(b[0]) - 1 for b in blocks])
    # Raw events of those days: a local day starts at most 25 hours (a DST day) before
    # any instant in it and ends at most 25 hours after.
    t_lo, t_hi = lo - timedelta(hours=26), hi + timedelta(hours=26)
    dn, p_dn = _day_number(spec, "ts", zone, t_lo, t_hi)

    # Read where used (twice), not copied into a temp table that held every touched day's
    # events, ten strings each, in DuckDB's memory: the same rows at 0.97x the CPU
    # (bench/seal_fold.py at 10M, docs/benchmarks.md).
    def events_of(of: Mapping[str, str]) -> str:
        return (f"(SELECT * FROM (SELECT visitor_id, {dn} AS dn, name, {_kinds_columns(of)} FROM events "
                "WHERE site_id = ? AND ts >= ? AND ts < ?) WHERE dn BETWEEN ? AND ?)")  # fmt: skip

    ev = events_of(kinds)
    p_ev = [*p_dn, site_id, t_lo, t_hi, d_lo, d_hi]
    # reach, one kind at a time: each statement's joins hold a tenth of the rows (all kinds
    # at once, a seal of a day's 40k visitors at 10M events ran out of 448 MiB), and the
    # old rows are read from that kind's row groups only.
    appended = 0
    for kind, expr in kinds.items():
        appended += _seal_reach(
            cur, site_id, kind, events_of({kind: expr}), p_ev, (w_lo, w_hi), built
        )
    # daily: every touched day recomputed from all of its raw events.
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _days AS SELECT DISTINCT unnest(range(lo_day, hi_day + 1)) AS dn FROM _rp"
    )
    cur.execute(
        "DELETE FROM daily WHERE site_id = ? AND day IN (SELECT DATE '1970-01-01' + dn::INTEGER FROM _days)",
        [site_id],
    )
    # Each reach row with bit d set has one (d, prev) pair in reach_firsts, so a day's
    # visitors per value are a sum over one window that holds the day.
    seen = ("SELECT kind, DATE '1970-01-01' + (32 * win + d)::INTEGER AS day, value, sum(n)::BIGINT AS visitors "
            f"FROM reach_firsts WHERE site_id = ? AND win BETWEEN {w_lo} AND {w_hi} AND {day_window(built)} "
            "AND 32 * win + d IN (SELECT dn FROM _days) GROUP BY ALL")  # fmt: skip
    counts = _daily_counts(kinds, f"(SELECT * FROM {ev} WHERE dn IN (SELECT dn FROM _days))")
    cur.execute(
        f"INSERT INTO daily SELECT ?, * FROM ({_daily_join(counts, seen)})",
        [site_id, *p_ev, site_id],
    )
    # visit_daily: every visit starting on a touched day (a visit the writer changed has
    # its whole span in its visitor's pending row, so its start day is among them).
    cur.execute(
        "DELETE FROM visit_daily WHERE site_id = ? AND day IN (SELECT DATE '1970-01-01' + dn::INTEGER FROM _days)",
        [site_id],
    )
    dn_start, p_start = _day_number(spec, "start_ts", zone, t_lo, t_hi)
    visits = _visits_source(dn_start, spec.visit_kinds, "dn IN (SELECT dn FROM _days)")
    cur.execute(f"INSERT INTO visit_daily SELECT ?, * FROM ({_visit_select(spec.visit_kinds, visits, spec.visit_sums)})",
                [site_id, *p_start, site_id, t_lo, t_hi])  # fmt: skip
    # Temp tables hold memory until dropped.
    for temp in ("_rp", "_days"):
        cur.execute(f"DROP TABLE IF EXISTS {temp}")
    return int(span[2]), int(appended)
