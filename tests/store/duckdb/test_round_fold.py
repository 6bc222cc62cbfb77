"""Writer rounds sealed into the DuckDB rollups as they are stored (issue 25,
footfall/store/duckdb/rollups_fold.py): a site whose first events come in a round starts
its rollups there, later rounds are sealed without the rollups job (late events that
re-stamp stored visits included), a round stored while the job runs is left to it, a
fold that fails loses nothing, and every answer is the raw events' (``compare``), the
rollups what a build from scratch makes."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest

from footfall.jobs.rollups import run_rollups
from footfall.query import rollup
from footfall.store.duckdb import DuckDBStore, rollups_fold
from tests.conftest import Footfall
from tests.query.test_rollups import (
    NOW,
    ZONE,
    compare,
    events,
    pending,
    same_as_a_build,
    site_days,
    site_days_reference,
    unfolded,
)
from tests.reference import split_visits


@pytest.fixture
def footfall(footfall: Footfall, monkeypatch: pytest.MonkeyPatch) -> Footfall:
    # (tests/store/duckdb/conftest.py: the job runs only when a test runs it; site in ZONE)
    monkeypatch.setattr(rollups_fold, "START_MIN_ROWS", 1)  # a new site starts in its first round
    return footfall


def send(ff: Footfall, batch: list[dict[str, Any]]) -> None:
    for i in range(0, len(batch), 200):
        assert ff.send_batch(batch[i : i + 200]).status_code == 202
        ff.flush()  # a round each


def late_events(rng: random.Random, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events 2 minutes before stored visits' first ones, with another page and source:
    the visits' entry page and source change, so their stored events are re-stamped."""
    visits = split_visits([{**e, "at": datetime.fromisoformat(e["timestamp"])} for e in base])
    out = []
    for v in rng.sample(visits, 15):
        first = {k: x for k, x in v[0].items() if k != "at"}
        out.append({**first, "event_type": "pageview", "path": "/late", "url": "https://example.com/late",
                    "referrer": "https://www.bing.com/", "event_id": str(uuid.uuid4()),
                    "timestamp": (v[0]["at"] - timedelta(minutes=2)).isoformat()})  # fmt: skip
    return out


def test_rounds_are_sealed_as_they_are_stored_and_answer_as_raw_events(footfall: Footfall) -> None:
    ff, rng = footfall, random.Random(5)
    store = ff.services.store
    assert isinstance(store, DuckDBStore)
    # In time order, as a bulk load comes: the first round starts the site's rollups.
    base = sorted(events(rng, 150, 40, "a"), key=lambda e: e["timestamp"])
    send(ff, base)
    assert store.rollup_state(ff.site_id) == (ZONE, rollup.VERSION)
    assert pending(ff) > 0 and unfolded(ff) == 0  # folded, no job run; the day sums wait
    compare(ff, with_funnels=True)
    # New visits today, visits going on (a longer visit, no longer a bounce), and late
    # events that re-stamp stored visits (their old entry page and source must go).
    going_on = [{**e, "event_id": str(uuid.uuid4()),
                 "timestamp": (datetime.fromisoformat(e["timestamp"]) + timedelta(minutes=3)).isoformat()}
                for e in base[-20:]]  # fmt: skip
    send(ff, events(rng, 30, 0, "b") + going_on + late_events(rng, base))
    assert unfolded(ff) == 0
    compare(ff, with_funnels=True)
    assert site_days(store) == site_days_reference(store, ZONE)
    assert run_rollups(store, ff.services.meta)["built"] == []  # the day sums only
    assert pending(ff) == 0
    compare(ff)
    same_as_a_build(ff)


def test_a_round_stored_while_the_job_runs_is_sealed_by_it(footfall: Footfall) -> None:
    ff, rng = footfall, random.Random(3)
    store = ff.services.store
    assert isinstance(store, DuckDBStore)
    send(ff, sorted(events(rng, 60, 20, "a"), key=lambda e: e["timestamp"]))
    assert unfolded(ff) == 0
    with store._rollup_lock:  # the job holds it: DuckDB would abort one of two rewrites
        send(ff, events(rng, 20, 0, "b"))
    assert unfolded(ff) > 0
    compare(ff)
    run_rollups(store, ff.services.meta)
    assert pending(ff) == 0
    compare(ff)
    same_as_a_build(ff)


def test_a_site_too_large_to_start_in_a_round_is_left_to_the_job(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, rng = footfall, random.Random(6)
    monkeypatch.setattr(rollups_fold, "START_MAX_EVENTS", 50)
    send(ff, sorted(events(rng, 60, 20, "a"), key=lambda e: e["timestamp"]))
    assert ff.services.store.rollup_state(ff.site_id) is None
    assert run_rollups(ff.services.store, ff.services.meta)["built"] == [ff.site_id]
    compare(ff)


def test_a_fold_that_fails_loses_nothing_and_its_round_is_stored_unsealed(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, rng = footfall, random.Random(4)
    store = ff.services.store
    base = sorted(events(rng, 60, 20, "a"), key=lambda e: e["timestamp"])
    send(ff, base)
    calls: Counter[str] = Counter()
    real = rollups_fold.seal_site

    def once(*a: Any, **k: Any) -> int:
        calls["seal"] += 1
        if calls["seal"] == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return real(*a, **k)

    monkeypatch.setattr(rollups_fold, "seal_site", once)
    extra = events(rng, 20, 0, "b")
    send(ff, extra)
    assert calls["seal"] == 1  # the retried round was stored without a fold
    assert store.query("SELECT count(*) FROM events") == [(len(base) + len(extra),)]
    assert unfolded(ff) > 0
    compare(ff)
    run_rollups(store, ff.services.meta)
    compare(ff)
    same_as_a_build(ff)


def test_a_new_site_waits_for_enough_pending_visitors_to_start_in_a_round(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new site's rounds leave its visitors pending until one brings them to
    START_MIN_ROWS; that round starts its rollups, and later rounds fold each."""
    ff, rng, store = footfall, random.Random(8), footfall.services.store
    assert isinstance(store, DuckDBStore)
    monkeypatch.setattr(rollups_fold, "START_MIN_ROWS", 20)
    today = [e for e in events(rng, 60, 0, "c") if datetime.fromisoformat(e["timestamp"]) <= NOW]
    visitors = sorted({e["visitor_id"] for e in today})
    assert len(visitors) >= 20
    send(ff, [e for e in today if e["visitor_id"] in visitors[:8]])
    assert store.rollup_state(ff.site_id) is None and unfolded(ff) == 8
    compare(ff, expect_rollups=False)
    send(ff, [e for e in today if e["visitor_id"] not in visitors[:8]])
    assert store.rollup_state(ff.site_id) == (ZONE, rollup.VERSION)
    assert pending(ff) == 0
    send(ff, events(rng, 10, 3, "d"))
    assert pending(ff) > 0 and unfolded(ff) == 0
    compare(ff)
    run_rollups(store, ff.services.meta)  # the day sums
    same_as_a_build(ff)


def test_rounds_of_a_backlog_fold_in_batches_and_the_last_one_folds_the_rest(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While records wait after a round (a bulk load), its site's visitors are folded only
    once FOLD_ROWS of them are unfolded, with the day sums when the fold holds SUMS_ROWS;
    the round that leaves the queue empty folds whatever is left, so the load's last events
    become visible with their visitors in the rollups."""
    ff, rng, store = footfall, random.Random(9), footfall.services.store
    assert isinstance(store, DuckDBStore)
    send(ff, sorted(events(rng, 60, 20, "a"), key=lambda e: e["timestamp"]))
    assert unfolded(ff) == 0
    monkeypatch.setattr(store._folder, "waiting", lambda after: 1)  # a backlog behind each round
    monkeypatch.setattr(rollups_fold, "FOLD_ROWS", 30)
    monkeypatch.setattr(rollups_fold, "SUMS_ROWS", 30)
    folds: list[bool] = []  # each fold: with the day sums?
    real = rollups_fold.seal_site

    def spy(*a: Any, sums: bool = True) -> int:
        folds.append(sums)
        return real(*a, sums=sums)

    monkeypatch.setattr(rollups_fold, "seal_site", spy)
    batch = sorted(events(rng, 80, 2, "b"), key=lambda e: e["timestamp"])
    send(ff, batch[:20])
    assert 0 < unfolded(ff) < 30 and folds == []
    compare(ff)  # the unfolded visitors corrected from raw events
    send(ff, batch[20:])  # past FOLD_ROWS: folded with the day sums, the rows ended
    assert folds == [True] and unfolded(ff) < 30
    compare(ff)
    monkeypatch.setattr(store._folder, "waiting", lambda after: 0)  # the queue drained
    send(ff, events(rng, 5, 0, "c"))
    assert folds[-1] is False and pending(ff) > 0 and unfolded(ff) == 0  # the sums: the job's
    compare(ff)
    run_rollups(store, ff.services.meta)
    same_as_a_build(ff)
