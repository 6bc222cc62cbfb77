"""After DuckDB invalidates the database (a checkpoint that failed, as one short of memory
does on a small server), the store opens it again by itself: committed events stay, the
writer's round is stored once, and the dashboard answers, without a restart.

The invalidation is DuckDB's own test switch, ``debug_checkpoint_abort``: a checkpoint
that stops before writing its header raises the same fatal error as one that runs out of
memory, and leaves the database invalidated the same way."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from footfall.store.base import StoreBusy
from footfall.store.duckdb import DuckDBStore
from tests.conftest import ADMIN, Footfall
from tests.store.duckdb.test_footprint import visit

ABORT = "PRAGMA debug_checkpoint_abort = 'before_header'"


def invalidate(store: DuckDBStore) -> None:
    """A checkpoint that fails: from here on every statement of the database fails."""
    cur = store._cursor()
    cur.execute(ABORT)
    cur.execute("CREATE TABLE IF NOT EXISTS _wal (i INTEGER)")
    cur.execute("INSERT INTO _wal VALUES (1)")  # something for the checkpoint to write
    with pytest.raises(duckdb.FatalException):
        cur.execute("CHECKPOINT")
    with pytest.raises(duckdb.FatalException, match="invalidated"):
        store.con.cursor().execute("SELECT 1").fetchall()


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    s = DuckDBStore(tmp_path / "e.duckdb")
    s.open()
    s._cursor().execute("CREATE TABLE t AS SELECT i FROM range(1000) r(i)")
    s._cursor().execute("CHECKPOINT")
    return s


def test_a_read_after_the_database_was_invalidated_answers_from_it_opened_again(
    store: DuckDBStore,
) -> None:
    invalidate(store)
    assert store.query("SELECT count(*), sum(i) FROM t") == [(1000, 499500)]
    assert store._reviver.reopened == 1
    assert store.health()["ok"] is True


def test_a_thread_that_saw_the_same_error_does_not_open_it_twice(store: DuckDBStore) -> None:
    seen = store._con
    invalidate(store)
    assert store.query("SELECT count(*) FROM t") == [(1000,)]
    store._reviver.reopen(seen, RuntimeError("the same invalidation, seen late"))
    assert store._reviver.reopened == 1


def test_a_snapshot_cut_by_the_error_is_busy_and_the_next_one_answers(store: DuckDBStore) -> None:
    invalidate(store)
    with pytest.raises(StoreBusy, match="reopened"), store.snapshot() as run:
        run("SELECT count(*) FROM t")
    with store.snapshot() as run:
        assert run("SELECT count(*) FROM t") == [(1000,)]


def test_the_server_stores_and_answers_after_an_automatic_checkpoint_failed(
    footfall: Footfall,
) -> None:
    """The writer's commit runs DuckDB's automatic checkpoint, which fails: the commit is
    durable but reported as failed, so the round is tried again once the database is open
    again, its events are found stored already (by event id), and each counts once."""
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    first = [{**visit(f"a{i}", 2), "path": f"/a{i % 3}"} for i in range(30)]
    assert ff.send_batch(first).status_code == 202
    ff.flush()
    cur = store._cursor()
    cur.execute("SET checkpoint_threshold = '1KB'")  # the next commit checkpoints
    cur.execute(ABORT)
    second = [{**visit(f"b{i}", 1), "path": "/b"} for i in range(20)]
    assert ff.send_batch(second).status_code == 202
    ff.flush()
    assert store._reviver.reopened == 1
    body = {"site_id": ff.site_id, "metrics": ["visitors", "pageviews", "visits"],
            "date_range": "7d"}  # fmt: skip
    r = ff.client.post("/api/v2/query", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["metrics"] == [50, 50, 50]
    assert ff.client.get("/api/health").status_code == 200
