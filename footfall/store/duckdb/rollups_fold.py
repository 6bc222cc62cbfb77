# ruff: noqa: E501  (SQL reads better unwrapped)
"""Folding a large writer round into the rollups in the round's own transaction.

A bulk load (or an import through the writer) used to leave its events pending until the
rollups job built or sealed them after the load, and the dashboard read raw events
meanwhile (tens of seconds of slow panels after a 10M load). A seal recomputes each
touched visitor's whole days from raw events and scans its rows; this fold costs what the
round's new events change instead, because new events only add presence:

- ``reach``: each new event sets one bit in its (kind, window, value, visitor) row. The
  round's rows are ORed into the stored ones found by one join per kind (fresh keys only),
  and only rows whose bits change are rewritten, with ``reach_firsts``' delta from them.
- ``daily``: the round's pageviews and events are added as rows of their own (readers sum
  a day's rows), and its visitors are the rows that gained the day's bit.
- ``visit_daily``: the round's visits changed their rows (a longer visit, no longer a
  bounce), so the start days it touched are summed again from ``sessions``.

What the round rewrote in stored events (a late event that becomes a visit's first, a
merge of two visits: the batch steps list their visitors in ``_rewritten``) is not an
addition: those visitors stay in ``rollup_pending`` and the rollups job seals them as
before. The others' pending rows of the round are dropped, so the queries' correction
stays small while a load goes on. Exactness is the seal's: tests compare every answer
with the raw path, folds and seals mixed.

Only a site's rounds of at least ``FOLD_MIN_EVENTS`` events are folded (``RoundFolder``):
each costs a scan of the kinds' current rows, which under light traffic (a round a
second) the job's periodic seal shares among many rounds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from footfall.store.base import RollupSpec
from footfall.store.duckdb.rollups import (
    _daily_counts,
    _daily_join,
    _day_number,
    _kinds_list,
    _reach_select,
    _visit_select,
    _visits_source,
)
from footfall.store.duckdb.rollups_upkeep import (
    day_window,
    firsts_delta,
    number_visitors,
    open_windows,
)

FOLD_MIN_EVENTS = 50_000
# A site with no rollups yet and at most this many events (its first round of a bulk load,
# say) is built in the round; a larger one by the rollups job, in steps.
START_MAX_EVENTS = 500_000


def fold_round(cur: duckdb.DuckDBPyConnection, site_id: str, timezone: str, spec: RollupSpec,
               new_events: str, seq_from: int | None) -> int:  # fmt: skip
    """Fold the round's new events of one built site (the rows of ``new_events``, a table
    with the ``events`` columns) into its rollups, and drop the round's pending rows
    (``seq > seq_from``) of visitors whose stored events it did not rewrite; returns how
    many ``reach`` rows it appended. ``seq_from`` None: every event of a site whose
    rollups are empty (:func:`start`), every visit summed."""
    zone, kinds = ZoneInfo(timezone), spec.kinds
    lo, hi = cur.execute(f"SELECT min(ts), max(ts) FROM {new_events} WHERE site_id = ?", [site_id]).fetchall()[0]
    if lo is None:
        return 0
    number_visitors(cur, site_id, f"SELECT visitor_id, min(ts) AS first FROM {new_events} WHERE site_id = ? GROUP BY visitor_id",
                    [site_id])  # fmt: skip
    dn, p_dn = _day_number(spec, "ts", zone, lo, hi)

    # The round's visitors' numbers, once (visitor_numbers holds every visitor of the site).
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _vn AS SELECT visitor_id, vno FROM visitor_numbers WHERE site_id = ? "
        f"AND visitor_id IN (SELECT visitor_id FROM {new_events} WHERE site_id = ?)",
        [site_id, site_id],
    )

    def events_of(of: dict[str, str], number: bool = True) -> str:
        """The new events (vno, dn, name, kvs) with ``of``'s values, read where used: a
        copy with every kind's values held ~60 MB of DuckDB's memory a round."""
        site = site_id.replace("'", "''")
        if not number:
            return (f"(SELECT 0 AS vno, {dn} AS dn, name, {_kinds_list(of)} AS kvs "
                    f"FROM {new_events} WHERE site_id = '{site}')")  # fmt: skip
        return (f"(SELECT n.vno, {dn} AS dn, x.name, {_kinds_list(of)} AS kvs "
                f"FROM {new_events} x JOIN _vn n ON n.visitor_id = x.visitor_id WHERE x.site_id = '{site}')")  # fmt: skip

    d_lo, d_hi = cur.execute(f"SELECT min(dn), max(dn) FROM {events_of({}, False)}", p_dn).fetchall()[0]
    blocks = [int(r[0]) for r in cur.execute(f"SELECT DISTINCT dn // 32 FROM {events_of({}, False)}", p_dn).fetchall()]
    w_lo, w_hi = d_lo // 32 - 1, d_hi // 32
    built = open_windows(cur, site_id, kinds, w_lo, w_hi, [b - 1 for b in blocks])
    listed = ", ".join(str(w) for w in sorted(built))
    win = f"unnest(CASE WHEN dn // 32 IN ({listed}) THEN [dn // 32, dn // 32 - 1] ELSE [dn // 32 - 1] END)"
    cur.execute("CREATE OR REPLACE TEMP TABLE _seen (kind VARCHAR, day DATE, value VARCHAR, visitors BIGINT)")
    appended = 0
    for kind in kinds:
        # The round's rows of this kind, ORed into the stored rows with the same key.
        mine = events_of({kind: kinds[kind]})
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _fresh AS {_reach_select('kvs', mine, win, who='vno')}", p_dn)
        # The stored rows with a fresh key: one scan of the kind's rows in the round's
        # windows, probing a hash of the fresh keys (the small side), then joined back.
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _had AS SELECT r.rowid AS rid, r.win, r.value, r.vno, r.days FROM reach r "
            "SEMI JOIN _fresh f ON r.vno = f.vno AND r.win = f.win AND r.value IS NOT DISTINCT FROM f.value "
            "WHERE r.site_id = ? AND r.kind = ? AND r.win BETWEEN ? AND ?",
            [site_id, kind, w_lo, w_hi],
        )
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _chg AS SELECT f.kind, f.win, f.value, f.vno, r.rid, r.days AS old_days, "
            "coalesce(r.days, 0::UBIGINT) | f.days AS new_days FROM _fresh f LEFT JOIN _had r "
            "ON r.vno = f.vno AND r.win = f.win AND r.value IS NOT DISTINCT FROM f.value "
            "WHERE r.days IS NULL OR (r.days | f.days) <> r.days"
        )
        cur.execute("DELETE FROM reach WHERE rowid IN (SELECT rid FROM _chg WHERE rid IS NOT NULL)")
        appended += int(cur.execute(
            "INSERT INTO reach SELECT ?, kind, win, value, vno, new_days FROM _chg ORDER BY win", [site_id]
        ).fetchall()[0][0])  # fmt: skip
        cur.execute(f"INSERT INTO reach_firsts SELECT ?, * FROM ({firsts_delta('_chg')})", [site_id])
        # A day's visitors per value gain the rows that gained its bit, counted in one of
        # the day's windows (the one the day sums read: rollups_upkeep.day_window).
        gained = (f"SELECT kind, win, value, unnest(range({d_lo} - 32 * win, {d_hi} - 32 * win + 1)) AS d, "
                  "new_days & ~coalesce(old_days, 0::UBIGINT) AS bits FROM _chg")  # fmt: skip
        cur.execute(
            "INSERT INTO _seen SELECT kind, DATE '1970-01-01' + (32 * win + d)::INTEGER, value, count(*) "
            f"FROM ({gained}) WHERE d BETWEEN 0 AND 63 AND ((bits >> d::UBIGINT) & 1::UBIGINT) = 1 "
            f"AND {day_window(built)} GROUP BY ALL"
        )
    for temp in ("_fresh", "_had", "_chg", "_vn"):
        cur.execute(f"DROP TABLE {temp}")
    # daily: the round's sums and visitors, added as rows of their own.
    counts = _daily_counts("kvs", events_of(dict(kinds), False))
    cur.execute(f"INSERT INTO daily SELECT ?, * FROM ({_daily_join(counts, 'SELECT * FROM _seen')})", [site_id, *p_dn])
    cur.execute("DROP TABLE _seen")
    if seq_from is None:
        _visit_days(cur, site_id, zone, spec, "FROM sessions WHERE site_id = ?", [site_id], "start_ts", "start_ts")
        return appended
    _visit_days(cur, site_id, zone, spec, "FROM rollup_pending WHERE site_id = ? AND seq > ?", [site_id, seq_from])
    cur.execute(
        "DELETE FROM rollup_pending WHERE site_id = ? AND seq > ? "
        "AND visitor_id NOT IN (SELECT visitor_id FROM _rewritten WHERE site_id = ?)",
        [site_id, seq_from, site_id],
    )
    return appended


def _visit_days(cur: duckdb.DuckDBPyConnection, site_id: str, zone: ZoneInfo, spec: RollupSpec,
                spans: str, params: list[Any], lo_col: str = "lo", hi_col: str = "hi") -> None:  # fmt: skip
    """``visit_daily`` of the start days of the visits the round changed, summed again
    from ``sessions``: a changed visit's whole span is in its visitor's pending row
    (``spans``: FROM ... of those rows, with ``params``)."""
    lo, hi = cur.execute(f"SELECT min({lo_col}), max({hi_col}) {spans}", params).fetchall()[0]
    if lo is None:
        return
    dn_lo, p_lo = _day_number(spec, lo_col, zone, lo, hi)
    dn_hi, p_hi = _day_number(spec, hi_col, zone, lo, hi)
    days = [int(r[0]) for r in cur.execute(
        f"SELECT DISTINCT unnest(range({dn_lo}, {dn_hi} + 1)) {spans}", [*p_lo, *p_hi, *params]).fetchall()]  # fmt: skip
    listed = ", ".join(str(d) for d in days)
    cur.execute(f"DELETE FROM visit_daily WHERE site_id = ? AND day - DATE '1970-01-01' IN ({listed})", [site_id])
    t_lo, t_hi = lo - timedelta(hours=26), hi + timedelta(hours=26)
    dn_start, p_start = _day_number(spec, "start_ts", zone, t_lo, t_hi)
    visits = _visits_source(dn_start, spec.visit_kinds, f"dn IN ({listed})")
    cur.execute(f"INSERT INTO visit_daily SELECT ?, * FROM ({_visit_select('kvs', visits, spec.visit_sums)})",
                [site_id, *p_start, site_id, t_lo, t_hi])  # fmt: skip


def start(cur: duckdb.DuckDBPyConnection, site_id: str, timezone: str, spec: RollupSpec) -> int:
    """Build a small site's rollups in the writer's round: every stored event folded into
    empty rollups, which is what a build makes; its pending rows all go."""
    cur.execute("INSERT INTO rollup_state (site_id, timezone, built_at, version) VALUES (?, ?, now(), ?)",
                [site_id, timezone, spec.version])  # fmt: skip
    appended = fold_round(cur, site_id, timezone, spec, "(SELECT * FROM events)", None)
    cur.execute("DELETE FROM rollup_pending WHERE site_id = ?", [site_id])
    return appended


class RoundFolder:
    """The store's side of the fold: whether a round is folded, and which of its sites.

    A site is folded when its rollups are built in the current layout and the round holds
    at least FOLD_MIN_EVENTS of its events, or when it has no rollups and no events before
    this round (its rollups start empty, so a site whose first events come in a bulk load
    is folded from the start). Never while the rollups job runs (it holds ``lock``, and
    DuckDB would abort one of two transactions rewriting the same rows): the job seals
    what the round leaves pending. A fold that fails fails its round, which the writer
    tries again from the spool; that next try is not folded."""

    def __init__(self, lock: threading.Lock) -> None:
        self.spec: RollupSpec | None = None
        self.timezone_of: Callable[[str], str | None] = lambda site_id: None
        self._lock = lock
        self._skip_next = False

    def begin(self, cur: duckdb.DuckDBPyConnection) -> int | None:
        """At a round's start: the pending rows' high mark if the round may be folded."""
        if self.spec is None or self._skip_next:
            self._skip_next = False
            return None
        return int(cur.execute("SELECT coalesce(max(seq), 0) FROM rollup_pending").fetchall()[0][0])

    def fold(self, cur: duckdb.DuckDBPyConnection, new_events: str, seq_from: int) -> bool:
        """Before the round commits: fold the sites that qualify; True if a site's rollups
        started (its state row is new)."""
        spec = self.spec
        if spec is None or not self._lock.acquire(blocking=False):
            return False
        started = False
        try:
            rows = cur.execute(
                f"SELECT s.site_id, s.n, r.timezone, r.version FROM (SELECT site_id, count(*) AS n FROM {new_events} "
                "GROUP BY site_id) s LEFT JOIN rollup_state r USING (site_id)"
            ).fetchall()
            for site_id, n, tz, version in rows:
                if n < FOLD_MIN_EVENTS:
                    continue
                if tz is None:  # never built: built here if small, by the job if not
                    tz = self.timezone_of(site_id)
                    stored = cur.execute("SELECT count(*) FROM events WHERE site_id = ?", [site_id]).fetchall()[0][0]
                    if tz is None or stored > START_MAX_EVENTS:
                        continue
                    appended = start(cur, site_id, tz, spec)
                    started = True
                elif version != spec.version:
                    continue
                else:
                    appended = fold_round(cur, site_id, tz, spec, new_events, seq_from)
                cur.execute("UPDATE rollup_state SET sealed_rows = coalesce(sealed_rows, 0) + ? WHERE site_id = ?",
                            [appended, site_id])  # fmt: skip
        except duckdb.Error:
            self._skip_next = True
            raise
        finally:
            self._lock.release()
        return started
