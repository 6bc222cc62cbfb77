"""A copy of the visits ordered by start time (``visit_starts``), so that the visits of a
time range are read without reading every visit of the site.

``sessions`` is ordered by (site, visit id), which its replacing engine needs to replace a
visit's row; visit ids are hashes, so a dashboard range read every visit of the site
through ``FINAL`` (docs/benchmarks.md: 2.5M rows for 0.93M in range at 10M events, half of
a top-stats row's time). The copy is a plain MergeTree of the visits as they were at its
*gate* (a second of the server's clock), ordered by (site, gate, start):

- A generation holds, for every visit whose newest row was inserted before the gate,
  that row (unless it deletes the visit): ``sessions FINAL`` filtered on ``inserted``
  after the merge. Every visit row carries the server's insert stamp (``inserted``,
  migration 11), as events do.
- A visit *touched* since the gate has a row inserted at or after it. Queries
  (footfall/query/visits.py) read the newest published generation less the touched
  visits, plus the touched visits' newest rows from ``sessions`` (a scan of the stamp
  column and a few rows): the same rows as ``sessions FINAL``, at every moment.
- A generation is written, then checked against deletions that ran meanwhile, then
  published in ``visit_gates``; a query reads the generation of the newest published
  gate. The one before stays ``GRACE_SECONDS`` (longer than any query) and is deleted by
  a later refresh, so a query that read the older gate still finds its rows.
- Deleting visits (a person, retention, a site) deletes them from ``sessions`` first and
  then from every generation (``mirror_delete``, by the store's delete path). A copy
  being written meanwhile may hold rows it read before the first delete; its check after
  writing (no row of the generation without a row in ``sessions``) removes them, and a
  delete that comes after the check finds the rows in the table.

As the daily rollups' build (rollups.py), a copy waits until no insert begun before its
gate is still running (``rollups_job.settle``): every visit row stamped before the gate is
committed when it is read. The rollups job copies again (``refresh``) once the touched
visits are ``REFRESH_SHARE`` of the copy or ``REFRESH_SECONDS`` old, so the touched part a
query reads stays small. The copy's columns are ``sessions``' at the build; a migration
that adds a column to ``sessions`` must bump ``rollup.DAILY_VERSION`` (a rebuild).

Each generation also holds the visitors' first days and the visit sums per hour of the
same gate (firsts.py), so one gate read tells a query which visits and which visitors'
events are since it. The rollups job writes a generation too before it clears dirty
marks (``force``).
"""

from __future__ import annotations

from collections.abc import Mapping

from footfall.store.clickhouse import firsts
from footfall.store.clickhouse.rollups_job import server_now, settle, stamp
from footfall.store.clickhouse.transport import Transport

TABLE = "visit_starts"
GRACE_SECONDS = 600  # an older generation outlives any query that read its gate
REFRESH_SHARE = 0.01  # copy again once the touched visits are this share of the copy
REFRESH_MIN_ROWS = 1_000  # ... and at least this many
REFRESH_SECONDS = 6 * 3600  # ... or any are touched and the copy is this old
# FINAL first, then the insert stamp: a visit's newest row decides (the default, made
# explicit: a filter moved before FINAL would pick an older row of a touched visit).
_AFTER_FINAL = "SETTINGS final = 1, optimize_move_to_prewhere_if_final = 0"


def build(ch: Transport, kinds: Mapping[str, str], sums: Mapping[str, str]) -> bool:
    """Create the copy (with ``sessions``' columns) and write its first generation, with
    the visitors' first days of ``kinds`` and the visit ``sums`` per hour (firsts.py);
    False if the inserts did not settle (the build is retried)."""
    ch.command(f"DROP TABLE IF EXISTS {TABLE}")
    ch.command("TRUNCATE TABLE visit_gates")
    for table in firsts.TABLES:
        ch.command(f"TRUNCATE TABLE {table}")
    ch.command(
        f"CREATE TABLE {TABLE} ENGINE = MergeTree PARTITION BY toYYYYMM(start_ts) "
        "ORDER BY (site_id, gate, start_ts) EMPTY AS "
        "SELECT *, toDateTime(0, 'UTC') AS gate FROM sessions"
    )
    return _copy(ch, kinds, sums)


def published(ch: Transport) -> tuple[int, int] | None:
    """The newest published gate and when it was published (seconds), or None."""
    got = ch.arrow(
        "SELECT toUnixTimestamp(max(gate)) AS g, toUnixTimestamp(argMax(at, gate)) AS at, "
        "count() AS n FROM visit_gates"
    )
    if not got.column("n")[0].as_py():
        return None
    return int(got.column("g")[0].as_py()), int(got.column("at")[0].as_py())


def refresh(
    ch: Transport, kinds: Mapping[str, str], sums: Mapping[str, str], force: bool = False
) -> bool:
    """Drop the generations no query reads any more, and write a new one when the touched
    visits call for it (or ``force``: dirty days are about to be cleared, firsts.py);
    True if a new generation was published."""
    pub = published(ch)
    if pub is None:
        return False
    gate, at = pub
    now = server_now(ch)
    # Rows of a copy that never got published (a job that died): no query reads them.
    # (Counted first: a DELETE is a mutation of every part even when nothing matches.)
    if _count(ch, f"{TABLE} WHERE gate > {stamp(gate)}"):
        ch.command(f"DELETE FROM {TABLE} WHERE gate > {stamp(gate)}")
    firsts.drop(ch, f"gate > {stamp(gate)}")
    if _count(ch, f"visit_gates WHERE gate < {stamp(gate)}"):
        if now - at < GRACE_SECONDS:
            return False  # two generations at most: the older one goes first
        ch.command(f"DELETE FROM {TABLE} WHERE gate < {stamp(gate)}")
        firsts.drop(ch, f"gate < {stamp(gate)}")
        ch.command(f"DELETE FROM visit_gates WHERE gate < {stamp(gate)}")
    got = ch.arrow(
        "SELECT (SELECT count() FROM sessions WHERE site_id <> '' AND inserted >= "
        f"{stamp(gate)} SETTINGS final = 0) AS touched, "
        f"(SELECT count() FROM {TABLE} WHERE gate = {stamp(gate)}) AS copied"
    )
    touched, copied = (int(got.column(c)[0].as_py()) for c in ("touched", "copied"))
    due = touched >= max(REFRESH_MIN_ROWS, REFRESH_SHARE * copied)
    if not force and not due and not (touched and now - gate >= REFRESH_SECONDS):
        return False
    return _copy(ch, kinds, sums)


def _copy(ch: Transport, kinds: Mapping[str, str], sums: Mapping[str, str]) -> bool:
    gate = server_now(ch)
    pub = published(ch)
    if pub is not None and gate <= pub[0]:
        return False  # a generation per gate: a second one would be read twice
    if not settle(ch, gate):  # every visit row stamped before the gate is committed
        return False
    g = stamp(gate)
    ch.command(
        f"INSERT INTO {TABLE} SELECT *, {g} FROM sessions "
        f"WHERE site_id <> '' AND inserted < {g} {_AFTER_FINAL}"
    )
    # Visits deleted while the copy read them (see the module): their rows go again.
    gone = (
        f"gate = {g} AND (site_id, session_id) NOT IN "
        "(SELECT site_id, session_id FROM sessions SETTINGS final = 0)"
    )
    if _count(ch, f"{TABLE} WHERE {gone}"):
        ch.command(f"DELETE FROM {TABLE} WHERE {gone}")
    firsts.write(ch, gate, kinds)  # the same gate: a query reads all of one moment
    firsts.write_sums(ch, gate, sums)
    ch.command(f"INSERT INTO visit_gates (gate) VALUES ({g})")
    return True


def _count(ch: Transport, rows: str) -> int:
    return int(ch.arrow(f"SELECT count() AS n FROM {rows}").column("n")[0].as_py())


def mirror_delete(ch: Transport, where: str, params: dict[str, object]) -> None:
    """Delete from every generation the visits ``where`` selects, after ``sessions``."""
    if _count(ch, f"system.tables WHERE database = currentDatabase() AND name = '{TABLE}'"):
        ch.command(f"DELETE FROM {TABLE} WHERE {where}", params)
