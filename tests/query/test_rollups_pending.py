"""When most of a built site is pending (a bulk load or an import not folded in yet), the
rollups' queries read the raw events instead of correcting the rollups from them
(footfall/query/rollup_pending.py): at 10M events the correction ran out of DuckDB's
memory and the panels answered 500. Answers stay the raw path's; once retention has
deleted raw events of the range, the rollups (which keep them) answer as before."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from footfall.jobs.rollups import run_rollups
from footfall.query import rollup_pending
from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner
from tests.conftest import Footfall
from tests.query import test_rollups
from tests.query.test_rollups import NOW, TODAY, compare, events, pending

settings = test_rollups.settings  # 40 days of events reach back over 60 days' limit
footfall = test_rollups.footfall  # the rollups job runs when the test says


def send(ff: Footfall, batch: list[dict[str, Any]]) -> None:
    for i in range(0, len(batch), 200):
        assert ff.send_batch(batch[i : i + 200]).status_code == 202
    ff.flush()


@pytest.fixture
def corrections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the correction statements built (one per visitors answer corrected)."""
    calls: list[int] = []
    real = rollup_pending.visitors_sql

    def spy(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr("footfall.query.rollup.visitors_sql", spy)
    return calls


def test_most_of_a_site_pending_is_read_raw_and_exact(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch, corrections: list[int]
) -> None:
    ff, rng = footfall, random.Random(11)
    monkeypatch.setattr(rollup_pending, "PENDING_MIN_ROWS", 20)
    send(ff, events(rng, 120, 40, "a"))
    assert run_rollups(ff.services.store, ff.services.meta)["built"] == [ff.site_id]
    visitors = ff.services.store.query("SELECT count(*) FROM visitor_numbers")[0][0]
    # A few touched visitors: corrected from their raw events, as before.
    send(ff, events(rng, 6, 0, "a"))
    assert 0 < pending(ff) < rollup_pending.PENDING_SHARE * visitors
    compare(ff)
    assert corrections
    # Most visitors touched again today: every query of the rollups reads raw events.
    corrections.clear()
    send(ff, events(rng, 150, 0, "a"))
    assert pending(ff) >= rollup_pending.PENDING_SHARE * visitors
    compare(ff)  # the plans are still the rollups' (compare checks), the rows the raw ones
    assert corrections == []


def test_after_retention_the_rollups_answer_even_with_most_pending(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch, corrections: list[int]
) -> None:
    ff, rng = footfall, random.Random(12)
    monkeypatch.setattr(rollup_pending, "PENDING_MIN_ROWS", 20)
    send(ff, events(rng, 120, 40, "b"))
    run_rollups(ff.services.store, ff.services.meta)
    send(ff, events(rng, 150, 0, "b"))
    site = ff.services.meta.get_site(ff.site_id)
    assert site is not None
    q = parse_query({"site_id": ff.site_id, "metrics": ["visitors", "pageviews"],
                     "dimensions": ["visit:source"], "date_range": "30d", "date": TODAY.isoformat()})  # fmt: skip
    fast, raw = QueryRunner(ff.services.store), QueryRunner(ff.services.store, rollups=False)
    before = fast.run(q, site, NOW)
    assert before == raw.run(q, site, NOW) and corrections == []
    # Retention deletes the raw events of the range's first days (none of today's, which
    # are the pending ones); the rollups keep them, so the answer must not change, and
    # the raw events alone now answer less.
    ff.services.store.delete_events_before((NOW - timedelta(days=20)).replace(tzinfo=None))
    assert fast.run(q, site, NOW) == before
    assert corrections
    assert raw.run(q, site, NOW) != before
