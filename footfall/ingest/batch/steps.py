"""The batch steps: one writer round's events from spool records to a write set.

The steps run as set operations on a DuckDB cursor, the batch engine, given by the
store's ``BatchTarget``: its ``events``, ``sessions``, ``dropped_events`` and
``rollup_pending`` tables are the store's own (DuckDB: the steps write in place, in the
batch's transaction) or a scratch copy holding just the stored rows the batch may touch,
which the target loads when asked (``neighbours``, ``touch_visits``) and whose changes it
commits (ClickHouse). Either way the rules below are written once.

1. read the batch's JSON lines into ``_in`` (DuckDB's reader; no Python per event), or
   take its columns as they are (an import's bulk load);
2. drop duplicates, within the batch and against stored events (event ids are unique);
3. look up the enricher's verdicts for the distinct user agents, referrers and query
   strings; bots and referrer spam are counted per site and hour, and deleted from ``_in``;
4. assign visits by the 30-minute rule on event time: the batch's events and the stored
   visits they may touch (``_old``) are intervals per visitor, merged where the gap to
   everything before is at most the timeout. DuckDB orders the items; the breaks between
   groups are a running max per partition in Arrow compute (no Python per item). A group
   holding a stored visit keeps its id (the earliest, if a late event bridged two: the
   other is merged into it); a new group's id is a hash of its first event id, so a replay
   gives the same id. A client-supplied session id is honoured as one group, keeping its
   first visitor;
5. one pass per group (``_groups``) gives its id, its attributes (those of its first item)
   and entry page, and the fold of all its items: when every group is a visit of its own
   (the common case) that row is the visit's new ``sessions`` row; otherwise the batch and
   the touched stored visits are folded per visit id. Stored events of visits whose first
   event or entry page changed are re-stamped;
6. hand the new events, each already carrying its visit's final values, and the visits'
   new ``sessions`` rows to the target (``insert_events``, ``insert_visits``: DuckDB
   inserts them in place; ClickHouse takes them as Arrow, never writing them into its
   scratch), note the rollups' to-do list; the target commits them with the queue
   position.

This module runs the steps in order and does 1-3 and 6 itself; the SQL and the Arrow
grouping of 4 and 5, with the statements of 6 that insert their rows, are in
:mod:`footfall.ingest.batch.visits`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from footfall.ingest.batch.visits import (
    _FAST_TOUCHED_SQL,
    _FOLD,
    _GROUP_AGG_SQL,
    _GROUPS_SQL,
    _ITEMS_OLD,
    _ITEMS_SQL,
    _MERGES_SQL,
    _OLD_CLIENT_SQL,
    _OLD_SQL,
    _RESTAMP,
    _SESSION_COLUMNS,
    _SESSIONS_SQL,
    _SETS,
    _group,
    _group_rows,
    new_events,
)
from footfall.store.base import BatchTarget, Enrichment

# The spool record's JSON fields and their types (footfall/ingest/record.py SpoolRecord).
RECORD_COLUMNS = {
    "event_id": "VARCHAR", "site_id": "VARCHAR", "ts": "BIGINT", "name": "VARCHAR",
    "hostname": "VARCHAR", "pathname": "VARCHAR", "url_query": "VARCHAR", "referrer": "VARCHAR",
    "user_agent": "VARCHAR", "visitor_id": "UBIGINT", "session_id": "UBIGINT", "user_id": "VARCHAR",
    "screen": "VARCHAR", "language": "VARCHAR", "country": "VARCHAR", "region": "VARCHAR",
    "city": "VARCHAR", "title": "VARCHAR", "interactive": "BOOLEAN", "props": "MAP(VARCHAR, VARCHAR)",
    "revenue": "DOUBLE", "duration_ms": "BIGINT", "load_time_ms": "BIGINT", "scroll_depth": "BIGINT",
}  # fmt: skip
_COLUMNS_ARG = "{" + ", ".join(f"{k}: '{v}'" for k, v in RECORD_COLUMNS.items()) + "}"
DAY_MS = 86_400_000


def _lookups(cur: duckdb.DuckDBPyConnection, enricher: Enrichment) -> tuple[bool, bool]:
    """Register the lookup tables; returns whether any user agent is a bot and whether any
    referrer is spam."""
    agents = [r[0] for r in cur.execute("SELECT DISTINCT user_agent FROM _in").fetchall()]
    ua = enricher.user_agents(agents)
    cur.register("_ua", ua)
    pairs = cur.execute("SELECT DISTINCT site_id, referrer FROM _in").fetchall()
    ref = enricher.referrers([(r[0], r[1]) for r in pairs])
    cur.register("_ref", ref)
    queries = [
        r[0]
        for r in cur.execute("SELECT DISTINCT url_query FROM _in WHERE url_query <> ''").fetchall()
    ]
    cur.register("_utm", enricher.queries(queries))
    return any(ua.column("is_bot").to_pylist()), any(ref.column("spam").to_pylist())


def _one(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    return cur.execute(sql, params or []).fetchall()[0]


def write(
    target: BatchTarget, source: Path | pa.Table, enricher: Enrichment, timeout_ms: int
) -> dict[str, Any]:
    """Run steps 1-6 on the target's cursor; returns counts for the writer's stats.
    ``source``: a file of spool records (JSON lines), or an Arrow table of their columns
    (``RECORD_COLUMNS``, ``ts`` in epoch milliseconds)."""
    cur = target.cur
    load = (
        "CREATE OR REPLACE TEMP TABLE _in AS SELECT * EXCLUDE (event_id, ts), "
        "CAST(event_id AS UUID) AS event_id, make_timestamp_ms(ts) AS ts FROM "
    )
    if isinstance(source, Path):
        reader = f"read_json(?, format = 'newline_delimited', columns = {_COLUMNS_ARG})"
        cur.execute(load + reader, [str(source)])
    else:  # columns already (an import's bulk load): no JSON between reader and steps
        cur.register("_in_rows", source)
        casts = ", ".join(f"{k}::{v} AS {k}" for k, v in RECORD_COLUMNS.items())
        cur.execute(f"{load} (SELECT {casts} FROM _in_rows)")
        cur.unregister("_in_rows")
    lo, hi, received, distinct, cli = _one(
        cur,
        "SELECT epoch_ms(min(ts)), epoch_ms(max(ts)), count(*), count(DISTINCT event_id), "
        "count(*) FILTER (WHERE session_id <> 0) FROM _in",
    )
    if not received:
        return {"received": 0, "inserted": 0, "duplicates": 0, "dropped": 0}
    # The stored rows this batch may read: events with its ids, visits it may extend.
    target.neighbours(_ts(lo - DAY_MS), _ts(hi + DAY_MS), _ts(lo - timeout_ms))
    if distinct < received:  # the same event twice in one batch (a quick client retry)
        cur.execute("CREATE OR REPLACE TEMP TABLE _in AS SELECT DISTINCT ON (event_id) * FROM _in")
    # Event ids are unique: drop what is already stored (a client retry, or a replay).
    stored = _one(
        cur,
        "DELETE FROM _in WHERE event_id IN (SELECT event_id FROM events "
        "WHERE ts BETWEEN make_timestamp_ms(?) AND make_timestamp_ms(?))",
        [lo - DAY_MS, hi + DAY_MS],
    )[0]
    unique = distinct - stored
    bots, spam = _lookups(cur, enricher)
    # Drops: bots first, then referrer spam, counted per site, UTC hour and reason, then
    # deleted from the batch (with what no lookup can match: a record lacking a field).
    # _drops keeps them per visitor too: a target committing a round per queue partition
    # splits the counts by visitor (store/clickhouse/write.py).
    by_reason: dict[str, int] = {}
    if bots or spam:
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _drops AS SELECT i.site_id, date_trunc('hour', i.ts) AS hour, "
            "CASE WHEN u.is_bot THEN 'bot' ELSE 'referrer_spam' END AS reason, count(*) AS n, "
            "i.visitor_id FROM _in i JOIN _ua u ON i.user_agent = u.user_agent "
            "JOIN _ref r ON i.site_id = r.site_id AND i.referrer = r.referrer "
            "WHERE u.is_bot OR r.spam GROUP BY ALL"
        )
        cur.execute(
            "INSERT INTO dropped_events SELECT site_id, hour, reason, sum(n) FROM _drops "
            "GROUP BY ALL"
        )
        rows = cur.execute("SELECT reason, sum(n) FROM _drops GROUP BY reason").fetchall()
        by_reason = {f"dropped_{r}": int(n) for r, n in rows}
        cur.execute(
            "DELETE FROM _in WHERE user_agent IN (SELECT user_agent FROM _ua WHERE is_bot) "
            "OR (site_id, referrer) IN (SELECT (site_id, referrer) FROM _ref WHERE spam)"
        )
    cur.execute("DELETE FROM _in WHERE user_agent IS NULL OR site_id IS NULL OR referrer IS NULL")
    # Visits: the stored ones the batch may touch, the groups, their rows.
    n_old, n_old_cli = _one(cur, _OLD_SQL, [_ts(lo - timeout_ms)])[0], 0
    if cli:
        n_old_cli = _one(cur, _OLD_CLIENT_SQL)[0]
        n_old += n_old_cli
    items = cur.sql(_ITEMS_SQL.format(old=_ITEMS_OLD if n_old else "")).to_arrow_table()
    grouped = _group(items, timeout_ms)
    cur.register("_grouped", grouped)
    cur.register("_g", _group_rows(grouped, cur.sql(_GROUP_AGG_SQL).to_arrow_table()))
    cur.execute(_GROUPS_SQL)
    cur.unregister("_g")
    # Each group is one visit of its own unless a stored visit was read twice (by visitor
    # and by client session id) or stored visits were merged with no batch event.
    fast = not n_old or (
        not n_old_cli
        and not _one(cur, "SELECT count(*) FROM _groups WHERE n_ev = 0 AND n_old >= 2")[0]
    )
    if n_old:
        cur.execute(_MERGES_SQL)
        merges, first, last = _one(
            cur,
            "SELECT count(*), min(o.start_ts), max(o.end_ts) FROM _merges m JOIN _old o "
            "ON o.site_id = m.site_id AND o.session_id = m.drop_id",
        )
        if merges:
            target.touch_visits("SELECT site_id, drop_id AS session_id FROM _merges")
            # A late event joined two visits: move the later one's events to the kept id
            # (the time range only lets the scan skip what cannot match).
            cur.execute(
                "UPDATE events SET session_id = m.keep_id FROM _merges m "
                "WHERE events.site_id = m.site_id AND events.session_id = m.drop_id "
                "AND events.ts BETWEEN ? AND ?",
                [first, last],
            )
    if not fast:
        cur.execute(_SESSIONS_SQL)
    # Visits whose first event or entry page changed: their stored events are re-stamped
    # with the visit's new row below, and the new events carry it from the start (found
    # before they are written: a target may hand them to its store as they are).
    visits = (
        f"(SELECT * EXCLUDE (sid), sid AS session_id FROM _groups WHERE {_RESTAMP})"
        if fast
        else "(SELECT m.* FROM _merged m JOIN _restamp r "
        "ON m.site_id = r.site_id AND m.session_id = r.session_id)"
    )
    n, first, last = (0, None, None)
    if n_old:
        n, first, last = _one(cur, f"SELECT count(*), min(start_ts), max(end_ts) FROM {visits}")
    inserted = target.insert_events(*new_events(visits if n else None, grouped))
    columns = ", ".join(_SESSION_COLUMNS)
    merged = _FOLD if fast else "_merged"
    if fast and n_old:
        cur.execute(_FAST_TOUCHED_SQL)
    if n_old:
        cur.execute(
            "DELETE FROM sessions USING _touched t "
            "WHERE sessions.site_id = t.site_id AND sessions.session_id = t.session_id"
        )
    target.insert_visits(f"SELECT {columns} FROM {merged}")
    # The rollups' to-do list (store/rollups.py): every visitor whose events this batch
    # added or may re-stamp, over the visits' whole span (stored visits' old visitor too).
    cur.execute(
        "INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) "
        "SELECT site_id, visitor_id, min(lo), max(hi) FROM ("
        f"SELECT site_id, visitor_id, start_ts AS lo, end_ts AS hi FROM {merged} UNION ALL "
        "SELECT site_id, visitor_id, start_ts, end_ts FROM _old) GROUP BY ALL"
    )
    if n:
        # The time range only lets the scan skip what cannot match.
        target.touch_visits(f"SELECT site_id, session_id FROM {visits}")
        cur.execute(
            f"UPDATE events SET {_SETS} FROM {visits} s "
            "WHERE events.site_id = s.site_id AND events.session_id = s.session_id "
            "AND events.ts BETWEEN ? AND ?",
            [first, last],
        )
    for name in ("_ua", "_ref", "_utm", "_grouped"):
        cur.unregister(name)
    return {
        "received": received,
        "duplicates": received - unique,
        "inserted": inserted,
        "dropped": unique - inserted,
        "dropped_bot": by_reason.get("dropped_bot", 0),
        "dropped_referrer_spam": by_reason.get("dropped_referrer_spam", 0),
    }


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)
