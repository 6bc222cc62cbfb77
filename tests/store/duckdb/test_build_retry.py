"""A rollups build step that runs out of DuckDB's memory runs again (rollups_upkeep.py
``run_step``): at 10M events a first build failed at 512 MiB while the dashboard read raw
events beside it, and started over from scratch at the next run."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pytest

from footfall.jobs.rollups import run_rollups
from footfall.store.duckdb import DuckDBStore, rollups_upkeep
from tests.conftest import Footfall
from tests.query.test_rollups import compare, events


def test_a_build_step_out_of_memory_runs_again_and_the_answers_stay_exact(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    base = events(random.Random(3), 60, 40, "oom-")
    for i in range(0, len(base), 300):
        assert ff.send_batch(base[i : i + 300]).status_code == 202
    ff.flush()
    monkeypatch.setattr(rollups_upkeep, "STEP_RETRY_WAIT", 0.0)
    real = store._maintenance_step
    calls = [0]

    @contextmanager
    def short_of_memory() -> Iterator[duckdb.DuckDBPyConnection]:
        calls[0] += 1
        with real() as cur:
            if calls[0] in (5, 6, 12):  # two tries of one step, one of another
                raise duckdb.OutOfMemoryException("Out of Memory Error: (injected)")
            yield cur

    monkeypatch.setattr(store, "_maintenance_step", short_of_memory)
    result = run_rollups(store, ff.services.meta)
    assert result["built"] == [ff.site_id]
    assert calls[0] > 12
    assert store.query("SELECT count(*) FROM rollup_state") == [(1,)]
    compare(ff)  # every rollup answer equals the raw one


def test_a_step_short_of_memory_every_time_fails_the_run(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    base = events(random.Random(4), 10, 40, "oom2-")
    assert ff.send_batch(base[:300]).status_code == 202
    ff.flush()
    monkeypatch.setattr(rollups_upkeep, "STEP_RETRY_WAIT", 0.0)
    real = store._maintenance_step
    calls = [0]

    @contextmanager
    def never_enough() -> Iterator[duckdb.DuckDBPyConnection]:
        calls[0] += 1
        with real() as cur:
            if calls[0] >= 3:
                raise duckdb.OutOfMemoryException("Out of Memory Error: (injected)")
            yield cur

    monkeypatch.setattr(store, "_maintenance_step", never_enough)
    with pytest.raises(duckdb.OutOfMemoryException):
        run_rollups(store, ff.services.meta)
    assert calls[0] == 2 + rollups_upkeep.STEP_RETRIES + 1
    # Not built: queries keep reading raw events, exactly.
    assert store.query("SELECT count(*) FROM rollup_state") == [(0,)]
