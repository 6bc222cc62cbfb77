"""Exact rollups on ClickHouse: per site, rolled-up dimension, UTC day, value and
visitor, the pageview and event counts (``visitor_days``, an AggregatingMergeTree;
footfall/query/daily.py reads it).

Why days in UTC: a materialized view fills the table on every insert into ``events``, so
the rollups are never behind the raw events (no pending list, no seal), and the view needs
no site's time zone: a query takes the whole UTC days inside its range from here and the
rest (a site-local day's other hours at each end) from raw events. Distinct visitors stay
exact because they are counted distinct over the rows (never added across days), and
rows of one key not yet merged by the engine only repeat a visitor or split a sum.

What the view cannot see is a row replaced or deleted: a re-stamped event is inserted
again (its counts would double) and a retention cut may fall inside a day. Those days are
listed in ``rollup_dirty`` before the change is written; queries read them from raw
events, and ``refresh`` (the rollups job) rebuilds them. A replayed round's inserts are
deduplicated by token, and so never reach the view.

``visit_days`` is the same for the visit dimensions (``RollupSpec.daily_columns``), side
by side in one row per site, day, visitor and combination of their values instead of a
row per dimension: a visitor's visits of a day mostly share them, so the site total and
every kept visit panel read about one row per visitor and day, and a filter on one of
them applies to the others' rows as it does to events.

``build`` creates the views from the query layer's dimension definitions (a ``RollupSpec``)
and fills the tables from the events already stored; a new layout version rebuilds them.
The caller holds the store's write lock, so no round writes while a build or refresh runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from footfall.store.base import RollupSpec
from footfall.store.clickhouse.transport import Transport

VIEW = "visitor_days_mv"
VISIT_VIEW = "visit_days_mv"
_DAY = "toDateTime64(toStartOfDay(ts), 3, 'UTC')"
_SUMS = ("toUInt64(countIf(name = 'pageview')) AS pageviews, "
         "toUInt64(countIf(name <> 'engagement')) AS events ")  # fmt: skip


def _select(kinds: Mapping[str, str], where: str = "") -> str:
    """The rollup rows of the events ``where`` selects, one per (site, kind, day, value)."""
    pairs = ", ".join(
        "('" + k.replace("'", "''") + f"', toString({expr}))" for k, expr in kinds.items()
    )
    return (
        f"SELECT site_id, kv.1 AS kind, {_DAY} AS day, kv.2 AS value, visitor_id, {_SUMS}"
        f"FROM events ARRAY JOIN [{pairs}] AS kv {where}"
        "GROUP BY site_id, kind, day, value, visitor_id"
    )


def _visit_select(columns: Mapping[str, str], where: str = "") -> str:
    """The ``visit_days`` rows of the events ``where`` selects."""
    cols = "".join(f"toString({expr}) AS c{i}, " for i, expr in enumerate(columns.values()))
    keys = "".join(f", c{i}" for i in range(len(columns)))
    return (
        f"SELECT site_id, {_DAY} AS day, visitor_id, {cols}{_SUMS}"
        f"FROM events {where}GROUP BY site_id, day, visitor_id{keys}"
    )


def _visit_table(n: int) -> str:
    cols = "".join(f"c{i} LowCardinality(String), " for i in range(n))
    keys = "".join(f", c{i}" for i in range(n))
    return (
        "CREATE TABLE visit_days (site_id LowCardinality(String), day DateTime64(3, 'UTC'), "
        f"visitor_id UInt64, {cols}pageviews SimpleAggregateFunction(sum, UInt64), "
        "events SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree "
        f"PARTITION BY toYYYYMM(day) ORDER BY (site_id, day, visitor_id{keys})"
    )


def built_version(ch: Transport) -> int | None:
    table = ch.arrow("SELECT max(version) AS v, count() AS n FROM rollup_layout")
    n = table.column("n")[0].as_py()
    return int(table.column("v")[0].as_py()) if n else None


def build(ch: Transport, spec: RollupSpec) -> bool:
    """Create the view and fill the table for ``spec`` unless already built; True if built."""
    if built_version(ch) == spec.daily_version:
        return False
    for view in (VIEW, VISIT_VIEW):
        ch.command(f"DROP VIEW IF EXISTS {view}")
    for table in ("visitor_days", "rollup_dirty", "rollup_layout"):
        ch.command(f"TRUNCATE TABLE {table}")
    ch.command("DROP TABLE IF EXISTS visit_days")  # its columns are the spec's
    ch.command(_visit_table(len(spec.daily_columns)))
    for view, table, select in _views(spec):
        ch.command(f"CREATE MATERIALIZED VIEW {view} TO {table} AS {select()}")
        ch.command(f"INSERT INTO {table} {select()}")
    ch.command(f"INSERT INTO rollup_layout VALUES ({int(spec.daily_version)}, now())")
    return True


def _views(spec: RollupSpec) -> list[tuple[str, str, Callable[..., str]]]:
    """(view, table, rows of the events a WHERE clause selects) per kept table."""
    out: list[tuple[str, str, Callable[..., str]]] = [
        (VISIT_VIEW, "visit_days", lambda where="": _visit_select(spec.daily_columns, where))
    ]
    if spec.daily_kinds:
        out.append((VIEW, "visitor_days", lambda where="": _select(spec.daily_kinds, where)))
    return out


def refresh(ch: Transport, spec: RollupSpec) -> int:
    """Rebuild the dirty days from raw events; returns how many there were. The days stay
    listed (read raw) until their rows are rebuilt."""
    n = int(ch.arrow("SELECT count() AS n FROM rollup_dirty").column("n")[0].as_py())
    if not n:
        return 0
    dirty = "(SELECT site_id, day FROM rollup_dirty)"
    where = f"WHERE (site_id, {_DAY}) IN {dirty} "
    for _, table, select in _views(spec):
        ch.command(f"DELETE FROM {table} WHERE (site_id, day) IN {dirty}")
        ch.command(f"INSERT INTO {table} {select(where)}")
    ch.command("TRUNCATE TABLE rollup_dirty")
    return n


def cut_before(ch: Transport, where: str, params: Mapping[str, object]) -> None:
    """Retention: drop the days before the cutoff and list the cutoff's own day as dirty
    (part of it is deleted). ``where`` selects the site (or is empty) and binds ``cut``."""
    day = "toDateTime64(toStartOfDay({cut:DateTime64(3, 'UTC')}), 3, 'UTC')"
    ch.command(
        f"INSERT INTO rollup_dirty SELECT DISTINCT site_id, day FROM visitor_days "
        f"WHERE {where}day = {day}",
        params,
    )
    for table in ("visitor_days", "visit_days"):
        ch.command(f"DELETE FROM {table} WHERE {where}day < {day}", params)


def mark_person(ch: Transport, site_id: str, column: str, value: str | int) -> None:
    """List as dirty the days of every event of the visits holding an event whose
    ``column`` (``user_id`` or ``visitor_id``) is ``value``: they are about to go."""
    if column not in ("user_id", "visitor_id"):
        raise ValueError(f"a person is found by user_id or visitor_id, not {column!r}")
    kind = "UInt64" if column == "visitor_id" else "String"
    ch.command(
        "INSERT INTO rollup_dirty SELECT DISTINCT site_id, "
        "toDateTime64(toStartOfDay(ts), 3, 'UTC') FROM events WHERE site_id = {site:String} "
        "AND session_id IN (SELECT session_id FROM events WHERE site_id = {site:String} "
        f"AND {column} = {{value:{kind}}})",
        {"site": site_id, "value": value},
    )
