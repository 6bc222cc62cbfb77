-- Footfall embedded store (DuckDB). Applied idempotently at open.
-- events, sessions, dropped_events: footfall/ingest/batch/tables.sql (applied first).

-- Where the writer is in the queue; committed in the same transaction as the events.
CREATE TABLE IF NOT EXISTS writer_progress (
    id INTEGER PRIMARY KEY,
    segment BIGINT NOT NULL,
    "offset" BIGINT NOT NULL
);

-- Exact rollups for the dashboard's distinct counts (footfall/store/duckdb/rollups.py).
-- day_bitmaps: the visitors (by their numbers in visitor_numbers) who had an event with
-- ``value`` (of ``kind``) on site-local day ``day`` (days since 1970-01-01), as a
-- serialized roaring bitmap, with ``n`` its cardinality; a range's visitors per value are
-- the cardinality of the union of its days' bitmaps.
CREATE TABLE IF NOT EXISTS day_bitmaps (
    site_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    day INTEGER NOT NULL,
    value VARCHAR,
    n INTEGER NOT NULL,
    bits BLOB NOT NULL
);
-- day_firsts: how many of a day_bitmaps row's visitors were last seen with the value
-- ``gap`` days before (1-32; 0: not within 32 days); a range's visitors per value are a
-- filtered sum of these (footfall/store/duckdb/firsts.py).
CREATE TABLE IF NOT EXISTS day_firsts (
    site_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    day INTEGER NOT NULL,
    value VARCHAR,
    gap SMALLINT NOT NULL,
    n INTEGER NOT NULL
);
-- Each visitor of a built site by a small number, in order of first appearance: the
-- bitmaps hold the numbers (32 bits, nearby for visitors of the same days).
CREATE TABLE IF NOT EXISTS visitor_numbers (
    site_id VARCHAR NOT NULL,
    visitor_id UBIGINT NOT NULL,
    vno UINTEGER NOT NULL
);
-- Layouts up to 7 kept a row per (kind, 64-day window, value, visitor) with a bitmask of
-- days, and counts of those rows' first days; layout 8 rebuilds into day_bitmaps.
DROP TABLE IF EXISTS reach;
DROP TABLE IF EXISTS reach_firsts;
DROP TABLE IF EXISTS reach_counts;
-- daily: per site-local day, the distinct visitors and the additive sums.
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
-- Whether the visitor's day bitmaps were sealed in a writer round (rollups_fold.py): then
-- only the day sums of its span wait for the rollups job.
ALTER TABLE rollup_pending ADD COLUMN IF NOT EXISTS folded BOOLEAN DEFAULT false;
-- Sites whose rollups are built, and the zone their days are in.
CREATE TABLE IF NOT EXISTS rollup_state (
    site_id VARCHAR PRIMARY KEY,
    timezone VARCHAR NOT NULL,
    built_at TIMESTAMP NOT NULL
);
-- The rollups' layout version a site was built with (older ones are rebuilt).
ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS version INTEGER DEFAULT 1;
-- Raw events (and visits) before this instant may have been deleted by retention while the
-- rollups keep them: a query must not fall back from the rollups to raw events before it
-- (footfall/query/rollup_pending.py). A build, from the raw events left, clears it.
ALTER TABLE rollup_state ADD COLUMN IF NOT EXISTS raw_from TIMESTAMP;
-- How many events the last compaction sorted (footfall/store/duckdb/compact.py).
CREATE TABLE IF NOT EXISTS compact_state (
    id INTEGER PRIMARY KEY,
    events_sorted BIGINT NOT NULL
);
