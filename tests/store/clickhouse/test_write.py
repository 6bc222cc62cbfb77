"""ClickHouse rounds are replayable (footfall/store/clickhouse/write.py): a round whose
writes stop part-way (events inserted, visits not) is replayed after a restart and every
event is stored once, every visit counted once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from footfall.config import Settings
from footfall.ingest.record import ENCODER
from footfall.queue.writer import Writer
from footfall.store import open_store
from footfall.store.base import EventStore
from tests.contract.test_store_writes import open_parts, out_of_order, record


def _fail_on(store: EventStore, table: str) -> None:
    """The next insert into ``table`` fails, as if the process died before it."""
    ch: Any = store.ch  # type: ignore[attr-defined]
    real = ch.insert

    def insert(name: str, data: Any, token: str = "") -> None:
        if name == table:
            ch.insert = real
            raise ConnectionError("killed")
        real(name, data, token)

    ch.insert = insert


@pytest.mark.parametrize("stop_before", ["events", "sessions"])
def test_a_round_stopped_part_way_is_replayed_exactly_once(
    tmp_path: Path,
    store_url: str,
    stop_before: str,
) -> None:
    recs = out_of_order(600, 7)
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=200)
    spool.append_sync([ENCODER.encode(r) for r in recs[:300]])
    writer.run_once()
    spool.append_sync([ENCODER.encode(r) for r in recs[300:]])
    # The second round late-merges visits of the first; it stops before ``stop_before``.
    writer.run_once()
    _fail_on(store, stop_before)
    with pytest.raises(ConnectionError):
        writer.run_once()
    store.close()
    spool.close_sync()
    # A restart: the writer resumes from the store's committed position.
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=200)
    while writer.run_once():
        pass
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(600, 600)]
    # Visits as the 30-minute rule gives them, from the records (a plain reference).
    expected = 0
    for v in {r.visitor_id for r in recs}:
        times = sorted(r.ts for r in recs if r.visitor_id == v)
        expected += 1 + sum(
            1 for a, b in zip(times, times[1:], strict=False) if b - a > 30 * 60_000
        )
    got = store.query("SELECT count(*), sum(pageviews), sum(events) FROM sessions")
    assert got == [(expected, 600, 600)]
    per_visit = store.query(
        "SELECT count(*) FROM (SELECT session_id FROM events GROUP BY session_id)"
    )
    assert per_visit == [(expected,)]


def test_migrations_apply_once(tmp_path: Path, store_url: str) -> None:
    store = open_store(Settings(data_dir=tmp_path, store_url=store_url))
    try:
        assert store.migrate() == []  # type: ignore[attr-defined]  # applied at open
        versions = store.query("SELECT version FROM footfall_migrations ORDER BY version")
        # events, sessions, drops; imported_stats; Plausible's value names; last_ts;
        # exit_hostname; the daily rollups; drops.pos and events.part; pages as
        # LowCardinality and visit_days; insert stamps and the daily rollups rebuilt (9);
        # block numbers on events (10); the visits' insert stamps and their copy's gates (11);
        # the visitors' first days and their counts (12); the hourly rollups and the visit
        # sums per hour (13); the events by source (14); the time index on events (15)
        assert versions == [(i,) for i in range(1, 16)]
        types = dict(store.query("SELECT name, type FROM system.columns WHERE table = 'events' "
                                 "AND database = currentDatabase()"))  # fmt: skip
        assert types["pathname"] == types["entry_page"] == "LowCardinality(Nullable(String))"
    finally:
        store.close()


def test_a_round_stopped_after_its_commit_has_its_restamps_settled(
    tmp_path: Path, store_url: str
) -> None:
    """The round commits its visits, then dies before deleting the older rows of the events
    it re-stamped: the next start deletes them, so no event is counted twice."""
    recs = out_of_order(400, 5)
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=10_000)
    spool.append_sync([ENCODER.encode(r) for r in recs[:200]])
    writer.run_once()
    spool.append_sync([ENCODER.encode(r) for r in recs[200:]])
    ch: Any = store.ch  # type: ignore[attr-defined]
    real = ch.command

    def command(sql: str, *args: Any) -> Any:
        if sql.startswith("DELETE FROM events"):
            ch.command = real
            raise ConnectionError("killed")
        return real(sql, *args)

    ch.command = command
    with pytest.raises(ConnectionError):
        writer.run_once()
    assert store.query("SELECT count(*) - count(DISTINCT event_id) FROM events")[0][0] > 0
    store.close()
    spool.close_sync()
    spool, store = open_parts(tmp_path, store_url)
    try:
        writer = Writer(spool, store, lambda s: ("s.com",), batch_size=10_000)
        assert writer.run_once() == 0  # the round was committed
        spool.append_sync([ENCODER.encode(record(1000))])
        assert writer.run_once() == 1
        assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(401, 401)]
        assert store.query("SELECT sum(pageviews) FROM sessions") == [(401,)]
    finally:
        store.close()
        spool.close_sync()


def test_migration_8_keeps_stored_pages(tmp_path: Path, store_url: str) -> None:
    """A store from before migration 8 (pages as plain strings) keeps every stored page and
    entry page when the migration makes them LowCardinality."""
    spool, store = open_parts(tmp_path, store_url)
    try:
        paths = ["/", "/blog/a", "/blog/b", "/pricing", ""]
        spool.append_sync([ENCODER.encode(record(i, pathname=paths[i % 5])) for i in range(40)])
        writer = Writer(spool, store, lambda s: ("s.com",))
        while writer.run_once():
            pass
        pages = "SELECT pathname, entry_page, count() FROM events GROUP BY ALL ORDER BY ALL"
        visits = "SELECT entry_page, exit_page, count() FROM sessions GROUP BY ALL ORDER BY ALL"
        before = (store.query(pages), store.query(visits))
        ch: Any = store.ch  # type: ignore[attr-defined]
        for table, column in (("events", "pathname"), ("events", "entry_page"),
                              ("sessions", "entry_page"), ("sessions", "exit_page")):  # fmt: skip
            ch.command(f"ALTER TABLE {table} MODIFY COLUMN {column} Nullable(String)")
        ch.command("DELETE FROM footfall_migrations WHERE version = 8")
        ch.command("DROP TABLE visit_days")
        assert store.migrate() == [8]  # type: ignore[attr-defined]
        assert (store.query(pages), store.query(visits)) == before
        assert len(before[0]) > 1
        types = dict(store.query("SELECT name, type FROM system.columns WHERE table = 'sessions' "
                                 "AND database = currentDatabase()"))  # fmt: skip
        assert types["entry_page"] == types["exit_page"] == "LowCardinality(Nullable(String))"
    finally:
        store.close()
        spool.close_sync()
