"""The ClickHouse store's tables, as numbered migrations applied once each, in order
(``footfall migrate`` and every start; idempotent).

- ``events``: MergeTree by month, ordered for one site's time-range scans (the dashboard's
  every query) with the event name next, so goal filters skip granules, as Plausible's
  ``events_v2``. ``part`` and ``pos`` are the queue partition and position of the round
  that wrote the row: a replay of an unfinished round recognises its partition's own rows
  (``footfall/store/clickhouse/replay.py``); ``dropped_events`` has them too.
- ``sessions``: one row per visit, ReplacingMergeTree(version, is_deleted): a round that
  changes a visit inserts its new row with a higher version, and a visit merged into
  another gets a deleted row; reads see the latest row through ``FINAL`` (the ``final``
  setting). The simpler engine was chosen over VersionedCollapsingMergeTree: a visit's row
  is replaced whole (never summed), so no sign column and no pair of rows is needed.
  Its deleted rows with an empty site id are the writers' progress markers, one key per
  queue partition (``session_id`` = the partition).
- ``dropped_events``: counts of events the writer dropped, per site, hour and reason.

LowCardinality where a column holds few distinct values per part (browsers, countries,
sources, pages); inserts carry deduplication tokens, which plain MergeTree keeps only with
``non_replicated_deduplication_window``.
"""

from __future__ import annotations

from footfall.store import imported
from footfall.store.base import RENAMED_VALUES
from footfall.store.clickhouse import by_source, firsts
from footfall.store.clickhouse.rollups_job import CLAIMS

DEDUPE = "non_replicated_deduplication_window = 1000"

_LC = "LowCardinality(Nullable(String))"
_S = "Nullable(String)"

EVENTS = f"""
CREATE TABLE IF NOT EXISTS events (
    event_id UUID,
    site_id LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    name LowCardinality(String),
    hostname {_LC}, pathname {_S}, url_query {_S}, referrer {_S}, referrer_source {_LC},
    utm_source {_LC}, utm_medium {_LC}, utm_campaign {_LC}, utm_term {_S}, utm_content {_S},
    visitor_id UInt64,
    session_id UInt64,
    user_id {_S},
    browser {_LC}, browser_version {_LC}, os {_LC}, os_version {_LC}, device {_LC},
    screen {_LC}, language {_LC}, country {_LC}, region {_LC}, city {_LC},
    title {_S},
    entry_page {_S},
    props Map(String, String),
    revenue Nullable(Float64),
    duration_ms Nullable(Int64),
    load_time_ms Nullable(Int64),
    scroll_depth Nullable(Int64),
    interactive Bool,
    pos UInt64 CODEC(Delta, ZSTD)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, toDate(ts), name, visitor_id, ts)
SETTINGS {DEDUPE}
"""

SESSIONS = f"""
CREATE TABLE IF NOT EXISTS sessions (
    site_id LowCardinality(String),
    session_id UInt64,
    start_ts DateTime64(3, 'UTC'),
    end_ts DateTime64(3, 'UTC'),
    entry_page {_S}, entry_ts Nullable(DateTime64(3, 'UTC')),
    exit_page {_S}, exit_ts Nullable(DateTime64(3, 'UTC')),
    pageviews Int64, events Int64, interactive_events Int64,
    visitor_id UInt64,
    user_id {_S}, hostname {_LC}, referrer {_S}, referrer_source {_LC},
    utm_source {_LC}, utm_medium {_LC}, utm_campaign {_LC}, utm_term {_S}, utm_content {_S},
    browser {_LC}, browser_version {_LC}, os {_LC}, os_version {_LC}, device {_LC},
    screen {_LC}, language {_LC}, country {_LC}, region {_LC}, city {_LC},
    version UInt64,
    is_deleted UInt8
) ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (site_id, session_id)
SETTINGS {DEDUPE}
"""

DROPPED = f"""
CREATE TABLE IF NOT EXISTS dropped_events (
    site_id LowCardinality(String),
    hour DateTime64(3, 'UTC'),
    reason LowCardinality(String),
    n Int64
) ENGINE = MergeTree
ORDER BY (site_id, hour, reason)
SETTINGS {DEDUPE}
"""

# Values stored before Footfall took Plausible's names ("desktop" is "Desktop", "macOS"
# is "Mac"): rewritten in place, waiting for the rewrite to finish.
RENAME_VALUES = tuple(
    f"ALTER TABLE {table} UPDATE {column} = '{new}' WHERE {column} = '{old}' "
    "SETTINGS mutations_sync = 2"
    for table in ("events", "sessions")
    for column, old, new in RENAMED_VALUES
)
# The exact daily rollups (footfall/store/clickhouse/rollups.py): per site, dimension
# (``kind``), UTC day, value and visitor, the pageview and event counts (one row per
# visitor and day, so a range's visitors are a distinct count of far fewer rows than its
# events: exact); days whose rows may be
# stale (a re-stamp, a retention cut inside the day) are listed in ``rollup_dirty`` and
# read from raw events until the rollups job rebuilds them.
VISITOR_DAYS = """
CREATE TABLE IF NOT EXISTS visitor_days (
    site_id LowCardinality(String),
    kind LowCardinality(String),
    day DateTime64(3, 'UTC'),
    value LowCardinality(String),
    visitor_id UInt64,
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, kind, day, value, visitor_id)
"""
ROLLUP_DIRTY = """
CREATE TABLE IF NOT EXISTS rollup_dirty (
    site_id LowCardinality(String),
    day DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (site_id, day)
"""
# The visit-level daily rollups: one row per site, UTC day, visitor and combination of
# the kept visit dimensions' values (columns ``c0``, ``c1``, ... in the order of
# ``RollupSpec.daily_columns``; footfall/store/clickhouse/rollups.py recreates the table
# with them when it builds). A visitor's visits of a day mostly share those values, so
# the table holds about one row per visitor and day, whatever the number of columns.
VISIT_DAYS = """
CREATE TABLE IF NOT EXISTS visit_days (
    site_id LowCardinality(String),
    day DateTime64(3, 'UTC'),
    visitor_id UInt64,
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, day, visitor_id)
"""
ROLLUP_LAYOUT = """
CREATE TABLE IF NOT EXISTS rollup_layout (version UInt32, built_at DateTime)
ENGINE = MergeTree ORDER BY version
"""

# Layout 9 of the daily rollups: their rows keep the hour their events were inserted in
# (``ins``), so the rollups job can rebuild a day while writers insert into it
# (footfall/store/clickhouse/rollups.py); the views are created again by the next build.
VISITOR_DAYS_9 = """
CREATE TABLE IF NOT EXISTS visitor_days (
    site_id LowCardinality(String),
    kind LowCardinality(String),
    day DateTime64(3, 'UTC'),
    value LowCardinality(String),
    visitor_id UInt64,
    ins DateTime('UTC'),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, kind, day, value, visitor_id, ins)
"""
VISIT_DAYS_9 = VISIT_DAYS.replace(
    "visitor_id UInt64,", "visitor_id UInt64, ins DateTime('UTC'),"
).replace("visitor_id)", "visitor_id, ins)")

# When each generation of the visits' copy (``visit_starts``) was complete: queries read
# the newest, as of its gate (visit_copy.py).
VISIT_GATES = """
CREATE TABLE IF NOT EXISTS visit_gates (
    gate DateTime('UTC'),
    at DateTime('UTC') DEFAULT now()
) ENGINE = MergeTree ORDER BY gate
"""

# The hourly rollups (footfall/store/clickhouse/rollups.py, footfall/query/hourly.py): one
# row per site, UTC hour, visitor and insert hour, with the pageview and event counts, so
# a site whose zone is whole hours from UTC gets its local days (and any range of them)
# as a distinct count over visitor-hours, exactly, instead of over raw events. ``day``
# (the hour's UTC day) is what the dirty marks and the retention cut name.
VISITOR_HOURS = """
CREATE TABLE IF NOT EXISTS visitor_hours (
    site_id LowCardinality(String),
    day DateTime64(3, 'UTC'),
    hour DateTime('UTC'),
    visitor_id UInt64,
    ins DateTime('UTC'),
    pageviews SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (site_id, day, hour, visitor_id, ins)
"""

# version -> statements; append, never edit an applied one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (EVENTS, SESSIONS, DROPPED)),
    # Imported aggregates (footfall/store/imported.py), apart from raw events.
    (2, (imported.clickhouse_ddl(),)),
    (3, RENAME_VALUES),
    # The visit's last event that is not an engagement event (visit duration ends there).
    (4, ("ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_ts Nullable(DateTime64(3, 'UTC'))",)),
    # The hostname of the visit's exit page (Plausible's visit:exit_page_hostname).
    (5, (f"ALTER TABLE sessions ADD COLUMN IF NOT EXISTS exit_hostname {_LC}",)),
    # The exact daily rollups and the days they must not be trusted for.
    (6, (VISITOR_DAYS, ROLLUP_DIRTY, ROLLUP_LAYOUT)),
    # The queue partition and position of the round that wrote each row, so a replay of
    # one partition takes back only that partition's uncommitted rows (replay.py).
    (
        7,
        (
            "ALTER TABLE events ADD COLUMN IF NOT EXISTS part UInt16 DEFAULT 0 CODEC(ZSTD)",
            "ALTER TABLE dropped_events ADD COLUMN IF NOT EXISTS pos UInt64 DEFAULT 0",
            "ALTER TABLE dropped_events ADD COLUMN IF NOT EXISTS part UInt16 DEFAULT 0",
        ),
    ),
    # Pages as LowCardinality: a few thousand paths per site, filtered by substring and
    # grouped on every dashboard; functions run once per dictionary value, and the column
    # reads 2 bytes a row instead of the path (bench/query.py --store chdb, docs/benchmarks.md).
    # And the visit-level daily rollups' table (filled when the rollups job builds).
    (
        8,
        (
            *(
                f"ALTER TABLE {table} MODIFY COLUMN {column} {_LC}"
                for table, column in (
                    ("events", "pathname"),
                    ("events", "entry_page"),
                    ("sessions", "entry_page"),
                    ("sessions", "exit_page"),
                )
            ),
            VISIT_DAYS,
        ),
    ),
    # The server's insert stamp of every event (a MATERIALIZED column: never sent by the
    # writer, not in ``SELECT *``; the rows already stored get the migration's time), an
    # id and a time on each dirty mark (a refresh clears only the marks it read), the
    # rollup tables with the insert hour, and the rollups job's claims across processes.
    (
        9,
        (
            "ALTER TABLE events ADD COLUMN IF NOT EXISTS inserted DateTime('UTC') "
            "MATERIALIZED now() CODEC(Delta, ZSTD)",
            "ALTER TABLE events MATERIALIZE COLUMN inserted SETTINGS mutations_sync = 2",
            "ALTER TABLE rollup_dirty ADD COLUMN IF NOT EXISTS mark UUID DEFAULT generateUUIDv4()",
            "ALTER TABLE rollup_dirty ADD COLUMN IF NOT EXISTS at DateTime('UTC') DEFAULT now()",
            "ALTER TABLE rollup_dirty MATERIALIZE COLUMN mark SETTINGS mutations_sync = 2",
            "ALTER TABLE rollup_dirty MATERIALIZE COLUMN at SETTINGS mutations_sync = 2",
            "DROP VIEW IF EXISTS visitor_days_mv",
            "DROP VIEW IF EXISTS visit_days_mv",
            "DROP TABLE IF EXISTS visitor_days",
            "DROP TABLE IF EXISTS visit_days",
            VISITOR_DAYS_9,
            VISIT_DAYS_9,
            "TRUNCATE TABLE rollup_layout",
            CLAIMS,
        ),
    ),
    # Block numbers and offsets on events: a round's DELETE of re-stamped events' older rows
    # is then a patch part, not a mutation waiting for merges (replay.py ``delete``).
    (
        10,
        (
            "ALTER TABLE events MODIFY SETTING "
            "enable_block_number_column = 1, enable_block_offset_column = 1",
        ),
    ),
    # The server's insert stamp of every visit row too, and the published generations of
    # ``visit_starts``, the copy of the visits ordered by start time
    # (footfall/store/clickhouse/visit_copy.py; the rollups job creates the copy itself).
    (
        11,
        (
            "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS inserted DateTime('UTC') "
            "MATERIALIZED now() CODEC(Delta, ZSTD)",
            "ALTER TABLE sessions MATERIALIZE COLUMN inserted SETTINGS mutations_sync = 2",
            VISIT_GATES,
            "TRUNCATE TABLE rollup_layout",
        ),
    ),
    # Each visitor's first day in any range per kept dimension value, and its counts,
    # written with each generation of the visits' copy (firsts.py); a rebuild fills them.
    (12, (firsts.DAYS, firsts.COUNTS_DDL, "TRUNCATE TABLE rollup_layout")),
    # The hourly rollups' table (filled by the next build, which its view joins), and the
    # visit sums per hour written with each generation of the visits' copy (firsts.py).
    (13, (VISITOR_HOURS, firsts.SUMS_DDL, "TRUNCATE TABLE rollup_layout")),
    # A narrow copy of the events ordered by (site, source, time), kept by a view, for
    # the reads under a source filter (by_source.py), filled with the stored events.
    (14, by_source.MIGRATION),
    # Each granule's time span, so a time range skips the granules of other days: the
    # sorting key's toDate(ts) is not derived from a condition on ts (a DateTime64), and a
    # range read every granule of its months' parts (a writer round's event-id lookup
    # included, which grew with the store). A granule holds one day's rows (the key
    # starts with the day), so its span is at most that day.
    (
        15,
        (
            "ALTER TABLE events ADD INDEX IF NOT EXISTS ts_span ts TYPE minmax GRANULARITY 1",
            "ALTER TABLE events MATERIALIZE INDEX ts_span SETTINGS mutations_sync = 2",
        ),
    ),
)

LEDGER = """
CREATE TABLE IF NOT EXISTS footfall_migrations (version UInt32, applied_at DateTime)
ENGINE = ReplacingMergeTree ORDER BY version
"""
