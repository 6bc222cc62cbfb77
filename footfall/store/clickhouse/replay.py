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

import weakref
from typing import Any

from footfall.store.clickhouse import by_source
from footfall.store.clickhouse.transport import Transport

# The partition of rounds outside the queue (an import's, footfall/imports/): positions of
# its own, each round the next (``next_position``), so a round that stopped between its
# events and its visits is taken back by the next import's first round, as a queue round's
# is by its partition's next one, and that import writes those events again with visits.
IMPORT_PARTITION = 0xFFFF


def sql_list(values: list[Any]) -> str:
    """Ids and numbers read back from the engine, as a SQL list (they carry no quotes)."""
    return ", ".join(f"'{v}'" if isinstance(v, str) else str(int(v)) for v in values) or "NULL"


# A round's DELETE as a patch part (a lightweight update, ClickHouse 25.7+, on a table with
# block numbers and offsets: migration 10): written like an insert, without waiting for a
# mutation or for merges of the parts it touches (on the stand-in 12-16 ms against
# 0.2-1.1 s, and seconds while a burst's parts merge). Where the table lacks them the
# server runs the mutation as before; a server without these settings gets no SETTINGS.
_PATCH = " SETTINGS lightweight_delete_mode = 'lightweight_update', enable_lightweight_update = 1"
_NO_PATCH: weakref.WeakSet[Any] = weakref.WeakSet()  # transports whose server lacks them


def delete(ch: Transport, table: str, where: str) -> None:
    """``DELETE FROM table WHERE where``, as a patch part where the server can; from the
    events' copy by source too (by_source.py), first: a round stopped between the two
    leaves the rows in ``events``, where the next start's checks find and delete them."""
    if by_source.mirrored(table):
        _delete(ch, by_source.TABLE, where)
    _delete(ch, table, where)


def _delete(ch: Transport, table: str, where: str) -> None:
    sql = f"DELETE FROM {table} WHERE {where}"
    if ch not in _NO_PATCH:
        try:
            ch.command(sql + _PATCH)
            return
        except Exception as exc:
            if "UNKNOWN_SETTING" not in str(exc) and "Unknown setting" not in str(exc):
                raise
            _NO_PATCH.add(ch)
    ch.command(sql)


def committed(ch: Transport, part: int) -> int:
    """The position partition ``part`` last committed (0: none), from its marker: the
    deleted visit row ('', part), read without FINAL (every version of it is kept)."""
    return committed_all(ch, [part])[part]


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


def committed_all(ch: Transport, parts: list[int]) -> dict[int, int]:
    """:func:`committed` for each of ``parts`` in one query (a worker's round holds
    several partitions: one request instead of one each)."""
    got = ch.arrow(
        "SELECT session_id AS part, max(version) AS v FROM sessions "
        f"WHERE site_id = '' AND session_id IN ({sql_list(parts)}) GROUP BY session_id "
        "SETTINGS final = 0"
    )
    marks = dict(zip(got.column("part").to_pylist(), got.column("v").to_pylist(), strict=True))
    return {k: int(marks.get(k) or 0) for k in parts}


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
        delete(ch, table, stale)


def settle(ch: Transport, part: int, p: int) -> None:
    """Delete the older rows of every event partition ``part``'s committed round ``p``
    re-stamped (a scan of ``pos`` and ``event_id`` against the round's own ids: only when
    the partition's writer changed or failed)."""
    older = (
        f"{_older(part, p)} AND event_id IN "
        f"(SELECT event_id FROM events WHERE part = {int(part)} AND pos = {int(p)})"
    )
    if ch.arrow(f"SELECT count() AS n FROM events WHERE {older}")[0][0].as_py():
        delete(ch, "events", older)


def drop_superseded(ch: Transport, rounds: list[tuple[int, int, list[str]]]) -> None:
    """Delete the older rows of the events each committed share re-stamped: ``rounds``
    lists ``(part, p, event ids)``, one per partition of the round. One ``DELETE`` for
    all of them: each is a mutation that rewrites the parts it touches and, on the
    stand-in, cost about as much for one id as for thousands."""
    rounds = [(int(part), int(p), ids) for part, p, ids in rounds if ids]
    if not rounds:
        return
    # Only rows whose re-stamped copy is stored (a failed insert stored none); their
    # time range lets the mutation skip every part outside it (re-stamping never
    # changes an event's ts, so the older rows lie in the same range).
    shares = " OR ".join(
        f"(part = {part} AND pos = {p} AND event_id IN ({sql_list(ids)}))"
        for part, p, ids in rounds
    )
    kept = ch.arrow(
        "SELECT part, pos, groupUniqArray(toString(event_id)) AS ids, "
        "toUnixTimestamp64Milli(min(ts)) AS lo, toUnixTimestamp64Milli(max(ts)) AS hi "
        f"FROM events WHERE {shares} GROUP BY part, pos"
    )
    if not kept.num_rows:
        return
    lo = min(kept.column("lo").to_pylist())
    hi = max(kept.column("hi").to_pylist())
    older = " OR ".join(
        f"({_older(part, p, now=True)} AND event_id IN ({sql_list(ids)}))"
        for part, p, ids in zip(
            kept.column("part").to_pylist(),
            kept.column("pos").to_pylist(),
            kept.column("ids").to_pylist(),
            strict=True,
        )
    )
    delete(
        ch,
        "events",
        f"ts BETWEEN fromUnixTimestamp64Milli({int(lo)}, 'UTC') "
        f"AND fromUnixTimestamp64Milli({int(hi)}, 'UTC') AND ({older})",
    )


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
