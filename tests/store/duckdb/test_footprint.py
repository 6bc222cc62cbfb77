"""The DuckDB store's footprint (issue 25): its memory defaults, answers under a lowered
memory limit, and compaction (footfall/store/duckdb/compact.py), which gives free blocks
back, stores events by (site, day, visitor) and changes no answer."""

from __future__ import annotations

import random
import shutil
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from footfall.config import Settings
from footfall.jobs.compact import run_compact
from footfall.jobs.rollups import run_rollups
from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner
from footfall.store.duckdb import DuckDBStore, sizing
from footfall.store.duckdb import compact as duckdb_compact
from footfall.store.duckdb import rollups_run as duckdb_rollups_run
from tests.conftest import Footfall
from tests.query.test_rollups import NOW, TODAY, compare, events, queries

MIB = 1 << 20


def load(ff: Footfall, seed: int, visits: int) -> None:
    base = events(random.Random(seed), visits, 40, f"s{seed}-")
    for i in range(0, len(base), 300):
        assert ff.send_batch(base[i : i + 300]).status_code == 202
    ff.flush()


def answers(store: Any, ff: Footfall, rollups: bool = True) -> list[Any]:
    site = ff.services.meta.get_site(ff.site_id)
    runner = QueryRunner(store, rollups=rollups)
    return [runner.run(parse_query(q), site, NOW) for q in queries(ff.site_id, TODAY)]


def setting(store: DuckDBStore, name: str) -> Any:
    return store.query(f"SELECT current_setting('{name}')")[0][0]


def test_defaults_are_sized_for_a_small_server() -> None:
    assert sizing.default_memory_limit(1 << 30) == "256MiB"  # a 1 GB VPS: a quarter
    assert sizing.default_memory_limit(1792 * MIB) == "448MiB"
    assert sizing.default_memory_limit(2 << 30) == "448MiB"
    assert sizing.default_memory_limit(64 << 30) == "448MiB"  # capped, not 80% of RAM
    assert sizing.default_memory_limit(256 * MIB) == "128MiB"  # never below the floor
    assert sizing.default_threads(2) == 2 and sizing.default_threads(64) == 8


def test_a_store_without_settings_uses_the_small_defaults(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    store.open()
    try:
        limit = setting(store, "memory_limit")  # DuckDB prints it back, e.g. "488.2 MiB"
        number, unit = limit.split()
        assert unit == "MiB" and float(number) <= 448, limit
        assert int(setting(store, "threads")) == sizing.default_threads()
        # A checkpoint before the appended rows fill the pool (they spilled a GB to
        # <file>.tmp during a 1M-event load with 256 MiB of WAL between checkpoints).
        number, unit = setting(store, "checkpoint_threshold").split()
        assert unit == "MiB" and float(number) <= 64, unit
        assert setting(store, "allocator_background_threads") is True
    finally:
        store.close()
    store = DuckDBStore(tmp_path / "s.duckdb", memory_limit="1GiB", threads=1)
    store.open()  # the operator's settings still win
    try:
        assert setting(store, "memory_limit").endswith("GiB")
        assert int(setting(store, "threads")) == 1
    finally:
        store.close()


def rss_anon() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_memory_a_query_freed_goes_back_to_the_system(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb", threads=2, memory_limit="512MiB")
    store.open()
    try:
        store.query(
            "CREATE TEMP TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(2000000)"
        )
        held = rss_anon()  # the table itself stays in the buffer pool
        top = store.query("SELECT s, count(*) AS n FROM t GROUP BY s ORDER BY n DESC, s LIMIT 1")
        assert top[0][1] == 1
        # The GROUP BY's hash tables (~150 MiB) are freed when it ends; DuckDB's allocator
        # used to keep their pages until its next allocation.
        deadline = time.monotonic() + 10
        while rss_anon() > held + 40 * MIB and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rss_anon() <= held + 40 * MIB
    finally:
        store.close()


def test_answers_are_unchanged_under_a_lowered_memory_limit(
    footfall: Footfall, settings: Settings, tmp_path: Path
) -> None:
    ff = footfall
    load(ff, 1, 400)
    run_rollups(ff.services.store, ff.services.meta)
    expected = answers(ff.services.store, ff)
    assert expected == answers(ff.services.store, ff, rollups=False)
    # A copy of the store (checkpointed, nothing writing) opened on its own.
    ff.services.store.query("CHECKPOINT")
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(settings.data_dir / "events.duckdb", copy)
    small = DuckDBStore(copy, threads=1, memory_limit="48MiB")
    small.open()
    try:
        assert setting(small, "memory_limit").startswith("4")  # 45.7 MiB or so
        assert answers(small, ff) == expected
        assert answers(small, ff, rollups=False) == expected
    finally:
        small.close()


def test_compaction_gives_free_blocks_back_and_changes_no_answer(
    footfall: Footfall, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    load(ff, 2, 300)
    run_rollups(ff.services.store, ff.services.meta)
    expected = answers(store, ff)
    n_events = store.query("SELECT count(*) FROM events")[0][0]
    # Free blocks, as a bulk load's first rollup build leaves them: a big table written
    # and dropped again.
    store.con.execute(
        "CREATE TABLE scratch AS SELECT range AS x, hash(range) AS y FROM range(3000000)"
    )
    store.con.execute("CHECKPOINT")
    # Blocks after the scratch table's: DuckDB cuts free blocks off the end of the file,
    # so a scratch table written last (the writer had checkpointed just before) left none.
    store.con.execute("CREATE TABLE kept AS SELECT range AS x FROM range(1000000)")
    store.con.execute("CHECKPOINT")
    store.con.execute("DROP TABLE scratch")
    store.con.execute("CHECKPOINT")
    path = settings.data_dir / "events.duckdb"
    size_before = path.stat().st_size
    assert duckdb_compact.file_use(store.con).free_share > 0.5

    assert run_compact(store, 0.95)["compacted"] is False  # not due: ratio not reached
    assert run_compact(store, 0.0) == {"compacted": False}  # 0 turns it off
    assert path.stat().st_size == size_before
    monkeypatch.setattr(duckdb_compact, "MIN_FREE_BYTES", 0)
    failures: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:  # queries go on while the file is rewritten and swapped
        while not stop.is_set():
            try:
                assert store.query("SELECT count(*) FROM events")[0][0] == n_events
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)
                return

    t = threading.Thread(target=reader)
    t.start()
    try:
        result = run_compact(store, 0.3)
    finally:
        stop.set()
        t.join()
    assert failures == []
    assert result["compacted"] is True
    assert path.stat().st_size < size_before / 2
    assert not Path(f"{path}.compact").exists()
    assert duckdb_compact.file_use(store.con).free_share < 0.2
    assert answers(store, ff) == expected
    # Stored by (site, day, visitor): a visitor's events of a day lie together.
    stored = store.query("SELECT site_id, CAST(ts AS DATE), visitor_id FROM events")
    assert stored == sorted(stored)

    # The store goes on as before: new events are written, sealed, and answered exactly.
    load(ff, 3, 60)
    assert store.query("SELECT count(*) FROM events")[0][0] > n_events
    compare(ff)
    run_rollups(ff.services.store, ff.services.meta)
    assert store.query("SELECT count(*) FROM rollup_pending")[0][0] == 0
    compare(ff)


def test_the_compaction_job_leaves_other_stores_alone() -> None:
    assert run_compact(object(), 0.3) == {"compacted": False}
    assert not duckdb_compact.due(duckdb_compact.FileUse(1 << 30, 1 << 29, 0), 0.0)
    assert duckdb_compact.due(duckdb_compact.FileUse(1 << 30, 1 << 29, 0), 0.3)
    assert not duckdb_compact.due(duckdb_compact.FileUse(1 << 20, 1 << 19, 0), 0.3)


def test_events_appended_in_time_order_are_sorted_by_the_next_compaction(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    monkeypatch.setattr(duckdb_compact, "MIN_UNSORTED", 300)
    load(ff, 4, 150)
    run_rollups(ff.services.store, ff.services.meta)
    expected = answers(store, ff)
    by_visitor = "SELECT site_id, CAST(ts AS DATE), visitor_id FROM events"
    assert store.query(by_visitor) != sorted(store.query(by_visitor))  # as the writer stored them
    n = store.query("SELECT count(*) FROM events")[0][0]
    assert n >= 300
    # No free blocks to speak of, but every event is in time order: the rewrite is due.
    assert run_compact(store, 0.95)["compacted"] is True
    assert store.query(by_visitor) == sorted(store.query(by_visitor))
    assert answers(store, ff) == expected
    assert run_compact(store, 0.95)["compacted"] is False  # nothing appended since
    load(ff, 5, 20)  # fewer than half as many again: not yet
    assert store.query("SELECT count(*) FROM events")[0][0] < 1.5 * n
    assert run_compact(store, 0.95)["compacted"] is False


def test_a_store_with_the_old_reach_layout_is_rebuilt_with_visitor_numbers(
    footfall: Footfall, settings: Settings
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    load(ff, 6, 200)
    run_rollups(ff.services.store, ff.services.meta)
    expected = answers(store, ff, rollups=False)
    # reach as the layout before visitor numbers stored it (64-bit ids).
    store.con.execute("DROP TABLE reach")
    store.con.execute("CREATE TABLE reach (site_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, "
                      "win INTEGER NOT NULL, value VARCHAR, visitor_id UBIGINT NOT NULL, "
                      "days UBIGINT NOT NULL)")  # fmt: skip
    store.close()
    store.open()
    columns = store.query("SELECT column_name FROM duckdb_columns() WHERE table_name = 'reach'")
    assert ("vno",) in columns and ("visitor_id",) not in columns
    assert store.query("SELECT count(*) FROM rollup_state") == [(0,)]  # built again
    run_rollups(ff.services.store, ff.services.meta)
    assert store.query("SELECT count(*) FROM rollup_state")[0][0] >= 1
    assert answers(store, ff) == expected
    compare(ff)


def test_a_bulk_load_is_folded_in_by_a_build_not_a_seal(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    monkeypatch.setattr(duckdb_rollups_run, "REBUILD_MIN_VISITORS", 10)
    load(ff, 7, 40)
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    load(ff, 8, 10)  # a few new visitors among many: sealed
    result = run_rollups(store, ff.services.meta)
    assert result["built"] == [] and result["sealed_visitors"] > 0
    load(ff, 9, 200)  # most of the site's visitors new at once: built again
    assert store.query("SELECT count(*) FROM rollup_pending")[0][0] > 0
    result = run_rollups(store, ff.services.meta)
    assert result["built"] == [ff.site_id] and result["sealed_visitors"] == 0
    assert store.query("SELECT count(*) FROM rollup_pending") == [(0,)]
    compare(ff)


def visit(visitor: str, days_ago: int) -> dict[str, Any]:
    at = NOW - timedelta(days=days_ago, minutes=5)
    return {"event_type": "pageview", "path": "/", "url": "https://example.com/",
            "visitor_id": visitor, "timestamp": at.isoformat(), "user_agent": "Mozilla/5.0 "
            "(X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "ip": "8.8.8.8",
            "event_id": str(uuid.uuid4())}  # fmt: skip


def test_rollup_retention_also_forgets_the_visitor_numbers_of_deleted_windows(
    footfall: Footfall,
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    # 20 visitors seen only 100 days ago, 20 only today, one on both days.
    batch = [visit(f"old-{i}", 100) for i in range(20)] + [visit(f"new-{i}", 0) for i in range(20)]
    assert ff.send_batch([*batch, visit("both", 100), visit("both", 0)]).status_code == 202
    ff.flush()
    run_rollups(store, ff.services.meta)
    numbers = "SELECT count(*) FROM visitor_numbers"
    assert store.query(numbers) == [(41,)]
    # Rollups older than 30 days go: every 64-day window holding day -100 ends by day -36.
    store.delete_rollups_before(TODAY - timedelta(days=30), ff.site_id)
    assert store.query(numbers) == [(21,)]  # the 20 seen only in deleted windows are gone
    named = "SELECT count(*) FROM visitor_numbers WHERE vno NOT IN (SELECT vno FROM reach)"
    assert store.query(named) == [(0,)]
    # One of them comes back (a new number), with one known visitor: counted exactly.
    assert ff.send_batch([visit("old-0", 0), visit("both", 0)]).status_code == 202
    ff.flush()
    run_rollups(store, ff.services.meta)
    assert store.query(numbers) == [(22,)]
    site = ff.services.meta.get_site(ff.site_id)
    query = {"site_id": ff.site_id, "metrics": ["visitors"], "date_range": "7d"}
    got = QueryRunner(store).run(parse_query(query), site, NOW)
    assert got == QueryRunner(store, rollups=False).run(parse_query(query), site, NOW)
    assert got["results"][0]["metrics"] == [22]
    compare(ff)


def test_the_rollups_job_checkpoints_a_large_wal_between_its_transactions(
    footfall: Footfall, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    monkeypatch.setattr(sizing, "CHECKPOINT_BYTES", 100_000)
    wal = Path(f"{settings.data_dir / 'events.duckdb'}.wal")
    # A load while a rollups run holds its lock: the writer's idle checkpoint waits (as
    # every checkpoint does while one of the job's transactions is open).
    with store._rollup_lock:
        for seed in range(10, 14):
            load(ff, seed, 60)
    before = wal.stat().st_size
    assert before > 200_000
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    # The job folded the WAL into the file between its steps: what is left is at most
    # a step's, not the load's plus the build's.
    after = wal.stat().st_size if wal.exists() else 0
    assert after < 100_000 < before, (before, after)
    compare(ff)
