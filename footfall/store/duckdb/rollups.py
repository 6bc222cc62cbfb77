# ruff: noqa: E501  (SQL reads better unwrapped)
"""Exact rollups on DuckDB: building and sealing the ``day_bitmaps`` and ``daily`` tables.

``visitors`` is a distinct count, so per-day counts do not add up over a range; scanning a
month of raw events for every dashboard panel is what made the dashboard slow. These
tables keep the answers exact (schema.sql):

day_bitmaps(site_id, kind, day, value, n, bits)
    per (kind, value, site-local day), a roaring bitmap of the numbers of the visitors seen
    with that value that day, and its cardinality ``n`` (bitmaps.py). A range's visitors
    per value are the cardinality of the union of its days' bitmaps. A visitor is named by
    its number in ``visitor_numbers`` (given at its first build or seal).
day_firsts(site_id, kind, day, value, gap, n)
    how many of a day's visitors were last seen with the value ``gap`` days before: a
    range's visitors per value are a filtered sum of these (firsts.py), kept with the
    bitmaps they come from.
daily(site_id, kind, day, value, visitors, pageviews, events)
    per site-local day: distinct visitors (the day's ``n``) and the additive counts.
visit_daily(site_id, kind, day, value, visits, bounces, duration_ms)
    per site-local day of a visit's start, for the site total and the visit dimensions:
    the additive visit sums, from the ``sessions`` table.

``kind`` is a dimension name ('' for the site total); the caller passes each kind's SQL
expression on ``events`` and ``sessions`` and the visit sums' aggregates (a ``RollupSpec``
from footfall/query/rollup.py), so the meaning of a value is the query layer's, defined
once.

The writer lists every visitor whose events it added or re-stamped in ``rollup_pending``
(with the time span touched). Queries correct those visitors from raw events, so results
are exact at every moment; ``seal_site`` recomputes those visitors on their touched days
from raw events (removed from those days' bitmaps, added back from their events), and
those days' sums, and removes the pending rows it folded in. Recomputing (rather than
adding) makes a seal idempotent and correct for late events, merged visits and re-stamped
attributes alike. The store seals a large writer round in the round's own transaction
(rollups_fold.py), the rollups job the rest. A site is built in full once
(rollups_build.py; again when its time zone changes); rollups are kept when retention
deletes raw events (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from footfall.store.base import RollupSpec
from footfall.store.duckdb import firsts
from footfall.store.duckdb.bitmaps import bitmaps_of, fold, pending_by_day
from footfall.store.duckdb.rollups_upkeep import number_visitors

EPOCH = date(1970, 1, 1)


def _day_number(
    spec: RollupSpec, column: str, zone: ZoneInfo, lo: datetime, hi: datetime
) -> tuple[str, list[Any]]:
    """The site-local day number of a naive-UTC ``column`` with values in [lo, hi]."""
    return spec.day_number(column, zone, lo - timedelta(days=2), hi + timedelta(days=2))


def _kinds_list(kinds: Mapping[str, str]) -> str:
    """A list of {k, v} structs, one per kind, to unnest an event into its kinds' values."""
    items = ", ".join(
        "{'k': '" + k.replace("'", "''") + "', 'v': CAST(" + expr + " AS VARCHAR)}"
        for k, expr in kinds.items()
    )
    return f"[{items}]"


def _bitmap_rows(kvs: str, source: str) -> str:
    """(kind, dn, value, vno) of ``source`` rows (vno, dn, ...), ``kvs`` the list of {k, v}
    structs on them: what bitmaps.bitmaps_of groups."""
    return f"SELECT kv.k AS kind, dn, kv.v AS value, vno FROM (SELECT vno, dn, unnest({kvs}) AS kv FROM {source})"


def _seen(where: str) -> str:
    """(kind, day, value, visitors) of the ``day_bitmaps`` rows ``where`` selects (one
    parameter before it: the site)."""
    return (f"SELECT kind, DATE '1970-01-01' + day AS day, value, n::BIGINT AS visitors FROM day_bitmaps "
            f"WHERE site_id = ? AND {where}")  # fmt: skip


def _daily_counts(kvs: str, source: str) -> str:
    """(kind, day, value, pageviews, events) of ``source`` events: the additive day sums.
    Their distinct visitors are the day bitmaps' cardinalities (:func:`_daily_join`,
    :func:`_seen`): a distinct count over a day's raw events per value held every value's
    visitor set in DuckDB's memory, and a seal of one day at 10M events ran out of 448 MiB
    in it."""
    return f"""
        SELECT kv.k AS kind, DATE '1970-01-01' + dn AS day, kv.v AS value,
               count(*) FILTER (WHERE name = 'pageview') AS pageviews,
               count(*) FILTER (WHERE name <> 'engagement') AS events
        FROM (SELECT dn, name, unnest({kvs}) AS kv FROM {source})
        GROUP BY ALL"""


def _daily_join(counts: str, seen: str) -> str:
    """``daily`` rows: the day sums ``counts`` with the visitors of ``seen`` (kind, day,
    value, visitors)."""
    return (f"SELECT c.kind, c.day, c.value, coalesce(v.visitors, 0), c.pageviews, c.events FROM ({counts}) c "
            f"LEFT JOIN ({seen}) v ON v.kind = c.kind AND v.day = c.day AND v.value IS NOT DISTINCT FROM c.value")  # fmt: skip


def _visit_select(kvs: str, source: str, sums: Mapping[str, str]) -> str:
    """(kind, day, value, *sums) of ``source`` visits (with ``dn``, their start day)."""
    aggs = ", ".join(f"{sql} AS {alias}" for alias, sql in sums.items())
    return f"""
        SELECT kv.k AS kind, DATE '1970-01-01' + dn AS day, kv.v AS value, {aggs}
        FROM (SELECT *, unnest({kvs}) AS kv FROM {source})
        GROUP BY kv.k, dn, kv.v"""


def _visits_source(dn: str, kinds: Mapping[str, str], where: str) -> str:
    """Sessions with their start day (``dn``) and their kinds' values, for _visit_select."""
    return (f"(SELECT * FROM (SELECT *, {dn} AS dn, {_kinds_list(kinds)} AS kvs FROM sessions "
            f"WHERE site_id = ? AND start_ts >= ? AND start_ts < ?) WHERE {where})")  # fmt: skip


class Interrupted(Exception):
    """The store is closing: a build stops between two of its steps."""


def _local_day(at: datetime, zone: ZoneInfo) -> int:
    return (at.replace(tzinfo=UTC).astimezone(zone).date() - EPOCH).days


def _midnight(day: int, zone: ZoneInfo) -> datetime:
    local = datetime.combine(EPOCH + timedelta(days=day), datetime.min.time(), zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def seal_site(cur: duckdb.DuckDBPyConnection, site_id: str, timezone: str, spec: RollupSpec,
              upto: int, sums: bool = True) -> int:  # fmt: skip
    """Fold one site's pending visitors (rows with ``seq <= upto``) into its rollups: the
    day bitmaps of those not folded yet, and with ``sums`` the day sums of every row's
    days; returns how many visitors."""
    zone, kinds = ZoneInfo(timezone), spec.kinds
    # Without the sums, only the rows not folded yet: those folded earlier stay pending for
    # the job, and a round of a bulk load would read their days' events again.
    rows = "FROM rollup_pending WHERE site_id = ? AND seq <= ?" + ("" if sums else " AND NOT coalesce(folded, false)")
    span = cur.execute(f"SELECT min(lo), max(hi), count(DISTINCT visitor_id) {rows}", [site_id, upto]).fetchall()[0]
    if span[0] is None:
        return 0
    lo, hi = span[0], span[1]
    dn_lo, p_lo = _day_number(spec, "lo", zone, lo, hi)
    dn_hi, p_hi = _day_number(spec, "hi", zone, lo, hi)
    # Each visitor's touched days; ``todo``: its day bitmaps are still to fold.
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _rp AS SELECT visitor_id, min({dn_lo}) AS lo_day, max({dn_hi}) AS hi_day, "
        f"bool_or(NOT coalesce(folded, false)) AS todo {rows} GROUP BY visitor_id",
        [*p_lo, *p_hi, site_id, upto],
    )
    d_lo, d_hi = cur.execute("SELECT min(lo_day), max(hi_day) FROM _rp").fetchall()[0]
    # Raw events of those days: a local day starts at most 25 hours (a DST day) before
    # any instant in it and ends at most 25 hours after.
    t_lo, t_hi = lo - timedelta(hours=26), hi + timedelta(hours=26)
    dn, p_dn = _day_number(spec, "ts", zone, t_lo, t_hi)
    # Read where used, not copied into a temp table that held every touched day's events,
    # ten strings each, in DuckDB's memory.
    ev = (f"(SELECT * FROM (SELECT visitor_id, {dn} AS dn, name, {_kinds_list(kinds)} AS kvs FROM events "
          "WHERE site_id = ? AND ts >= ? AND ts < ?) WHERE dn BETWEEN ? AND ?)")  # fmt: skip
    p_ev = [*p_dn, site_id, t_lo, t_hi, d_lo, d_hi]
    if cur.execute("SELECT count(*) FROM _rp WHERE todo").fetchall()[0][0]:
        number_visitors(cur, site_id, f"SELECT visitor_id, min(lo) AS first {rows} AND NOT coalesce(folded, false) "
                        "GROUP BY visitor_id", [site_id, upto])  # fmt: skip
        cur.execute("CREATE OR REPLACE TEMP TABLE _todo AS SELECT p.visitor_id, p.lo_day, p.hi_day, n.vno FROM _rp p "
                    "JOIN visitor_numbers n ON n.site_id = ? AND n.visitor_id = p.visitor_id WHERE p.todo", [site_id])  # fmt: skip
        # The visitors' bitmaps on their touched days, from their raw events there; the
        # stored bitmaps of those days lose them and gain these (bitmaps.fold).
        mine = f"(SELECT p.vno, x.dn, x.kvs FROM {ev} x JOIN _todo p ON x.visitor_id = p.visitor_id WHERE x.dn BETWEEN p.lo_day AND p.hi_day)"
        fresh = bitmaps_of(cur, _bitmap_rows("kvs", mine), p_ev)
        changed = fold(cur, site_id, pending_by_day(cur.execute("SELECT vno, lo_day, hi_day FROM _todo").fetchall()), fresh)
        firsts.refresh(cur, site_id, changed)
        cur.execute("DROP TABLE _todo")
    if sums:
        _seal_sums(cur, site_id, zone, spec, ev, p_ev, (t_lo, t_hi))
    cur.execute("DROP TABLE IF EXISTS _rp")
    return int(span[2])


def _seal_sums(cur: duckdb.DuckDBPyConnection, site_id: str, zone: ZoneInfo, spec: RollupSpec,
               ev: str, p_ev: list[Any], times: tuple[datetime, datetime]) -> None:  # fmt: skip
    """The day sums of every day a pending visitor touched (``_rp``), recomputed from all
    of the day's raw events (``ev``) and visits, the visitors from the bitmaps."""
    t_lo, t_hi = times
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _days AS SELECT DISTINCT unnest(range(lo_day, hi_day + 1)) AS dn FROM _rp"
    )
    cur.execute(
        "DELETE FROM daily WHERE site_id = ? AND day IN (SELECT DATE '1970-01-01' + dn::INTEGER FROM _days)",
        [site_id],
    )
    counts = _daily_counts("kvs", f"(SELECT * FROM {ev} WHERE dn IN (SELECT dn FROM _days))")
    seen = _seen("day IN (SELECT dn FROM _days)")
    cur.execute(f"INSERT INTO daily SELECT ?, * FROM ({_daily_join(counts, seen)})", [site_id, *p_ev, site_id])
    # visit_daily: every visit starting on a touched day (a visit the writer changed has
    # its whole span in its visitor's pending row, so its start day is among them).
    cur.execute(
        "DELETE FROM visit_daily WHERE site_id = ? AND day IN (SELECT DATE '1970-01-01' + dn::INTEGER FROM _days)",
        [site_id],
    )
    dn_start, p_start = _day_number(spec, "start_ts", zone, t_lo, t_hi)
    visits = _visits_source(dn_start, spec.visit_kinds, "dn IN (SELECT dn FROM _days)")
    cur.execute(f"INSERT INTO visit_daily SELECT ?, * FROM ({_visit_select('kvs', visits, spec.visit_sums)})",
                [site_id, *p_start, site_id, t_lo, t_hi])  # fmt: skip
    cur.execute("DROP TABLE _days")
