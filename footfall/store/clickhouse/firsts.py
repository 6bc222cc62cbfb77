"""Each visitor's first day in any range, on ClickHouse: ``first_days`` and its counts
``first_counts``, written by the rollups job with each generation of the visits' copy
(visit_copy.py, same gate); footfall/query/daily.py reads them (``firsts_statement``).

Why: distinct visitors do not add up across days, so ``visitor_days``/``visit_days`` make
a month's panel one ``uniqExact`` over a row per visitor and day (~0.9M rows at 10M
events). DuckDB's rollups count ``reach_firsts`` instead (docs/design.md "Exact
rollups"); the same idea without its 64-day windows: per site, kept dimension (``kind``),
value and visitor, one row per UTC day they were seen (``day``) with the day they were
seen before (``prev``, 1970-01-01 for none) and after (``next``, 2149-06-06 for none).
A (value, visitor) meets the whole days [a, b) exactly once, at the row with
``a <= day < b AND prev < a``, so a range's visitors per value are a sum over
``first_counts`` (those rows counted by (kind, day, value, prev)): far fewer rows.

What the query must still read raw, and why the per-visitor rows are kept:

- A site-local range's ends (the hours before its first whole UTC day and after its last)
  are raw events; a visitor seen there is already counted by the whole days when its row
  of the day before the range (``day = a - 1``) has ``next < b``, or its row of the
  range's last day (``day = b``) has ``prev >= a``: two days of ``first_days`` decide.
- Visitors with an event in the range inserted at or after the gate (the writer touched
  them) are taken out of the counts (their ``first_days`` rows) and counted from raw
  events.
- Days listed in ``rollup_dirty`` (a re-stamp, a deletion, a retention cut) are not
  answered here at all: the query falls back to ``visitor_days``. The rollups job writes
  a new generation before it clears a mark (rollups.refresh), so a cleared mark's change
  is in the generation queries read.

A generation is every event stamped before the gate, by the visits' copy's ``settle``;
the tables are ordered by (site, gate, kind, day, value, ...), so a query reads its
range's rows of one kind and one generation.
"""

from __future__ import annotations

from collections.abc import Mapping

from footfall.store.clickhouse.rollups_job import stamp
from footfall.store.clickhouse.transport import Transport

TABLE = "first_days"
COUNTS = "first_counts"
SUMS = "visit_sums"
TABLES = (TABLE, COUNTS, SUMS)  # every table written per generation (gate)
NONE_BEFORE = "toDate('1970-01-01')"
NONE_AFTER = "toDate('2149-06-06')"

DAYS = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    site_id LowCardinality(String),
    gate DateTime('UTC'),
    kind LowCardinality(String),
    day Date,
    value LowCardinality(String),
    visitor_id UInt64,
    prev Date,
    next Date,
    pageviews UInt64,
    events UInt64
) ENGINE = MergeTree
ORDER BY (site_id, gate, kind, day, value, visitor_id)
"""
COUNTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {COUNTS} (
    site_id LowCardinality(String),
    gate DateTime('UTC'),
    kind LowCardinality(String),
    day Date,
    value LowCardinality(String),
    prev Date,
    visitors UInt64,
    pageviews UInt64,
    events UInt64
) ENGINE = MergeTree
ORDER BY (site_id, gate, kind, day, value, prev)
"""


# The generation's additive visit sums (visits, bounces, duration) per site and UTC hour
# of the visits' start, from the visits' copy of the same gate: a range of whole hours
# sums its rows instead of reading every visit (footfall/query/visits.py ``sums``). ``day``
# is the hour's UTC day, for the retention cut.
SUMS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SUMS} (
    site_id LowCardinality(String),
    gate DateTime('UTC'),
    day Date,
    hour DateTime('UTC'),
    visits Int64,
    bounces Int64,
    duration_ms Int64
) ENGINE = MergeTree
ORDER BY (site_id, gate, hour)
"""


def kinds_of(
    kinds: Mapping[str, str], daily: Mapping[str, str], columns: Mapping[str, str]
) -> dict[str, str]:
    """The kinds kept here: the site total, the daily kinds and the visit columns."""
    return {"": kinds[""], **daily, **columns}


def write(ch: Transport, gate: int, kinds: Mapping[str, str]) -> None:
    """Write the generation ``gate`` from the events stamped before it (the caller has
    waited for them to settle). One statement per kind bounds the memory of each."""
    g = stamp(gate)
    for kind, expr in kinds.items():
        k = kind.replace("'", "''")
        # Each (site, value, visitor)'s days in order; the frame is the whole partition
        # so that lagInFrame/leadInFrame see the neighbours.
        ch.command(
            f"INSERT INTO {TABLE} SELECT site_id, {g}, '{k}', day, value, visitor_id, "
            f"lagInFrame(day, 1, {NONE_BEFORE}) OVER w, "
            f"leadInFrame(day, 1, {NONE_AFTER}) OVER w, pageviews, events FROM ("
            f"SELECT site_id, toDate(ts) AS day, toString({expr}) AS value, visitor_id, "
            "toUInt64(countIf(name = 'pageview')) AS pageviews, "
            "toUInt64(countIf(name <> 'engagement')) AS events "
            f"FROM events WHERE inserted < {g} GROUP BY site_id, day, value, visitor_id) "
            "WINDOW w AS (PARTITION BY site_id, value, visitor_id ORDER BY day "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
        )
    ch.command(
        f"INSERT INTO {COUNTS} SELECT site_id, gate, kind, day, value, prev, count(), "
        f"sum(pageviews), sum(events) FROM {TABLE} WHERE gate = {g} "
        "GROUP BY site_id, gate, kind, day, value, prev"
    )


def write_sums(ch: Transport, gate: int, sums: Mapping[str, str]) -> None:
    """The generation ``gate``'s visit sums per hour, from its copy of the visits
    (``visit_starts``, written first); ``sums``: alias -> aggregate SQL on visits."""
    g = stamp(gate)
    hour = "toStartOfHour(toDateTime(start_ts, 'UTC'))"
    cols = ", ".join(f"toInt64(coalesce({sums[a]}, 0))" for a in SUM_ALIASES)
    ch.command(
        f"INSERT INTO {SUMS} SELECT site_id, {g}, toDate({hour}) AS d, {hour} AS h, {cols} "
        f"FROM visit_starts WHERE gate = {g} GROUP BY site_id, d, h"
    )


SUM_ALIASES = ("visits", "bounces", "duration_ms")


def drop(ch: Transport, where: str) -> None:
    """Delete the generations ``where`` (on ``gate``) selects, from both tables."""
    for table in TABLES:
        n = ch.arrow(f"SELECT count() AS n FROM {table} WHERE {where}").column("n")[0].as_py()
        if n:  # a DELETE is a mutation of every part even when nothing matches
            ch.command(f"DELETE FROM {table} WHERE {where}")


def cut_before(ch: Transport, where: str, params: Mapping[str, object]) -> None:
    """Retention: the rows of days before the cut (the cut's day is listed dirty)."""
    for table in TABLES:
        ch.command(
            f"DELETE FROM {table} WHERE {where}day < toDate({{cut:DateTime64(3, 'UTC')}})",
            params,
        )
