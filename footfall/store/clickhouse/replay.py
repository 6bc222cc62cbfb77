"""Replaying a round on the ClickHouse store, per queue partition: what the partition has
committed, and settling what one of its rounds left when it stopped part-way.

A round of partition ``k`` writes rows stamped ``part = k``, ``pos = P`` and commits with
partition ``k``'s progress marker (``write.py``). Only one writer holds a partition at a
time (the worker's lease; the spool has one writer, partition 0), so every row of ``k``
past its committed position ``C`` was written by a round of ``k`` that did not commit:
- a replay of that very batch (the same ``P``: a worker claiming a stopped worker's batch)
  keeps those rows and writes only what they lack (``stored_by``; its inserts carry the
  same tokens too, but ClickHouse was seen to store such a repeat again after a restart);
- a replay ending elsewhere (the spool's writer re-reads from ``C`` and takes the records
  that arrived meanwhile) first deletes them, so it runs on the committed state alone;
- a batch at or before ``C`` (stored, its acknowledgement lost) writes nothing.
Round ``C`` itself may have stopped between its commit and the deletion of the older rows
of the events it re-stamped: ``settle`` finishes that. Rows of other partitions (other
workers' rounds in flight) are never touched.
"""

from __future__ import annotations

from typing import Any

from footfall.store.clickhouse.transport import Transport

# The partition of rounds outside the queue (an import's, footfall/imports/): positions of
# its own, each round the next (``next_position``), so a round that stopped between its
# events and its visits is taken back by the next import's first round, as a queue round's
# is by its partition's next one, and that import writes those events again with visits.
IMPORT_PARTITION = 0xFFFF


def sql_list(values: list[Any]) -> str:
    """Ids and numbers read back from the engine, as a SQL list (they carry no quotes)."""
    return ", ".join(f"'{v}'" if isinstance(v, str) else str(int(v)) for v in values) or "NULL"


def committed(ch: Transport, part: int) -> int:
    """The position partition ``part`` last committed (0: none), from its marker: the
    deleted visit row ('', part), read without FINAL (every version of it is kept)."""
    got = ch.arrow(
        "SELECT max(version) AS v FROM sessions "
        f"WHERE site_id = '' AND session_id = {int(part)} SETTINGS final = 0"
    )
    value = got.column("v")[0].as_py() if got.num_rows else None
    return int(value or 0)


def next_position(ch: Transport, part: int) -> int:
    """A position above every one partition ``part`` committed or wrote rows with."""
    got = ch.arrow(
        f"SELECT (SELECT max(pos) FROM events WHERE part = {int(part)}) AS e, "
        f"(SELECT max(pos) FROM dropped_events WHERE part = {int(part)}) AS d"
    )
    stored = [got.column(c)[0].as_py() or 0 for c in ("e", "d")] if got.num_rows else []
    return max([committed(ch, part), *stored]) + 1


def _older(part: int, p: int, now: bool = False) -> str:
    """The rows an event's copy written by partition ``part``'s round ``p`` supersedes: a
    queue partition's are ordered by position. An import's positions compare with no
    queue's: right after its commit (``now``) its round supersedes every other copy (the
    import holds the data directory: no queue round runs meanwhile); later, only its own
    partition's older copies are known to be older."""
    if part != IMPORT_PARTITION:
        return f"pos < {int(p)}"
    if now:
        return f"NOT (part = {int(part)} AND pos = {int(p)})"
    return f"part = {int(part)} AND pos < {int(p)}"


def take_back(ch: Transport, part: int, done: int, replaying: int) -> None:
    """Delete partition ``part``'s rows past its committed position ``done``, except
    those of the batch being replayed at ``replaying`` (written again by token, once)."""
    stale = f"part = {int(part)} AND pos > {int(done)} AND pos <> {int(replaying)}"
    for table in ("events", "dropped_events"):
        if not ch.arrow(f"SELECT count() AS n FROM {table} WHERE {stale}")[0][0].as_py():
            continue
        if table == "events":
            # The daily rollups (filled on insert) counted them: those days read raw.
            ch.command(
                "INSERT INTO rollup_dirty (site_id, day) SELECT DISTINCT site_id, "
                f"toDateTime64(toStartOfDay(ts), 3, 'UTC') FROM events WHERE {stale}"
            )
        ch.command(f"DELETE FROM {table} WHERE {stale}")


def settle(ch: Transport, part: int, p: int) -> None:
    """Delete the older rows of every event partition ``part``'s committed round ``p``
    re-stamped (a scan of ``pos`` and ``event_id`` against the round's own ids: only when
    the partition's writer changed or failed)."""
    older = (
        f"{_older(part, p)} AND event_id IN "
        f"(SELECT event_id FROM events WHERE part = {int(part)} AND pos = {int(p)})"
    )
    if ch.arrow(f"SELECT count() AS n FROM events WHERE {older}")[0][0].as_py():
        ch.command(f"DELETE FROM events WHERE {older}")


def drop_superseded(ch: Transport, event_ids: list[str], part: int, p: int) -> None:
    """Delete the older rows of events partition ``part``'s committed round ``p`` re-stamped."""
    # Only rows whose re-stamped copy is stored (a failed insert stored none).
    kept = ch.arrow(
        "SELECT DISTINCT toString(event_id) AS id FROM events "
        f"WHERE part = {int(part)} AND pos = {int(p)} AND event_id IN ({sql_list(event_ids)})"
    )
    ids = kept.column("id").to_pylist()
    if ids:
        older = _older(part, p, now=True)
        ch.command(f"DELETE FROM events WHERE {older} AND event_id IN ({sql_list(ids)})")


def stored_by(ch: Transport, part: int, p: int) -> tuple[list[str], bool]:
    """The event ids partition ``part``'s batch at ``p`` already stored, and whether it
    stored its drop counts (a stopped attempt of the batch being replayed)."""
    ids = ch.arrow(
        f"SELECT toString(event_id) AS id FROM events WHERE part = {int(part)} AND pos = {int(p)}"
    )
    drops = ch.arrow(
        f"SELECT count() AS n FROM dropped_events WHERE part = {int(part)} AND pos = {int(p)}"
    )
    return ids.column("id").to_pylist(), bool(drops[0][0].as_py())
