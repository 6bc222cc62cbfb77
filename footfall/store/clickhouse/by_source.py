"""``events_by_source``: a narrow copy of every event ordered by (site, source, time), kept
by a materialized view, for filtered reads under a source filter.

``events`` is ordered by (site, day, name, visitor, time), the order every unfiltered
dashboard panel wants; a filter on the visit's source ("Google") matches events spread
over every granule of the range, so a filtered top-stats row read every event of the range
(3.7M at 10M events for 30 days) for the ~2% that match. Here the rows of one source and
site lie together in time order, so the same filter reads that source's granules only.

Rows: the columns a filtered top-stats row reads (``footfall/query/by_source.py`` says
which filters it answers) and the ones the store deletes events by (``event_id``,
``part``, ``pos``, ``ts``, ``site_id``, ``session_id``). Kept exact:

- every insert into ``events`` reaches the table through the view; an insert repeated
  with the same token, which ``events`` drops, is dropped here too (the table keeps a
  deduplication window and the session deduplicates blocks in dependent views: without
  both, measured, the view stores the repeat);
- every ``DELETE`` of events (a writer round's re-stamp and take-back, replay.py; a
  person forgotten, a retention cut, a site deleted, store.py) is run here too, with the
  same condition, right before the one on ``events`` (:func:`mirrored`): a delete
  stopped between the two leaves the rows in ``events``, where the checks that repeat
  it (a round's settling at the next start, a second run of a deletion) find them.

Not covered: an insert whose view failed after ``events`` stored the block, as for the
daily rollups' views.

The migration that creates it copies the stored events; like the other migrations it
expects no writer to be running meanwhile (``footfall migrate`` before the workers).
"""

from __future__ import annotations

TABLE = "events_by_source"
VIEW = "events_by_source_mv"
# Every column a WHERE of a delete of events names, and those the filtered reads need.
COLUMNS = ("site_id", "referrer_source", "ts", "name", "pathname", "entry_page",
           "visitor_id", "session_id", "event_id", "part", "pos")  # fmt: skip

DDL = f"""
CREATE TABLE {TABLE} (
    site_id LowCardinality(String),
    referrer_source LowCardinality(Nullable(String)),
    ts DateTime64(3, 'UTC'),
    name LowCardinality(String),
    pathname LowCardinality(Nullable(String)),
    entry_page LowCardinality(Nullable(String)),
    visitor_id UInt64,
    session_id UInt64,
    event_id UUID,
    part UInt16 CODEC(ZSTD),
    pos UInt64 CODEC(Delta, ZSTD)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (site_id, referrer_source, ts)
SETTINGS allow_nullable_key = 1, enable_block_number_column = 1, enable_block_offset_column = 1,
    non_replicated_deduplication_window = 1000
"""
# ``coalesce(referrer_source, '') = ?`` (the builder's source condition) is read by the
# key analysis through the nullable key column (measured: 68 of 461 granules of a month
# for one source); a key on the coalesce expression itself was not.

_SELECT = ", ".join(COLUMNS)

# Processes that start together on a new database all apply it (no lock): nothing here
# drops what another one may be creating; the copy is emptied before it is filled, so a
# migration stopped part-way starts its copy over.
MIGRATION = (
    DDL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"),
    f"CREATE MATERIALIZED VIEW IF NOT EXISTS {VIEW} TO {TABLE} AS SELECT {_SELECT} FROM events",
    f"TRUNCATE TABLE {TABLE}",
    f"INSERT INTO {TABLE} SELECT {_SELECT} FROM events",
)


def mirrored(table: str) -> bool:
    """Whether a delete from ``table`` must be run on the copy too."""
    return table == "events"
