"""The DuckDB write path: one transaction per batch, set operations only.

1. read the batch's JSON lines into ``_raw`` (DuckDB's reader; no Python per event);
2. drop duplicates, within the batch and against stored events (event ids are unique);
3. join the enricher's lookups for the distinct user agents, referrers and query strings;
   bots and referrer spam are counted per site and hour, not stored;
4. assign visits by the 30-minute rule on event time: the batch's events and the stored
   visits they may touch are intervals per visitor, merged where the gap to everything
   before is at most the timeout (a window function). A group holding a stored visit keeps
   its id (the earliest, if a late event bridged two: the other is merged into it); a new
   group's id is a hash of its first event id, so a replay gives the same id. A
   client-supplied session id is honoured as one group, keeping its first visitor;
5. stamp every event with its visit's attributes (those of the first event) and entry page,
   and re-stamp stored events of visits whose first event or entry page changed;
6. insert events, fold the visits into ``sessions``, record drops and the queue position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from footfall.store.base import VISIT_COLUMNS, Enrichment

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

# The stored visits this batch may touch, read once: those of its visitors that end
# within the timeout of the batch, and those of client-supplied session ids.
_OLD_SQL = """
CREATE OR REPLACE TEMP TABLE _old AS
WITH vis AS (SELECT DISTINCT site_id, visitor_id FROM _b WHERE client_sid = 0),
     cli AS (SELECT DISTINCT site_id, client_sid FROM _b WHERE client_sid <> 0)
SELECT s.*, 0 AS kind, s.visitor_id AS part
FROM sessions s JOIN vis ON s.site_id = vis.site_id AND s.visitor_id = vis.visitor_id
WHERE s.end_ts >= ?
UNION ALL
SELECT s.*, 1, s.session_id
FROM sessions s JOIN cli ON s.site_id = cli.site_id AND s.session_id = cli.client_sid
"""
_ITEMS_SQL = """
CREATE OR REPLACE TEMP TABLE _items AS
SELECT site_id, kind, part, start_ts AS lo, end_ts AS hi, session_id AS old_sid,
       NULL::UUID AS event_id, 0 AS is_event, visitor_id, entry_page, entry_ts
FROM _old
UNION ALL
SELECT site_id, (client_sid <> 0)::INTEGER, CASE WHEN client_sid <> 0 THEN client_sid ELSE visitor_id END,
       ts, ts, NULL, event_id, 1, visitor_id,
       CASE WHEN name = 'pageview' THEN pathname END, CASE WHEN name = 'pageview' THEN ts END
FROM _b
"""

_GROUP_SQL = """
CREATE OR REPLACE TEMP TABLE _grouped AS
SELECT *, sum(brk) OVER (PARTITION BY site_id, kind, part ORDER BY lo, is_event, event_id
                         ROWS UNBOUNDED PRECEDING) AS grp
FROM (SELECT *, CASE WHEN kind = 0 AND lo > max(hi) OVER (
          PARTITION BY site_id, kind, part ORDER BY lo, is_event, event_id
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + to_milliseconds(?)
      THEN 1 ELSE 0 END AS brk FROM _items)
"""
_GROUPS_SQL = """
CREATE OR REPLACE TEMP TABLE _groups AS
SELECT site_id, kind, part, grp,
       CASE WHEN kind = 1 THEN part
            ELSE coalesce(arg_min(old_sid, lo) FILTER (WHERE is_event = 0),
                          hash(arg_min(event_id, (lo, event_id)) FILTER (WHERE is_event = 1)))
       END AS sid,
       CASE WHEN kind = 1 THEN arg_min(visitor_id, (lo, is_event)) ELSE part END AS visitor,
       arg_min(is_event, (lo, is_event)) AS first_is_event,
       arg_min(event_id, (lo, is_event)) AS first_event,
       arg_min(old_sid, (lo, is_event)) AS first_old,
       arg_min(entry_page, entry_ts) AS entry_page,
       count(*) FILTER (WHERE is_event = 0) AS n_old,
       min(entry_ts) FILTER (WHERE is_event = 1) AS new_entry,
       min(entry_ts) FILTER (WHERE is_event = 0) AS old_entry
FROM _grouped GROUP BY site_id, kind, part, grp
"""

# A visit's attributes are its first item's: a batch event's own, or the stored visit's.
_STAMPED = ", ".join(
    f"CASE WHEN g.first_is_event = 1 THEN fe.{c} ELSE fs.{c} END AS {c}" for c in VISIT_COLUMNS
)
_BATCH_SQL = f"""
CREATE OR REPLACE TEMP TABLE _batch AS
SELECT b.event_id, b.site_id, b.ts, b.name, b.hostname, b.pathname, b.url_query, {_STAMPED},
       g.visitor AS visitor_id, g.sid AS session_id, b.user_id, b.title,
       coalesce(g.entry_page, '') AS entry_page, b.props, b.revenue, b.duration_ms,
       b.load_time_ms, b.scroll_depth, b.interactive
FROM _b b JOIN _grouped i ON i.is_event = 1 AND i.event_id = b.event_id
JOIN _groups g ON g.site_id = i.site_id AND g.kind = i.kind AND g.part = i.part AND g.grp = i.grp
LEFT JOIN _b fe ON g.first_is_event = 1 AND fe.event_id = g.first_event
LEFT JOIN _old fs ON g.first_is_event = 0 AND fs.kind = g.kind AND fs.site_id = g.site_id
     AND fs.session_id = g.first_old;
CREATE OR REPLACE TEMP TABLE _merges AS
SELECT i.site_id, i.old_sid AS drop_id, g.sid AS keep_id
FROM _grouped i JOIN _groups g ON g.site_id = i.site_id AND g.kind = i.kind AND g.part = i.part
     AND g.grp = i.grp
WHERE i.is_event = 0 AND i.old_sid <> g.sid;
CREATE OR REPLACE TEMP TABLE _restamp AS
SELECT DISTINCT site_id, sid AS session_id FROM _groups
WHERE n_old >= 1 AND (n_old >= 2 OR first_is_event = 1
                      OR new_entry < coalesce(old_entry, 'infinity'::TIMESTAMP));
"""

_ANY = ", ".join(f"any_value({c}) AS {c}" for c in VISIT_COLUMNS)
_FROM_BATCH = ", ".join(f"b.{c}" for c in VISIT_COLUMNS)
# Fold the batch per visit, fold the touched stored rows per visit (a late event may have
# joined two), then combine the two 1:1. Batch events already carry their visit's final
# attributes (stamped above), so those need no per-column arg_min; only the columns that
# are the first event's own (user id, hostname) follow the earlier start.
_MERGE_SESSIONS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _merged AS
WITH b AS (
    SELECT site_id, session_id, min(ts) AS start_ts, max(ts) AS end_ts,
           arg_min(pathname, ts) FILTER (WHERE name = 'pageview') AS entry_page,
           min(ts) FILTER (WHERE name = 'pageview') AS entry_ts,
           arg_max(pathname, ts) FILTER (WHERE name = 'pageview') AS exit_page,
           max(ts) FILTER (WHERE name = 'pageview') AS exit_ts,
           count(*) FILTER (WHERE name = 'pageview') AS pageviews,
           count(*) FILTER (WHERE name <> 'engagement') AS events,
           count(*) FILTER (WHERE interactive) AS interactive_events,
           arg_min(user_id, ts) AS user_id, arg_min(hostname, ts) AS hostname,
           any_value(visitor_id) AS visitor_id, {_ANY}
    FROM _batch GROUP BY site_id, session_id
), s AS (
    SELECT s.site_id, coalesce(m.keep_id, s.session_id) AS session_id,
           min(s.start_ts) AS start_ts, max(s.end_ts) AS end_ts,
           arg_min(s.entry_page, s.entry_ts) AS entry_page, min(s.entry_ts) AS entry_ts,
           arg_max(s.exit_page, s.exit_ts) AS exit_page, max(s.exit_ts) AS exit_ts,
           sum(s.pageviews) AS pageviews, sum(s.events) AS events,
           sum(s.interactive_events) AS interactive_events,
           arg_min(s.user_id, s.start_ts) AS user_id, arg_min(s.hostname, s.start_ts) AS hostname
    FROM (SELECT DISTINCT ON (site_id, session_id) * EXCLUDE (kind, part) FROM _old) s
    JOIN _touched t ON s.site_id = t.site_id AND s.session_id = t.session_id
    LEFT JOIN _merges m ON s.site_id = m.site_id AND s.session_id = m.drop_id
    GROUP BY s.site_id, coalesce(m.keep_id, s.session_id)
)
SELECT b.site_id, b.session_id,
       least(b.start_ts, coalesce(s.start_ts, b.start_ts)) AS start_ts,
       greatest(b.end_ts, coalesce(s.end_ts, b.end_ts)) AS end_ts,
       CASE WHEN s.entry_ts IS NOT NULL AND (b.entry_ts IS NULL OR s.entry_ts <= b.entry_ts)
            THEN s.entry_page ELSE b.entry_page END AS entry_page,
       least(b.entry_ts, s.entry_ts) AS entry_ts,
       CASE WHEN s.exit_ts IS NOT NULL AND (b.exit_ts IS NULL OR s.exit_ts > b.exit_ts)
            THEN s.exit_page ELSE b.exit_page END AS exit_page,
       greatest(b.exit_ts, s.exit_ts) AS exit_ts,
       b.pageviews + coalesce(s.pageviews, 0) AS pageviews,
       b.events + coalesce(s.events, 0) AS events,
       b.interactive_events + coalesce(s.interactive_events, 0) AS interactive_events,
       CASE WHEN s.start_ts <= b.start_ts THEN s.user_id ELSE b.user_id END AS user_id,
       CASE WHEN s.start_ts <= b.start_ts THEN s.hostname ELSE b.hostname END AS hostname,
       b.visitor_id, {_FROM_BATCH}
FROM b LEFT JOIN s ON b.site_id = s.site_id AND b.session_id = s.session_id
"""

_SETS = ", ".join(f"{c} = s.{c}" for c in (*VISIT_COLUMNS, "entry_page"))


def _lookups(cur: duckdb.DuckDBPyConnection, enricher: Enrichment) -> None:
    agents = [r[0] for r in cur.execute("SELECT DISTINCT user_agent FROM _in").fetchall()]
    cur.register("_ua", enricher.user_agents(agents))
    pairs = cur.execute("SELECT DISTINCT site_id, referrer FROM _in").fetchall()
    cur.register("_ref", enricher.referrers([(r[0], r[1]) for r in pairs]))
    queries = [
        r[0]
        for r in cur.execute("SELECT DISTINCT url_query FROM _in WHERE url_query <> ''").fetchall()
    ]
    cur.register("_utm", enricher.queries(queries))


def write(
    cur: duckdb.DuckDBPyConnection, source: Path, enricher: Enrichment, timeout_ms: int,
    progress: tuple[int, int] | None,
) -> dict[str, Any]:  # fmt: skip
    """Run steps 1-6 inside the caller's transaction; returns counts for the writer's stats."""
    reader = f"read_json(?, format = 'newline_delimited', columns = {_COLUMNS_ARG})"
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _in AS SELECT * EXCLUDE (event_id, ts), "
        f"CAST(event_id AS UUID) AS event_id, make_timestamp_ms(ts) AS ts FROM {reader}",
        [str(source)],
    )
    lo, hi, received, distinct = cur.execute(
        "SELECT epoch_ms(min(ts)), epoch_ms(max(ts)), count(*), count(DISTINCT event_id) FROM _in"
    ).fetchall()[0]
    if not received:
        return {"received": 0, "inserted": 0, "duplicates": 0, "dropped": 0}
    if distinct < received:  # the same event twice in one batch (a quick client retry)
        cur.execute("CREATE OR REPLACE TEMP TABLE _in AS SELECT DISTINCT ON (event_id) * FROM _in")
    # Event ids are unique: drop what is already stored (a client retry, or a replay).
    cur.execute(
        "DELETE FROM _in WHERE event_id IN (SELECT event_id FROM events "
        "WHERE ts BETWEEN make_timestamp_ms(?) AND make_timestamp_ms(?))",
        [lo - DAY_MS, hi + DAY_MS],
    )
    _lookups(cur, enricher)
    # Drops: bots first, then referrer spam, counted per site, UTC hour and reason.
    verdict = (
        "FROM _in i JOIN _ua u ON i.user_agent = u.user_agent "
        "JOIN _ref r ON i.site_id = r.site_id AND i.referrer = r.referrer"
    )
    cur.execute(
        "INSERT INTO dropped_events SELECT i.site_id, date_trunc('hour', i.ts), "
        f"CASE WHEN u.is_bot THEN 'bot' ELSE 'referrer_spam' END, count(*) {verdict} "
        "WHERE u.is_bot OR r.spam GROUP BY ALL"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _b AS SELECT i.* EXCLUDE (session_id, user_agent), "
        "i.session_id AS client_sid, u.browser, u.browser_version, u.os, u.os_version, u.device, "
        "CASE WHEN r.source <> '' THEN r.source ELSE coalesce(q.utm_source_name, '') END AS referrer_source, "
        "coalesce(q.utm_source, '') AS utm_source, coalesce(q.utm_medium, '') AS utm_medium, "
        "coalesce(q.utm_campaign, '') AS utm_campaign, coalesce(q.utm_term, '') AS utm_term, "
        f"coalesce(q.utm_content, '') AS utm_content {verdict} "
        "LEFT JOIN _utm q ON i.url_query = q.url_query WHERE NOT u.is_bot AND NOT r.spam"
    )
    cur.execute(_OLD_SQL, [_ts(lo - timeout_ms)])
    cur.execute(_ITEMS_SQL)
    cur.execute(_GROUP_SQL, [timeout_ms])
    cur.execute(_GROUPS_SQL)
    cur.execute(_BATCH_SQL)
    if cur.execute("SELECT count(*) FROM _merges").fetchall()[0][0]:
        # A late event joined two visits: move the later one's events to the kept id.
        cur.execute(
            "UPDATE events SET session_id = m.keep_id FROM _merges m "
            "WHERE events.site_id = m.site_id AND events.session_id = m.drop_id"
        )
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT site_id, session_id FROM _batch "
        "UNION SELECT site_id, drop_id FROM _merges UNION SELECT site_id, keep_id FROM _merges"
    )
    cur.execute("INSERT INTO events BY NAME SELECT * FROM _batch")
    cur.execute(_MERGE_SESSIONS_SQL)
    cur.execute(
        "DELETE FROM sessions USING _touched t "
        "WHERE sessions.site_id = t.site_id AND sessions.session_id = t.session_id"
    )
    cur.execute("INSERT INTO sessions BY NAME SELECT * FROM _merged")
    # The rollups' to-do list (store/rollups.py): every visitor whose events this batch
    # added or may re-stamp, over the visits' whole span (stored visits' old visitor too).
    cur.execute(
        "INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) "
        "SELECT site_id, visitor_id, min(lo), max(hi) FROM ("
        "SELECT site_id, visitor_id, start_ts AS lo, end_ts AS hi FROM _merged UNION ALL "
        "SELECT site_id, visitor_id, start_ts, end_ts FROM _old) GROUP BY ALL"
    )
    if cur.execute("SELECT count(*) FROM _restamp").fetchall()[0][0]:
        cur.execute(
            f"UPDATE events SET {_SETS} FROM sessions s JOIN _restamp r "
            "ON s.site_id = r.site_id AND s.session_id = r.session_id "
            "WHERE events.site_id = s.site_id AND events.session_id = s.session_id"
        )
    if progress is not None:
        cur.execute(
            'INSERT OR REPLACE INTO writer_progress (id, segment, "offset") VALUES (1, ?, ?)',
            list(progress),
        )
    counts = cur.execute(
        "SELECT (SELECT count(*) FROM _in), (SELECT count(*) FROM _batch), "
        "(SELECT count(*) FROM _in) - (SELECT count(*) FROM _b)"
    ).fetchall()[0]
    for name in ("_ua", "_ref", "_utm"):
        cur.unregister(name)
    return {
        "received": received,
        "duplicates": received - counts[0],
        "inserted": counts[1],
        "dropped": counts[2],
    }


def _ts(ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)
