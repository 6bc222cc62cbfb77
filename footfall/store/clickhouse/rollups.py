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

The build and every refresh also keep ``visit_starts``, a copy of the visits ordered by
start time with a gate of its own (visit_copy.py; footfall/query/visits.py reads it).

``build`` creates the views from the query layer's dimension definitions (a ``RollupSpec``)
and fills the tables from the events already stored; a new layout version rebuilds them.

Any number of processes may insert while a build or refresh runs (``footfall worker``s
beside a ``serve`` running the job), so the job and the views never count the same
event, by the server's insert stamp ``events.inserted`` (``rollups_job.py`` has the
clock and the waits; one job at a time across processes, by ``rollups_job.claim``):

- A build's views count only events stamped at or after a gate a few seconds ahead of
  their creation; the build waits until that second has passed and every insert begun
  before it has finished, then counts the events stamped before it.
- Rollup rows keep the hour their events were stamped in (``ins``). A refresh rebuilds a
  dirty day's rows of the hours before the current one (every insert begun before it has
  finished) and leaves the views' rows of the current hour alone; it clears only the
  marks it read, and only those older than ``MARGIN_SECONDS`` before that hour (the
  change a mark announces, listed before it is written, is complete by then); younger
  marks keep their days read raw until a later refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from footfall.store.base import RollupSpec
from footfall.store.clickhouse import firsts, visit_copy
from footfall.store.clickhouse.rollups_job import server_now, settle, stamp
from footfall.store.clickhouse.transport import Transport

VIEW = "visitor_days_mv"
VISIT_VIEW = "visit_days_mv"
HOUR_VIEW = "visitor_hours_mv"
_DAY = "toDateTime64(toStartOfDay(ts), 3, 'UTC')"
BUCKET_SECONDS = 3600  # rows keep their events' insert hour: what a refresh can redo
MARGIN_SECONDS = 600  # a dirty mark's change (re-stamp, deletion) is done within this
LEAD_SECONDS = 3  # a build's gate: this far ahead of the views' creation (retried if passed)
_SUMS = ("toUInt64(countIf(name = 'pageview')) AS pageviews, "
         "toUInt64(countIf(name <> 'engagement')) AS events ")  # fmt: skip


def _ins() -> str:
    return f"toStartOfInterval(inserted, INTERVAL {int(BUCKET_SECONDS)} SECOND) AS ins, "


def _select(kinds: Mapping[str, str], where: str = "") -> str:
    """The rollup rows of the events ``where`` selects, one per (site, kind, day, value,
    visitor, insert hour)."""
    pairs = ", ".join(
        "('" + k.replace("'", "''") + f"', toString({expr}))" for k, expr in kinds.items()
    )
    return (
        f"SELECT site_id, kv.1 AS kind, {_DAY} AS day, kv.2 AS value, visitor_id, {_ins()}"
        f"{_SUMS}FROM events ARRAY JOIN [{pairs}] AS kv {where}"
        "GROUP BY site_id, kind, day, value, visitor_id, ins"
    )


def _visit_select(columns: Mapping[str, str], where: str = "") -> str:
    """The ``visit_days`` rows of the events ``where`` selects."""
    cols = "".join(f"toString({expr}) AS c{i}, " for i, expr in enumerate(columns.values()))
    keys = "".join(f", c{i}" for i in range(len(columns)))
    return (
        f"SELECT site_id, {_DAY} AS day, visitor_id, {cols}{_ins()}{_SUMS}"
        f"FROM events {where}GROUP BY site_id, day, visitor_id{keys}, ins"
    )


def _hour_select(where: str = "") -> str:
    """The ``visitor_hours`` rows of the events ``where`` selects."""
    return (
        f"SELECT site_id, {_DAY} AS day, toStartOfHour(toDateTime(ts, 'UTC')) AS hour, "
        f"visitor_id, {_ins()}{_SUMS}FROM events {where}"
        "GROUP BY site_id, day, hour, visitor_id, ins"
    )


def _visit_table(n: int) -> str:
    cols = "".join(f"c{i} LowCardinality(String), " for i in range(n))
    keys = "".join(f", c{i}" for i in range(n))
    return (
        "CREATE TABLE visit_days (site_id LowCardinality(String), day DateTime64(3, 'UTC'), "
        f"visitor_id UInt64, {cols}ins DateTime('UTC'), "
        "pageviews SimpleAggregateFunction(sum, UInt64), "
        "events SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree "
        f"PARTITION BY toYYYYMM(day) ORDER BY (site_id, day, visitor_id{keys}, ins)"
    )


def built_version(ch: Transport) -> int | None:
    table = ch.arrow("SELECT max(version) AS v, count() AS n FROM rollup_layout")
    n = table.column("n")[0].as_py()
    return int(table.column("v")[0].as_py()) if n else None


def build(ch: Transport, spec: RollupSpec, attempts: int = 3) -> bool:
    """Create the views and fill the tables for ``spec`` unless already built; True if
    built. The layout is recorded last: until then queries read raw events."""
    if built_version(ch) == spec.daily_version:
        return False
    for _ in range(attempts):
        if _build(ch, spec) and visit_copy.build(ch, _firsts(spec), spec.visit_sums):
            ch.command(f"INSERT INTO rollup_layout VALUES ({int(spec.daily_version)}, now())")
            return True
    raise RuntimeError("rollups build: the inserts did not settle; retried next run")


def _build(ch: Transport, spec: RollupSpec) -> bool:
    for view in (VIEW, VISIT_VIEW, HOUR_VIEW):
        ch.command(f"DROP VIEW IF EXISTS {view}")
    # Not ``rollup_dirty``: its marks may announce changes still under way.
    for table in ("visitor_days", "visitor_hours", "rollup_layout"):
        ch.command(f"TRUNCATE TABLE {table}")
    ch.command("DROP TABLE IF EXISTS visit_days")  # its columns are the spec's
    ch.command(_visit_table(len(spec.daily_columns)))
    gate = server_now(ch) + LEAD_SECONDS
    for view, table, select in _views(spec):
        ch.command(f"CREATE MATERIALIZED VIEW {view} TO {table} AS "
                   f"{select(f'WHERE inserted >= {stamp(gate)} ')}")  # fmt: skip
    # Every insert begun before the views existed was stamped before the gate, so it is
    # counted here (once finished); if the clock passed the gate first, start again.
    if server_now(ch) >= gate or not settle(ch, gate):
        return False
    for _, table, select in _views(spec):
        ch.command(f"INSERT INTO {table} {select(f'WHERE inserted < {stamp(gate)} ')}")
    return True


def _views(spec: RollupSpec) -> list[tuple[str, str, Callable[..., str]]]:
    """(view, table, rows of the events a WHERE clause selects) per kept table."""
    out: list[tuple[str, str, Callable[..., str]]] = [
        (VISIT_VIEW, "visit_days", lambda where="": _visit_select(spec.daily_columns, where)),
        (HOUR_VIEW, "visitor_hours", _hour_select),
    ]
    if spec.daily_kinds:
        out.append((VIEW, "visitor_days", lambda where="": _select(spec.daily_kinds, where)))
    return out


def _firsts(spec: RollupSpec) -> dict[str, str]:
    return firsts.kinds_of(spec.kinds, spec.daily_kinds, spec.daily_columns)


def refresh(ch: Transport, spec: RollupSpec) -> int:
    """Rebuild the days whose dirty marks are ripe (older than ``MARGIN_SECONDS`` before
    the current insert hour); returns how many. Other days stay listed (read raw)."""
    now = server_now(ch)
    cut = now - now % BUCKET_SECONDS  # the current insert hour's start
    ripe = ch.arrow(
        "SELECT groupArray(toString(mark)) AS marks, uniqExact(site_id, day) AS days "
        f"FROM rollup_dirty WHERE at < {stamp(cut - MARGIN_SECONDS)}"
    )
    marks: list[str] = ripe.column("marks")[0].as_py()
    # The visits' copy has a gate of its own (visit_copy.py); the visitors' first days
    # (firsts.py) are written with it and trust no day listed dirty, so a generation
    # written after the marks' changes must be published before the marks go.
    copied = visit_copy.refresh(ch, _firsts(spec), spec.visit_sums, force=bool(marks))
    # ... and every insert stamped before the current hour is done.
    if not marks or not copied or not settle(ch, cut):
        return 0
    listed = ", ".join(f"'{m}'" for m in marks)  # UUIDs: no quoting needed
    days = f"(SELECT site_id, day FROM rollup_dirty WHERE toString(mark) IN ({listed}))"
    before = stamp(cut)
    for _, table, select in _views(spec):
        ch.command(f"DELETE FROM {table} WHERE (site_id, day) IN {days} AND ins < {before}")
        ch.command(
            f"INSERT INTO {table} "
            f"{select(f'WHERE (site_id, {_DAY}) IN {days} AND inserted < {before} ')}"
        )
    ch.command(f"DELETE FROM rollup_dirty WHERE toString(mark) IN ({listed})")
    return int(ripe.column("days")[0].as_py())


def cut_before(ch: Transport, where: str, params: Mapping[str, object]) -> None:
    """Retention: drop the days before the cutoff and list the cutoff's own day as dirty
    (part of it is deleted). ``where`` selects the site (or is empty) and binds ``cut``."""
    day = "toDateTime64(toStartOfDay({cut:DateTime64(3, 'UTC')}), 3, 'UTC')"
    ch.command(
        f"INSERT INTO rollup_dirty (site_id, day) SELECT DISTINCT site_id, day FROM visitor_days "
        f"WHERE {where}day = {day}",
        params,
    )
    for table in ("visitor_days", "visit_days", "visitor_hours"):
        ch.command(f"DELETE FROM {table} WHERE {where}day < {day}", params)
    firsts.cut_before(ch, where, params)


def mark_person(ch: Transport, site_id: str, column: str, value: str | int) -> None:
    """List as dirty the days of every event of the visits holding an event whose
    ``column`` (``user_id`` or ``visitor_id``) is ``value``: they are about to go."""
    if column not in ("user_id", "visitor_id"):
        raise ValueError(f"a person is found by user_id or visitor_id, not {column!r}")
    kind = "UInt64" if column == "visitor_id" else "String"
    ch.command(
        "INSERT INTO rollup_dirty (site_id, day) SELECT DISTINCT site_id, "
        "toDateTime64(toStartOfDay(ts), 3, 'UTC') FROM events WHERE site_id = {site:String} "
        "AND session_id IN (SELECT session_id FROM events WHERE site_id = {site:String} "
        f"AND {column} = {{value:{kind}}})",
        {"site": site_id, "value": value},
    )
