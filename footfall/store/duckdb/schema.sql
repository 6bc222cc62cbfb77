-- Footfall embedded store (DuckDB). Applied idempotently at open.
-- events, sessions, dropped_events: footfall/ingest/batch/tables.sql (applied first).

-- Where the writer is in the queue; committed in the same transaction as the events.
CREATE TABLE IF NOT EXISTS writer_progress (
    id INTEGER PRIMARY KEY,
    segment BIGINT NOT NULL,
    "offset" BIGINT NOT NULL
);

-- Exact rollups for the dashboard's distinct counts (footfall/store/rollups.py).
-- reach: bit i of ``days`` says the visitor numbered ``vno`` (visitor_numbers) had an
-- event with ``value`` (of ``kind``) on site-local day 32*win + i; every day lies in two
-- 64-day windows, so any range of up to 33 days is one window's filtered count(*).
-- daily: per site-local day, additive sums.
CREATE TABLE IF NOT EXISTS reach (
    site_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    win INTEGER NOT NULL,
    value VARCHAR,
    vno UINTEGER NOT NULL,
    days UBIGINT NOT NULL
);
-- Each visitor of a built site by a small number, in order of first appearance: reach
-- holds the number, which compresses to a few bits a row where the random 64-bit id
-- took 8 bytes (issue 25: most of the file at 10M events).
CREATE TABLE IF NOT EXISTS visitor_numbers (
    site_id VARCHAR NOT NULL,
    visitor_id UBIGINT NOT NULL,
    vno UINTEGER NOT NULL
);
-- reach_firsts: how many reach rows have bit ``d`` set with ``prev`` the bit set before it
-- (-1: none); a row has a day in the range [a, b] exactly when one of its bits has
-- a <= d <= b and prev < a (its first day in the range), so a range's visitors per value
-- are one filtered sum of these (n < 0: removed by a seal, until compacted).
CREATE TABLE IF NOT EXISTS reach_firsts (
    site_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    win INTEGER NOT NULL,
    value VARCHAR,
    d SMALLINT NOT NULL,
    prev SMALLINT NOT NULL,
    n BIGINT NOT NULL
);
-- rollups layout 3 counted (value, days) patterns instead; layout 4 rebuilds without them.
DROP TABLE IF EXISTS reach_counts;
CREATE TABLE IF NOT EXISTS daily (
    site_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    day DATE NOT NULL,
    value VARCHAR,
    visitors BIGINT NOT NULL,
    pageviews BIGINT NOT NULL,
    events BIGINT NOT NULL
);
-- visit_daily: per site-local day of a visit's start, the additive visit sums (visits,
-- bounces, duration) for the site total and the visit dimensions.
CREATE TABLE IF NOT EXISTS visit_daily (
    site_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    day DATE NOT NULL,
    value VARCHAR,
    visits BIGINT NOT NULL,
    bounces BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL
);
-- Visitors whose events the writer added or re-stamped since the last seal, with the time
-- span touched; their days are answered from raw events until the seal folds them in.
CREATE SEQUENCE IF NOT EXISTS rollup_seq;
CREATE TABLE IF NOT EXISTS rollup_pending (
    seq BIGINT NOT NULL DEFAULT nextval('rollup_seq'),
    site_id VARCHAR NOT NULL,
    visitor_id UBIGINT NOT NULL,
    lo TIMESTAMP NOT NULL,
    hi TIMESTAMP NOT NULL
);
-- Sites whose rollups are built, and the zone their days are in.
CREATE TABLE IF NOT EXISTS rollup_state (
    site_id VARCHAR PRIMARY KEY,
    timezone VARCHAR NOT NULL,
    built_at TIMESTAMP NOT NULL
);
-- The rollups' layout version a site was built with (older ones are rebuilt).
ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS version INTEGER DEFAULT 1;
-- reach rows the seals appended since the last build or re-sort (rollups_upkeep.py).
ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS sealed_rows BIGINT DEFAULT 0;
-- Raw events (and visits) before this instant may have been deleted by retention while the
-- rollups keep them: a query must not fall back from the rollups to raw events before it
-- (footfall/query/rollup_pending.py). A build, from the raw events left, clears it.
ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS raw_from TIMESTAMP;
-- How many events the last compaction sorted (footfall/store/duckdb/compact.py).
CREATE TABLE IF NOT EXISTS compact_state (
    id INTEGER PRIMARY KEY,
    events_sorted BIGINT NOT NULL
);
