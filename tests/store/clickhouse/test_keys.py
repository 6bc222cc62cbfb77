"""A ClickHouse round finds the stored rows it may touch by the batch's keys, spliced into
its queries for a small round and staged in the writer's tables for a large one
(footfall/store/clickhouse/keys.py): both ways give the same, exact visits."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.writer import Writer
from footfall.store.clickhouse import keys
from tests.contract.test_store_writes import T0, open_parts, record

MIN = 60_000


def _records() -> tuple[list[SpoolRecord], list[SpoolRecord]]:
    """Two rounds: the second extends the first's visits (by visitor and by client session
    id), starts one earlier (re-stamping stored events) and repeats one stored event."""
    first = [record(i, ts=T0 + 40 * MIN + i * MIN, visitor_id=1 + i % 3) for i in range(12)]
    first += [record(100 + i, ts=T0 + i * MIN, visitor_id=9, session_id=77) for i in range(3)]
    second = [record(200 + i, ts=T0 + 52 * MIN + i * MIN, visitor_id=1 + i % 3) for i in range(6)]
    second += [record(300, ts=T0 + 15 * MIN, visitor_id=1)]  # before visitor 1's first event
    second += [record(400 + i, ts=T0 + 5 * MIN + i, visitor_id=9, session_id=77) for i in range(2)]
    second += [first[0]]  # already stored: a client's retry
    return first, second


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "staged"])
def test_both_ways_of_passing_a_rounds_keys_find_its_stored_visits(
    tmp_path: Path, store_url: str, inline: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys, "INLINE_IDS", 10_000 if inline else 0)
    first, second = _records()
    spool, store = open_parts(tmp_path, store_url)
    try:
        writer = Writer(spool, store, lambda s: ("s.com",), batch_size=1000)
        for batch in (first, second):
            spool.append_sync([ENCODER.encode(r) for r in batch])
            writer.run_once()
        assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(24, 24)]
        # Visitors 1-3: one visit each (events from minute 15 or 40 to 56, gaps under 30
        # minutes); the client session 77: one visit of its 5 events.
        visits = store.query(
            "SELECT visitor_id, count(*), sum(pageviews), min(start_ts) FROM sessions "
            "GROUP BY visitor_id ORDER BY visitor_id"
        )
        assert [(v, n, pv) for v, n, pv, _ in visits] == [
            (1, 1, 7),
            (2, 1, 6),
            (3, 1, 6),
            (9, 1, 5),
        ]
        # Visitor 1's visit now starts at the late event (minute 15): its stored events
        # were re-stamped with the new entry page, and their older rows are gone.
        entries = store.query("SELECT DISTINCT entry_page FROM events WHERE visitor_id = 1")
        assert entries == [(record(300).pathname,)]
    finally:
        store.close()
        spool.close_sync()


def test_a_rounds_delete_of_restamped_rows_is_a_patch_part_not_a_mutation(
    tmp_path: Path, store_url: str
) -> None:
    """The older rows of re-stamped events go as a lightweight update (migration 10), which
    does not wait for merges: no ``_row_exists`` mutation is made, and they are gone."""
    first, second = _records()
    spool, store = open_parts(tmp_path, store_url)
    try:
        writer = Writer(spool, store, lambda s: ("s.com",), batch_size=1000)
        for batch in (first, second):
            spool.append_sync([ENCODER.encode(r) for r in batch])
            writer.run_once()
        assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(24, 24)]
        mutations = store.query(
            "SELECT count(*) FROM system.mutations WHERE database = currentDatabase() "
            "AND table = 'events' AND position(command, '_row_exists') > 0"
        )
        assert mutations == [(0,)]
    finally:
        store.close()
        spool.close_sync()
