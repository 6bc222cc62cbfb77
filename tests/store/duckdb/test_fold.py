"""Folding new events into the DuckDB rollups (issue 25): a seal rewrites only the rows
the new events change, and pending visitors whose days hold few of the site's events
are sealed rather than built again. Every answer stays the raw events' (``compare``)."""

from __future__ import annotations

import random
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from footfall.config import Settings
from footfall.jobs.rollups import run_rollups
from footfall.query.rollup import spec
from footfall.store.duckdb import DuckDBStore
from footfall.store.duckdb import rollups_run as duckdb_rollups_run
from tests.conftest import Footfall
from tests.query.test_rollups import NOW, compare, events
from tests.store.duckdb.test_footprint import answers, visit

# Where the seal of all kinds at once ran out (at 48 and 64 MiB it fit by other plans).
SMALL_LIMIT = "96MiB"


def send(ff: Footfall, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 300):
        assert ff.send_batch(events[i : i + 300]).status_code == 202
    ff.flush()


def history(visitors: int) -> list[dict[str, Any]]:
    """Each visitor on five days of the last 30 (none today), a page of its own each day."""
    out = []
    for i in range(visitors):
        for k in range(5):
            e = visit(f"h-{i}", (i * 7 + k * 5) % 30 + 1)
            e["path"] = f"/p{k}"
            e["url"] = f"https://example.com/p{k}"
            out.append(e)
    return out


def test_a_day_after_a_visitors_history_rewrites_only_the_rows_it_changes(
    footfall: Footfall,
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    send(ff, history(30))
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    firsts = store.query("SELECT count(*) FROM reach_firsts")[0][0]
    send(ff, [visit("h-3", 0)])  # a known visitor, today: after all of its days
    result = run_rollups(store, ff.services.meta)
    assert result["built"] == [] and result["sealed_visitors"] == 1
    # Today lies in two 64-day windows, but the one starting in today's block is not built
    # while no later block has events; the visit has one value of each of the 10 kinds
    # (the site, page, event name and 7 visit dimensions): 10 rows change, of the
    # visitor's rows for 5 pages and 5 days, and each adds one count at (today, its last
    # day before) to reach_firsts, none removed.
    assert store.query("SELECT sealed_rows FROM rollup_state") == [(10,)]
    assert store.query("SELECT count(*) FROM reach_firsts")[0][0] == firsts + 10
    assert store.query("SELECT count(*) FROM reach_firsts WHERE n < 0") == [(0,)]
    compare(ff)


def test_a_load_in_time_order_is_sealed_one_of_past_days_is_built(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    monkeypatch.setattr(duckdb_rollups_run, "REBUILD_MIN_VISITORS", 10)
    send(ff, history(100))
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    # Half as many new visitors as the site had, all today: their days are few of the
    # site's events, so a seal folds them in.
    send(ff, [visit(f"today-{i}", 0) for i in range(50)])
    result = run_rollups(store, ff.services.meta)
    assert result["built"] == [] and result["sealed_visitors"] == 50
    compare(ff)
    # As many new visitors spread over the past month: a build.
    send(ff, [visit(f"past-{i}", i % 30) for i in range(80)])
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    compare(ff)


def test_a_seal_of_many_pending_rows_runs_in_parts_and_keeps_each_parts_work(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    send(ff, history(20))
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    # 30 visitors today, in three writer rounds: 30 pending rows, sealed 8 at a time.
    for r in range(3):
        send(
            ff,
            [
                visit(f"h-{i}", 0) if i < 20 else visit(f"new-{r}-{i}", 0)
                for i in range(r * 10, r * 10 + 10)
            ],
        )
    pending = store.query("SELECT seq FROM rollup_pending ORDER BY seq")
    assert len(pending) == 30
    monkeypatch.setattr(duckdb_rollups_run, "SEAL_ROWS", 8)
    parts: list[int] = []
    real = duckdb_rollups_run.seal_site

    def spy(cur: Any, site_id: str, tz: str, spec: Any, upto: int) -> Any:
        parts.append(upto)
        if len(parts) == 2:  # the store closes after the second part: the rest waits
            monkeypatch.setattr(store, "_closing", True)
        return real(cur, site_id, tz, spec, upto)

    monkeypatch.setattr(duckdb_rollups_run, "seal_site", spy)
    result = run_rollups(store, ff.services.meta)
    # Two parts of 8 rows each ran, committed, and left the other 14 pending.
    assert parts == [pending[7][0], pending[15][0]]
    assert result["sealed_visitors"] == 16
    assert store.query("SELECT count(*) FROM rollup_pending") == [(14,)]
    compare(ff)
    monkeypatch.setattr(store, "_closing", False)
    parts.clear()
    assert run_rollups(store, ff.services.meta)["sealed_visitors"] == 14
    assert len(parts) == 2 and store.query("SELECT count(*) FROM rollup_pending") == [(0,)]
    compare(ff)


def test_a_seal_of_a_busy_day_fits_a_small_memory_limit(
    footfall: Footfall, settings: Settings, tmp_path: Path
) -> None:
    """A seal recomputes its visitors' touched days: one kind at a time, and the days'
    visitors counted off reach_firsts, not a distinct count of every kind's values at once
    (a seal of a day's 100k visitors at 10M events ran out of 448 MiB in both)."""
    ff, store = footfall, footfall.services.store
    assert isinstance(store, DuckDBStore)
    send(ff, events(random.Random(5), 300, 2, "busy-"))
    # The same visits again under other visitors and pages, as a site many times busier.
    copies = "range(1, 150) t(k)"
    store.con.execute(
        "INSERT INTO events SELECT e.* REPLACE (uuid() AS event_id, xor(visitor_id, (k * 1099511627776)::UBIGINT) AS visitor_id, "
        f"xor(session_id, (k * 1099511627776)::UBIGINT) AS session_id, pathname || '/' || (k % 40) AS pathname) FROM events e, {copies}"
    )
    store.con.execute(
        "INSERT INTO sessions SELECT s.* REPLACE (xor(visitor_id, (k * 1099511627776)::UBIGINT) AS visitor_id, "
        f"xor(session_id, (k * 1099511627776)::UBIGINT) AS session_id) FROM sessions s, {copies}"
    )
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    expected = answers(store, ff)
    # Every visitor of the last two days touched again, as a load in time order leaves them.
    store.con.execute(
        "INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) SELECT site_id, visitor_id, min(ts), max(ts) "
        "FROM events WHERE ts >= ? GROUP BY ALL",
        [(NOW - timedelta(days=2)).replace(tzinfo=None)],
    )
    store.con.execute("CHECKPOINT")
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(settings.data_dir / "events.duckdb", copy)
    small = DuckDBStore(copy, threads=1, memory_limit=SMALL_LIMIT)
    small.open()
    try:
        site = ff.services.meta.get_site(ff.site_id)
        assert site is not None
        result = small.maintain_rollups({ff.site_id: site.timezone}, spec())
        assert result["sealed_visitors"] > 10_000
        assert small.query("SELECT count(*) FROM rollup_pending") == [(0,)]
        assert answers(small, ff) == expected
    finally:
        small.close()
