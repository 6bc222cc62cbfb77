-- The batch engine's tables (footfall/ingest/batch/steps.py reads and writes these): the
-- DuckDB store's own tables, and a scratch copy in a ClickHouse store's batch target.
CREATE TABLE IF NOT EXISTS events (
    event_id UUID NOT NULL,
    site_id VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,               -- UTC
    name VARCHAR NOT NULL,
    hostname VARCHAR,
    pathname VARCHAR,
    url_query VARCHAR,                   -- only utm_* and allow-listed parameters
    referrer VARCHAR,
    referrer_source VARCHAR,
    utm_source VARCHAR,
    utm_medium VARCHAR,
    utm_campaign VARCHAR,
    utm_term VARCHAR,
    utm_content VARCHAR,
    visitor_id UBIGINT NOT NULL,
    session_id UBIGINT NOT NULL,
    user_id VARCHAR,
    browser VARCHAR,
    browser_version VARCHAR,
    os VARCHAR,
    os_version VARCHAR,
    device VARCHAR,
    screen VARCHAR,
    language VARCHAR,
    country VARCHAR,
    region VARCHAR,
    city VARCHAR,
    title VARCHAR,
    entry_page VARCHAR,                  -- the visit's first pageview (stamped, like the visit:* columns)
    props MAP(VARCHAR, VARCHAR),
    revenue DOUBLE,
    duration_ms BIGINT,
    load_time_ms BIGINT,
    scroll_depth BIGINT,
    interactive BOOLEAN NOT NULL
);

-- One row per visit, maintained by the writer by merging each batch's partial aggregates,
-- so session metrics need no window functions at query time.
CREATE TABLE IF NOT EXISTS sessions (
    site_id VARCHAR NOT NULL,
    session_id UBIGINT NOT NULL,
    start_ts TIMESTAMP NOT NULL,
    end_ts TIMESTAMP NOT NULL,
    entry_page VARCHAR,
    entry_ts TIMESTAMP,
    exit_page VARCHAR,
    exit_ts TIMESTAMP,
    pageviews BIGINT NOT NULL,
    events BIGINT NOT NULL,
    interactive_events BIGINT NOT NULL,
    visitor_id UBIGINT NOT NULL,
    user_id VARCHAR,
    hostname VARCHAR,
    referrer VARCHAR,
    referrer_source VARCHAR,
    utm_source VARCHAR,
    utm_medium VARCHAR,
    utm_campaign VARCHAR,
    utm_term VARCHAR,
    utm_content VARCHAR,
    browser VARCHAR,
    browser_version VARCHAR,
    os VARCHAR,
    os_version VARCHAR,
    device VARCHAR,
    screen VARCHAR,
    language VARCHAR,
    country VARCHAR,
    region VARCHAR,
    city VARCHAR
);
-- The visit's last event that is not an engagement event (scroll depth, engaged time are
-- reported on leave and do not lengthen a visit, as in Plausible): visit duration ends
-- there. NULL for visits stored before the column existed: their end_ts stands in.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_ts TIMESTAMP;
-- The hostname of the visit's exit page (Plausible's exit page hostname); NULL for visits
-- stored before the column existed.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS exit_hostname VARCHAR;

-- Events dropped by the writer's filters (bots, referrer spam, foreign hostnames), counted.
CREATE TABLE IF NOT EXISTS dropped_events (
    site_id VARCHAR NOT NULL,
    hour TIMESTAMP NOT NULL,             -- UTC, truncated to the hour
    reason VARCHAR NOT NULL,
    n BIGINT NOT NULL
);
