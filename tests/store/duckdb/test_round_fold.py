"""Writer rounds folded into the DuckDB rollups as they are stored (issue 25,
footfall/store/duckdb/rollups_fold.py): a site whose first events come in a round starts
its rollups there, later rounds are folded in without the rollups job, visitors whose
stored events a round rewrites stay pending for the job's seal, and every answer is the
raw events' (``compare``), the rows what a build from scratch makes."""

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
from tests.query.test_rollups import NOW, ZONE, compare, events, firsts_of, pending
from tests.reference import split_visits


@pytest.fixture
def footfall(footfall: Footfall, monkeypatch: pytest.MonkeyPatch) -> Footfall:
    # (tests/store/duckdb/conftest.py: the job runs only when a test runs it; site in ZONE)
    monkeypatch.setattr(rollups_fold, "FOLD_MIN_EVENTS", 1)  # every round is "large"
    return footfall


def send(ff: Footfall, batch: list[dict[str, Any]]) -> None:
    for i in range(0, len(batch), 200):
        assert ff.send_batch(batch[i : i + 200]).status_code == 202
        ff.flush()  # a round each


ROWS = ("SELECT r.kind, r.win, r.value, n.visitor_id, r.days FROM reach r JOIN visitor_numbers n "
        "USING (site_id, vno) ORDER BY ALL")  # fmt: skip
DAILY = ("SELECT kind, day, value, sum(visitors), sum(pageviews), sum(events) FROM daily "
         "GROUP BY ALL HAVING sum(visitors) <> 0 OR sum(pageviews) <> 0 OR sum(events) <> 0 ORDER BY ALL")  # fmt: skip
VISIT_DAILY = ("SELECT kind, day, value, sum(visits), sum(bounces), sum(duration_ms) FROM visit_daily "
               "GROUP BY ALL HAVING sum(visits) <> 0 ORDER BY ALL")  # fmt: skip
FIRSTS = ("SELECT kind, win, value, d, prev, sum(n) FROM reach_firsts GROUP BY ALL "
          "HAVING sum(n) <> 0 ORDER BY ALL")  # fmt: skip


def same_as_a_build(ff: Footfall) -> None:
    """The folded rollups hold what a build from the raw events makes."""
    store = ff.services.store
    assert store.query(FIRSTS) == firsts_of(store)
    folded = [store.query(sql) for sql in (ROWS, DAILY, VISIT_DAILY)]
    store.query("UPDATE rollup_state SET version = ?", [rollup.VERSION - 1])
    store._rollup_states = None  # type: ignore[attr-defined]
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    assert [store.query(sql) for sql in (ROWS, DAILY, VISIT_DAILY)] == folded


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


def test_rounds_are_folded_as_they_are_stored_and_answer_as_raw_events(footfall: Footfall) -> None:
    ff, rng = footfall, random.Random(5)
    store = ff.services.store
    assert isinstance(store, DuckDBStore)
    # In time order, as a bulk load comes: the first round starts the site's rollups.
    base = sorted(events(rng, 150, 40, "a"), key=lambda e: e["timestamp"])
    send(ff, base)
    assert store.rollup_state(ff.site_id) == (ZONE, rollup.VERSION)
    assert pending(ff) == 0  # folded, no job run
    compare(ff, with_funnels=True)
    # New visits today, visits going on (a longer visit, no longer a bounce), and late
    # events that re-stamp stored visits: those visitors alone stay pending.
    going_on = [{**e, "event_id": str(uuid.uuid4()),
                 "timestamp": (datetime.fromisoformat(e["timestamp"]) + timedelta(minutes=3)).isoformat()}
                for e in base[-20:]]  # fmt: skip
    late = late_events(rng, base)
    send(ff, events(rng, 30, 0, "b") + going_on + late)
    rewritten = {e["visitor_id"] for e in late}
    left = store.query("SELECT count(DISTINCT visitor_id) FROM rollup_pending")[0][0]
    assert 0 < left <= len(rewritten)
    compare(ff, with_funnels=True)
    assert run_rollups(store, ff.services.meta)["built"] == []
    assert pending(ff) == 0
    compare(ff)
    same_as_a_build(ff)


def test_a_day_sum_folded_in_parts_counts_each_visitor_once(footfall: Footfall) -> None:
    """Rounds add a day's rows to ``daily``: the day's visitors are those whose row gained
    the day, so a visitor seen in two rounds of a day counts once (a plain count)."""
    ff = footfall
    ff.services.meta.update_site(ff.site_id, timezone="UTC")
    at = NOW - timedelta(hours=1)
    one = [{"event_type": "pageview", "path": "/x", "url": "https://example.com/x", "visitor_id": f"v{i % 7}",
            "timestamp": (at + timedelta(seconds=i)).isoformat(), "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            "ip": "8.8.8.8", "event_id": str(uuid.uuid4())} for i in range(30)]  # fmt: skip
    for i in range(0, 30, 10):
        send(ff, one[i : i + 10])
    rows = ff.services.store.query(
        "SELECT sum(visitors), sum(pageviews), count(*) FROM daily WHERE kind = '' AND day = ?", [at.date()]
    )
    assert rows[0][:2] == (7, 30)
    assert rows[0][2] >= 2  # in parts: rows of their own per round
    compare(ff)


def test_a_round_left_pending_while_the_job_runs_is_sealed_by_it(footfall: Footfall) -> None:
    ff, rng = footfall, random.Random(3)
    store = ff.services.store
    assert isinstance(store, DuckDBStore)
    send(ff, sorted(events(rng, 60, 20, "a"), key=lambda e: e["timestamp"]))
    assert pending(ff) == 0
    with store._rollup_lock:  # the job holds it: DuckDB would abort one of two rewrites
        send(ff, events(rng, 20, 0, "b"))
    assert pending(ff) > 0
    compare(ff)
    run_rollups(store, ff.services.meta)
    assert pending(ff) == 0
    compare(ff)
    same_as_a_build(ff)


def test_a_fold_that_fails_loses_nothing_and_its_round_is_stored_unfolded(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, rng = footfall, random.Random(4)
    store = ff.services.store
    base = sorted(events(rng, 60, 20, "a"), key=lambda e: e["timestamp"])
    send(ff, base)
    calls: Counter[str] = Counter()
    real = rollups_fold.fold_round

    def once(*a: Any, **k: Any) -> int:
        calls["fold"] += 1
        if calls["fold"] == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return real(*a, **k)

    monkeypatch.setattr(rollups_fold, "fold_round", once)
    extra = events(rng, 20, 0, "b")
    send(ff, extra)
    assert calls["fold"] == 1  # the retried round was stored without a fold
    assert store.query("SELECT count(*) FROM events") == [(len(base) + len(extra),)]
    assert pending(ff) > 0
    compare(ff)
    run_rollups(store, ff.services.meta)
    compare(ff)
    same_as_a_build(ff)
