"""A read that runs out of DuckDB's memory (a rollups build beside it holds most of the
pool) waits and runs again, and past its tries is a 503 with Retry-After, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.store.base import StoreBusy
from footfall.store.duckdb import DuckDBStore, pressure
from tests.conftest import ADMIN, Footfall
from tests.store.duckdb.test_footprint import visit

GROUPED = "SELECT g, count(DISTINCT i) FROM t GROUP BY g ORDER BY g"


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    s = DuckDBStore(tmp_path / "e.duckdb")
    s.open()
    s._cursor().execute("CREATE TABLE t AS SELECT i, i % 3 AS g FROM range(3000) r(i)")
    return s


def test_a_read_short_of_memory_runs_again_once_memory_is_free(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store._cursor().execute("SET memory_limit = '1MB'")
    waits: list[float] = []

    def build_step_ends(seconds: float) -> None:  # the memory comes back during the wait
        waits.append(seconds)
        store._cursor().execute("SET memory_limit = '256MB'")

    monkeypatch.setattr(pressure, "_sleep", build_step_ends)
    assert store.query(GROUPED) == [(0, 1000), (1, 1000), (2, 1000)]
    assert waits == [0.5]


def test_a_read_that_never_fits_says_the_store_is_busy(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store._cursor().execute("SET memory_limit = '1MB'")
    waits: list[float] = []
    monkeypatch.setattr(pressure, "_sleep", waits.append)
    with pytest.raises(StoreBusy):
        store.query(GROUPED)
    assert waits == list(pressure.WAITS)


def test_the_api_answers_503_with_retry_after_not_500(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff = footfall
    events = [{**visit(f"v{i}", 1), "path": f"/p{i % 7}"} for i in range(50)]
    assert ff.send_batch(events).status_code == 202
    ff.flush()
    store = ff.services.store
    assert isinstance(store, DuckDBStore)
    monkeypatch.setattr(pressure, "_sleep", lambda s: None)
    body = {"site_id": ff.site_id, "metrics": ["visitors"], "date_range": "7d",
            "dimensions": ["event:page"]}  # fmt: skip
    auth = {"Authorization": f"Bearer {ADMIN}"}
    # No writer round or checkpoint meanwhile: a checkpoint short of memory is fatal to a
    # DuckDB database (it must be opened again), not a busy read.
    with store._write_lock, store._rollup_lock:
        store._cursor().execute("SET memory_limit = '1MB'")
        try:
            r = ff.client.post("/api/v2/query", json=body, headers=auth)
        finally:
            store._cursor().execute("SET memory_limit = '256MB'")
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "5"
    assert r.json() == {"success": False,
                        "error": "the store is short of memory for this query; try again"}  # fmt: skip
    r = ff.client.post("/api/v2/query", json=body, headers=auth)
    assert r.status_code == 200 and sum(row["metrics"][0] for row in r.json()["results"]) == 50
