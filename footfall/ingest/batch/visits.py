"""Visits for the DuckDB write path (:mod:`footfall.ingest.batch.steps`, steps 4 and 5):
the SQL and the Arrow grouping that assign a batch's events to visits and give each visit
its ``sessions`` row, and the statements of step 6 that insert those rows.

Every statement here works on the temp tables of one batch's transaction: ``_in`` (the
batch), ``_old`` (the stored visits it may touch), ``_grouped`` (the ordered items with
their group, from :func:`_group`), ``_groups`` (one row per group), ``_merges`` and
``_restamp``. ``write`` runs them in order and chooses between the fast and the general
fold.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from footfall.store.base import EVENT_COLUMNS, VISIT_COLUMNS, EventPieces

# The stored visits this batch may touch, read once: those of its visitors that end
# within the timeout of the batch, and those of client-supplied session ids.
_OLD_SQL = """
CREATE OR REPLACE TEMP TABLE _old AS
WITH vis AS (SELECT DISTINCT site_id, visitor_id FROM _in WHERE session_id = 0)
SELECT s.*, 0 AS kind, s.visitor_id AS part
FROM sessions s JOIN vis ON s.site_id = vis.site_id AND s.visitor_id = vis.visitor_id
WHERE s.end_ts >= ?
"""
_OLD_CLIENT_SQL = """
INSERT INTO _old
WITH cli AS (SELECT DISTINCT site_id, session_id FROM _in WHERE session_id <> 0)
SELECT s.*, 1, s.session_id
FROM sessions s JOIN cli ON s.site_id = cli.site_id AND s.session_id = cli.session_id
"""
# ``last_ts`` of a visit of engagement events only: before every real time, so a later
# fold's max() passes over it, and its duration reads as 0 (footfall/query/metrics.py).
_NO_LAST = "TIMESTAMP '1970-01-01 00:00:00'"
# Visits as intervals per visitor (kind 0) or client session id (kind 1): the stored ones
# and the batch's events, in order within each partition. Each item also carries what its
# visit's fold needs: a stored visit its stored aggregates, an event its own contribution
# (and ``rid``, its row in ``_in``).
_ITEMS_OLD = """
SELECT site_id, kind, part, start_ts AS lo, end_ts AS hi, session_id AS old_sid,
       NULL::UUID AS event_id, NULL::BIGINT AS rid, 0 AS is_event, visitor_id, entry_page,
       entry_ts, exit_page, exit_ts, pageviews AS pv, events AS ev, interactive_events AS ia,
       user_id, hostname, coalesce(last_ts, end_ts) AS last, exit_hostname AS exit_host
FROM _old
UNION ALL
"""
_ITEMS_SQL = """
SELECT * EXCLUDE (event_id) FROM ({old}
    SELECT site_id, (session_id <> 0)::INTEGER AS kind,
           CASE WHEN session_id <> 0 THEN session_id ELSE visitor_id END AS part,
           ts AS lo, ts AS hi, NULL::UBIGINT AS old_sid, event_id, rowid AS rid, 1 AS is_event,
           visitor_id, CASE WHEN name = 'pageview' THEN pathname END AS entry_page,
           CASE WHEN name = 'pageview' THEN ts END AS entry_ts,
           CASE WHEN name = 'pageview' THEN pathname END AS exit_page,
           CASE WHEN name = 'pageview' THEN ts END AS exit_ts,
           (name = 'pageview')::BIGINT AS pv, (name <> 'engagement')::BIGINT AS ev,
           interactive::BIGINT AS ia, user_id, hostname,
           CASE WHEN name <> 'engagement' THEN ts END AS last,
           CASE WHEN name = 'pageview' THEN hostname END AS exit_host
    FROM _in
) ORDER BY site_id, kind, part, lo, is_event, event_id
"""


def _group(items: pa.Table, timeout_ms: int) -> pa.Table:
    """Number the merged groups of the ordered items (``grp``, unique across partitions)
    and their order (``rn``): an item starts a group when it starts its partition, or when
    its partition is a visitor's and it begins more than the timeout after everything before
    it ended. Column-at-a-time (Arrow compute), no Python per item."""
    n = items.num_rows
    if n == 0:
        return items.append_column("grp", pa.array([], pa.int64())).append_column(
            "rn", pa.array([], pa.int64())
        )

    def prev(column: Any) -> Any:  # the previous row's value (null for the first)
        arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        return pa.concat_arrays([pa.nulls(1, arr.type), arr.slice(0, n - 1)])

    starts = pc.fill_null(
        pc.or_(
            pc.or_(
                pc.not_equal(items["site_id"], prev(items["site_id"])),
                pc.not_equal(items["kind"], prev(items["kind"])),
            ),
            pc.not_equal(items["part"], prev(items["part"])),
        ),
        True,
    )
    # A running max per partition: lift each partition above every earlier one.
    lo = pc.cast(items["lo"], pa.int64())
    hi = pc.cast(items["hi"], pa.int64())
    base = pc.min(lo).as_py()
    lift = pc.multiply(pc.cumulative_sum(pc.cast(starts, pa.int64())), 1 << 42)
    ended = prev(pc.cumulative_max(pc.add(lift, pc.subtract(hi, base))))
    late = pc.greater(pc.add(lift, pc.subtract(lo, base)), pc.add(ended, timeout_ms * 1000))
    breaks = pc.fill_null(pc.or_(starts, pc.and_(pc.equal(items["kind"], 0), late)), True)
    grp = pc.cumulative_sum(pc.cast(breaks, pa.int64()))
    return items.append_column("grp", grp).append_column("rn", pa.array(range(n), pa.int64()))


# The first event's values of a visit's attributes, as the group's row (below) takes them.
_FIRST_EVENT = {
    "referrer": "i.referrer",
    "referrer_source": "CASE WHEN r.source <> '' THEN r.source ELSE coalesce(q.utm_source_name, '') END",
    **{f"utm_{c}": f"coalesce(q.utm_{c}, '')" for c in ("source", "medium", "campaign", "term", "content")},
    **{c: f"u.{c}" for c in ("browser", "browser_version", "os", "os_version", "device")},
    **{c: f"i.{c}" for c in ("screen", "language", "country", "region", "city")},
}  # fmt: skip
assert tuple(_FIRST_EVENT) == VISIT_COLUMNS
_STAMPED = ", ".join(
    f"CASE WHEN g.first_is_event = 1 THEN {_FIRST_EVENT[c]} ELSE fs.{c} END AS {c}"
    for c in VISIT_COLUMNS
)
# The fold of each group's items in numbers: a value of one item (the first by ``rn``, the
# entry/exit item by time; like arg_min, skipping NULLs) is its row number in ``_grouped``,
# whose value ``_group_rows`` takes from the Arrow items (arg_min over the strings cost 0.18
# s CPU per 150,000 events, the numbers 0.07 s).
_GROUP_AGG_SQL = f"""
SELECT grp, min(rn) AS site_rn, any_value(kind) AS kind, any_value(part) AS part,
       arg_min(visitor_id, rn) AS first_visitor, arg_min(is_event, rn) AS first_is_event,
       arg_min(rid, rn) AS first_rid, arg_min(old_sid, rn) AS first_old,
       count(rid) AS n_ev, count(old_sid) AS n_old,
       min(entry_ts) FILTER (WHERE is_event = 1) AS new_entry,
       min(entry_ts) FILTER (WHERE is_event = 0) AS old_entry,
       min(lo) AS start_ts, max(hi) AS end_ts,
       arg_min(rn, epoch_us(entry_ts) * 2 + is_event) FILTER (entry_page IS NOT NULL) AS entry_rn,
       min(entry_ts) AS entry_ts,
       arg_max(rn, epoch_us(exit_ts) * 2 + is_event) FILTER (exit_page IS NOT NULL) AS exit_rn,
       arg_max(rn, epoch_us(exit_ts) * 2 + is_event) FILTER (exit_host IS NOT NULL) AS exit_host_rn,
       max(exit_ts) AS exit_ts, sum(pv)::BIGINT AS pageviews, sum(ev)::BIGINT AS events,
       sum(ia)::BIGINT AS interactive_events, min(rn) FILTER (user_id IS NOT NULL) AS user_rn,
       min(rn) FILTER (hostname IS NOT NULL) AS host_rn, coalesce(max(last), {_NO_LAST}) AS last_ts
FROM _grouped GROUP BY grp
"""
_PICKS = (  # (item column, the aggregate's row number of it, the group's column)
    ("site_id", "site_rn", "site_id"), ("entry_page", "entry_rn", "entry_page"),
    ("exit_page", "exit_rn", "exit_page"), ("exit_host", "exit_host_rn", "exit_hostname"),
    ("user_id", "user_rn", "user_id"), ("hostname", "host_rn", "hostname"),
)  # fmt: skip


def _group_rows(grouped: pa.Table, agg: pa.Table) -> pa.Table:
    """The aggregate's rows with the values its row numbers point at in ``grouped`` (``rn``
    is the row's index there) in place of those numbers."""
    for item, rn, name in _PICKS:
        values = pc.take(grouped[item], agg[rn])
        agg = agg.set_column(agg.schema.get_field_index(rn), name, values)
    return agg


# One row per group (``_g``, from the two above): its id (a stored visit's, the earliest if a
# late event bridged two; a new group's is a hash of its first event id), visitor, what
# changed for its stored visits, its attributes (its first item's: a batch event's own or
# the stored visit's), and the fold of all its items: the visit's sessions row. Ties of a
# stored visit and a batch event: entry and start to the stored visit, exit to the batch.
_GROUPS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _groups AS
SELECT g.* EXCLUDE (first_visitor, first_rid),
       CASE WHEN g.kind = 1 THEN g.part ELSE coalesce(g.first_old, hash(i.event_id)) END AS sid,
       CASE WHEN g.kind = 1 THEN g.first_visitor ELSE g.part END AS visitor,
       {_STAMPED}
FROM _g g
LEFT JOIN _in i ON i.rowid = g.first_rid
LEFT JOIN _ua u ON i.user_agent = u.user_agent
LEFT JOIN _ref r ON i.site_id = r.site_id AND i.referrer = r.referrer
LEFT JOIN _utm q ON i.url_query = q.url_query
LEFT JOIN _old fs ON g.first_is_event = 0 AND fs.kind = g.kind AND fs.site_id = g.site_id
     AND fs.session_id = g.first_old
"""
_GROUP_OF = "JOIN _groups g ON g.grp = i.grp"
_RESTAMP = (
    "n_old >= 1 AND (n_old >= 2 OR first_is_event = 1 "
    "OR new_entry < coalesce(old_entry, 'infinity'::TIMESTAMP))"
)
# Only a batch event joins stored visits: a group of stored visits alone (two that overlap,
# one with a client session id, one cookieless) is left exactly as it is stored.
_MERGES_SQL = f"""
CREATE OR REPLACE TEMP TABLE _merges AS
SELECT i.site_id, i.old_sid AS drop_id, g.sid AS keep_id FROM _grouped i {_GROUP_OF}
WHERE i.is_event = 0 AND i.old_sid <> g.sid AND g.n_ev > 0;
CREATE OR REPLACE TEMP TABLE _restamp AS
SELECT DISTINCT site_id, sid AS session_id FROM _groups WHERE n_ev > 0 AND {_RESTAMP};
"""
# An event's own columns in step 6's query; the rest are its visit's, from its group.
_OWN = ("event_id", "site_id", "ts", "name", "hostname", "pathname", "url_query", "user_id", "title",
        "props", "revenue", "duration_ms", "load_time_ms", "scroll_depth", "interactive")  # fmt: skip


def new_events(restamped: str | None, items: pa.Table) -> tuple[str, EventPieces]:
    """The batch's events as stored (step 6), each with its visit's values: its group's,
    or, for a visit ``restamped`` selects (``site_id, session_id`` and the visit's row),
    that row's, exactly what re-stamping the visit's stored events writes, so the new
    events need no update after they are written. As one query, and as its pieces (own
    columns, visit values per group, ``items`` linking them) for a target to join."""
    join, pick = "", "{g} AS {c}"
    if restamped is not None:
        join = (
            f"LEFT JOIN (SELECT DISTINCT ON (site_id, session_id) * FROM {restamped}) s "
            "ON s.site_id = g.site_id AND s.session_id = g.sid"
        )
        pick = "CASE WHEN s.site_id IS NULL THEN {g} ELSE s.{c} END AS {c}"
    visit = ", ".join(pick.format(g=f"g.{c}", c=c) for c in VISIT_COLUMNS)
    entry = pick.format(g="coalesce(g.entry_page, '')", c="entry_page")
    visits = f"SELECT g.grp, g.site_id, {visit}, g.visitor AS visitor_id, g.sid AS session_id, {entry} FROM _groups g {join}"
    own = f"SELECT rowid AS rid, {', '.join(_OWN)} FROM _in"
    cols = ", ".join(f"b.{c}" if c in _OWN else f"v.{c}" for c, _ in EVENT_COLUMNS)
    sql = f"SELECT {cols} FROM ({own}) b JOIN _grouped i ON i.rid = b.rid JOIN ({visits}) v ON v.grp = i.grp"
    return sql, EventPieces(own, visits, items)


_SESSION_COLUMNS = (
    "site_id", "session_id", "start_ts", "end_ts", "entry_page", "entry_ts", "exit_page",
    "exit_ts", "pageviews", "events", "interactive_events", "visitor_id", "user_id", "hostname",
    "last_ts", "exit_hostname", *VISIT_COLUMNS,
)  # fmt: skip
# The common case: every group is one visit of its own (no client-supplied session id in
# the batch, and no group of stored visits alone), so each group with events is exactly
# its visit's new sessions row (``_FOLD``, a subquery: a view would be planned once more),
# and the stored rows it replaces are its stored items (``_touched``, needed only when
# the batch touched stored visits).
_FOLD = (
    "(SELECT * EXCLUDE (sid, visitor), sid AS session_id, visitor AS visitor_id FROM _groups "
    "WHERE n_ev > 0)"
)
_FAST_TOUCHED_SQL = f"""
CREATE OR REPLACE TEMP TABLE _touched AS
SELECT i.site_id, i.old_sid AS session_id FROM _grouped i {_GROUP_OF}
WHERE i.is_event = 0 AND g.n_ev > 0;
"""
# Otherwise fold the batch per visit id, fold the touched stored rows per visit id (a late
# event may have joined two), then combine the two 1:1. A visit's visitor and attributes
# are its group's (the earliest-starting one's, if two groups share the id); only the
# columns that are the first event's own (user id, hostname) follow the earlier start.
_FROM_GA = ", ".join(f"ga.{c}" for c in VISIT_COLUMNS)
_SESSIONS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _touched AS
SELECT DISTINCT site_id, sid AS session_id FROM _groups WHERE n_ev > 0
UNION SELECT site_id, drop_id FROM _merges UNION SELECT site_id, keep_id FROM _merges;
CREATE OR REPLACE TEMP TABLE _merged AS
WITH ga AS (
    SELECT DISTINCT ON (site_id, sid) * FROM _groups WHERE n_ev > 0
    ORDER BY site_id, sid, start_ts, kind, part
), b AS (
    SELECT g.site_id, g.sid AS session_id, min(e.ts) AS start_ts, max(e.ts) AS end_ts,
           arg_min(e.pathname, e.ts) FILTER (WHERE e.name = 'pageview') AS entry_page,
           min(e.ts) FILTER (WHERE e.name = 'pageview') AS entry_ts,
           arg_max(e.pathname, e.ts) FILTER (WHERE e.name = 'pageview') AS exit_page,
           arg_max(e.hostname, e.ts) FILTER (WHERE e.name = 'pageview') AS exit_hostname,
           max(e.ts) FILTER (WHERE e.name = 'pageview') AS exit_ts,
           count(*) FILTER (WHERE e.name = 'pageview') AS pageviews,
           count(*) FILTER (WHERE e.name <> 'engagement') AS events,
           count(*) FILTER (WHERE e.interactive) AS interactive_events,
           arg_min(e.user_id, e.ts) AS user_id, arg_min(e.hostname, e.ts) AS hostname,
           max(e.ts) FILTER (WHERE e.name <> 'engagement') AS last_ts
    FROM _in e JOIN _grouped i ON i.rid = e.rowid {_GROUP_OF}
    GROUP BY g.site_id, g.sid
), s AS (
    SELECT s.site_id, coalesce(m.keep_id, s.session_id) AS session_id,
           min(s.start_ts) AS start_ts, max(s.end_ts) AS end_ts,
           arg_min(s.entry_page, s.entry_ts) AS entry_page, min(s.entry_ts) AS entry_ts,
           arg_max(s.exit_page, s.exit_ts) AS exit_page, max(s.exit_ts) AS exit_ts,
           arg_max(s.exit_hostname, s.exit_ts) AS exit_hostname,
           sum(s.pageviews) AS pageviews, sum(s.events) AS events,
           sum(s.interactive_events) AS interactive_events,
           arg_min(s.user_id, s.start_ts) AS user_id, arg_min(s.hostname, s.start_ts) AS hostname,
           max(coalesce(s.last_ts, s.end_ts)) AS last_ts
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
       CASE WHEN s.exit_ts IS NOT NULL AND (b.exit_ts IS NULL OR s.exit_ts > b.exit_ts)
            THEN s.exit_hostname ELSE b.exit_hostname END AS exit_hostname,
       greatest(b.exit_ts, s.exit_ts) AS exit_ts,
       b.pageviews + coalesce(s.pageviews, 0) AS pageviews,
       b.events + coalesce(s.events, 0) AS events,
       b.interactive_events + coalesce(s.interactive_events, 0) AS interactive_events,
       CASE WHEN s.start_ts <= b.start_ts THEN s.user_id ELSE b.user_id END AS user_id,
       CASE WHEN s.start_ts <= b.start_ts THEN s.hostname ELSE b.hostname END AS hostname,
       coalesce(greatest(b.last_ts, s.last_ts), {_NO_LAST}) AS last_ts,
       ga.visitor AS visitor_id, {_FROM_GA}
FROM b JOIN ga ON ga.site_id = b.site_id AND ga.sid = b.session_id
LEFT JOIN s ON b.site_id = s.site_id AND b.session_id = s.session_id
"""

_SETS = ", ".join(f"{c} = s.{c}" for c in (*VISIT_COLUMNS, "entry_page"))
