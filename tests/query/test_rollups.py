"""The exact rollups (footfall/query/rollup.py, footfall/store/duckdb/rollups.py): every
query they answer must equal the raw path's answer — after a full build, with touched
days not sealed yet, after a seal, with late events that merge visits and change their
entry page and source, across a DST change, and after a time-zone change. Plus a few
figures checked against a plain-Python count, and that they outlive raw retention."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from footfall.config import Settings
from footfall.jobs.rollups import run_rollups
from footfall.query import funnels, rollup
from footfall.query.model import parse_query
from footfall.query.reports import Scope
from footfall.query.runner import QueryRunner
from footfall.store.duckdb import rollups as duckdb_rollups
from footfall.store.duckdb import rollups_build as duckdb_rollups_build
from footfall.store.duckdb import rollups_upkeep as duckdb_rollups_upkeep
from footfall.store.duckdb.rollups import Interrupted
from tests.conftest import Footfall, make_settings
from tests.reference import split_visits

ZONE = "America/New_York"
# 40 days of data reach back over a DST change whenever the suite runs.
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(ZoneInfo(ZONE)).date()
PAGES = ["/", "/pricing", "/blog/a", "/blog/b", "/docs", "/p/1"]
REFS = ["https://www.google.com/", "", "https://news.ycombinator.com/", "https://t.co/x"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
]  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, max_past_days=60)


@pytest.fixture
def footfall(footfall: Footfall) -> Footfall:
    # These tests run the rollups job themselves, at chosen moments; the server's own timer
    # (first run 10 s after start) would race them on a slow machine, as it once did in CI.
    footfall.services.scheduler.jobs.pop("rollups")
    return footfall


def events(rng: random.Random, n_visits: int, days_back: int, prefix: str,
           back_from: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """Visits from ``back_from`` to ``days_back`` days before NOW."""
    out = []
    for n in range(n_visits):
        visitor = f"{prefix}{rng.randrange(n_visits * 2 // 3 + 1)}"  # some come back
        ref, ua = rng.choice(REFS), rng.choice(AGENTS)
        at = NOW - timedelta(
            days=rng.randint(back_from, days_back), minutes=rng.randint(0, 23 * 60)
        )
        for i in range(rng.choice([1, 1, 2, 3, 6])):
            name = (
                "pageview" if i == 0 or rng.random() < 0.7 else rng.choice(["signup", "engagement"])
            )
            out.append({
                "event_type": name, "path": rng.choice(PAGES), "visitor_id": visitor,
                "timestamp": at.isoformat(), "url": "https://example.com/", "referrer": ref if i == 0 else "",
                "user_agent": ua, "ip": rng.choice(["8.8.8.8", "81.2.69.160", "5.9.0.1"]),
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            })  # fmt: skip
            at += timedelta(minutes=rng.choice([1, 5, 12]))
    for e in out:
        e["url"] = "https://example.com" + e["path"]
    return out


def queries(site_id: str, today: date) -> list[dict[str, Any]]:
    top = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]
    out: list[dict[str, Any]] = [
        {"metrics": top, "date_range": "30d", "compare": "previous_period"},
        {"metrics": ["visitors", "pageviews", "events"], "date_range": "7d"},
        {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"], "date_range": "30d"},
        {"metrics": ["visitors", "events"], "dimensions": ["event:name"], "date_range": "28d",
         "filters": [["is_not", "event:name", ["pageview", "engagement"]]]},
        {"metrics": ["visitors"], "dimensions": ["event:page"], "date_range": "30d",
         "filters": [["contains", "event:page", ["blog"]]], "include": {"total_rows": True}},
        {"metrics": ["visitors"], "dimensions": ["visit:source"], "date_range": "7d",
         "filters": [["is", "visit:source", ["Google", "Direct / None"]]]},
    ]  # fmt: skip
    for dim in rollup.ROLLUP_DIMENSIONS:
        out.append({"metrics": ["visitors", "pageviews"], "dimensions": [dim], "date_range": "30d"})
    visit = ["visits", "bounce_rate", "visit_duration"]
    for dim in rollup.visit_kinds():  # the visit sums: total, per visit dimension, by day
        out.append(
            {
                "metrics": ["visitors", *visit],
                "dimensions": [dim] if dim else [],
                "date_range": "7d",
            }
        )
    out.append({"metrics": ["visitors", *visit], "dimensions": ["time:day"], "date_range": "30d"})
    out.append({"metrics": visit, "dimensions": ["visit:country"], "date_range": "28d",
                "filters": [["is_not", "visit:country", ["US"]]]})  # fmt: skip
    rng = random.Random(len(site_id))
    for _ in range(8):  # custom ranges of 1-33 days ending anywhere in the data
        last = today - timedelta(days=rng.randint(0, 12))
        first = last - timedelta(days=rng.randint(0, 32))
        dim = rng.choice([None, *rollup.ROLLUP_DIMENSIONS])
        q: dict[str, Any] = {"metrics": ["visitors", "pageviews", "events"],
                             "date_range": [first.isoformat(), last.isoformat()]}  # fmt: skip
        if dim:
            q["dimensions"] = [dim]
        out.append(q)
    # Ranges on a window's edges: from its first day (bit 0), and 33 days up to its last
    # (bit 63), where a row's first day in the range has no earlier bit or one outside it.
    t = (today - rollup.EPOCH).days
    edges = [(32 * (t // 32), t), (32 * (t // 32 - 2) + 31, 32 * (t // 32 - 2) + 63)]
    for a, b in edges:
        days = [(rollup.EPOCH + timedelta(days=d)).isoformat() for d in (a, b)]
        for dims in ([], ["event:page"], ["visit:country"]):
            out.append(
                {"metrics": ["visitors", "pageviews"], "dimensions": dims, "date_range": days}
            )
    return [{**q, "site_id": site_id, "date": today.isoformat()} for q in out]


def _page(path: str) -> funnels.Step:
    return funnels.Step(path, [["is", "event:name", ["pageview"]], ["is", "event:page", [path]]])


FUNNEL_STEPS = [
    _page("/"),
    _page("/pricing"),
    funnels.Step("signup", [["is", "event:name", ["signup"]]]),
]
FUNNELS: list[tuple[str | None, str, list[Any]]] = [
    (None, "30d", []), ("visit:source", "7d", []),
    ("visit:country", "30d", [["is", "visit:country", ["US"]]]),  # raw: a filter on another
]  # fmt: skip


def compare(ff: Footfall, expect_rollups: bool = True, with_funnels: bool = False,
            bodies: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
    """Rollup path == raw path for every query (``bodies``, by default :func:`queries`) and
    funnel (when asked: they cost time); the rollups really answered them."""
    site = ff.services.meta.get_site(ff.site_id)
    assert site is not None
    raw, fast = QueryRunner(ff.services.store, rollups=False), QueryRunner(ff.services.store)
    used, tables = [], set()
    real_plan = rollup.plan

    def spy(*a: Any, **k: Any) -> Any:
        p = real_plan(*a, **k)
        used.append(p is not None)
        if p is not None:
            tables.add(p.table)
        return p

    rollup.plan = spy  # type: ignore[assignment]
    try:
        for body in queries(ff.site_id, TODAY) if bodies is None else bodies:
            q = parse_query(body)
            assert fast.run(q, site, NOW) == raw.run(q, site, NOW), body
        # A funnel's "all visitors" (per breakdown value too) is the visitors metric.
        for by, days, filters in FUNNELS if with_funnels else []:
            scope = Scope(site, days, TODAY.isoformat(), filters)
            got = funnels.report(fast, scope, FUNNEL_STEPS, by=by)
            assert got == funnels.report(raw, scope, FUNNEL_STEPS, by=by), (by, days)
    finally:
        rollup.plan = real_plan  # type: ignore[assignment]
    assert any(used) is expect_rollups
    if bodies is None:
        assert tables == ({"events", "sessions"} if expect_rollups else set())


def firsts_of(store: Any) -> list[tuple[Any, ...]]:
    """reach_firsts as its definition makes it from reach's rows: per (kind, window, value),
    how many rows have bit d set with prev the bit set before it (-1: none)."""
    out: Counter[tuple[Any, ...]] = Counter()
    for kind, win, value, days in store.query("SELECT kind, win, value, days FROM reach"):
        bits = [i for i in range(64) if days >> i & 1]
        for j, d in enumerate(bits):
            out[(kind, win, value, d, bits[j - 1] if j else -1)] += 1
    return sorted(((*k, n) for k, n in out.items()), key=lambda r: tuple((x is None, x) for x in r))


def pending(ff: Footfall) -> int:
    return int(ff.services.store.query("SELECT count(*) FROM rollup_pending")[0][0])


def test_rollups_equal_raw_through_build_touch_and_seal(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    ff, rng = footfall, random.Random(7)
    for ratio in ("COMPACT_RATIO", "CURRENT_COMPACT_RATIO"):  # never, until asked below
        monkeypatch.setattr(duckdb_rollups_upkeep, ratio, 2.0)
    ff.services.meta.update_site(ff.site_id, timezone=ZONE)
    base = events(rng, 150, 40, "a")
    for i in range(0, len(base), 200):
        assert ff.send_batch(base[i : i + 200]).status_code == 202
    ff.flush()
    compare(ff, expect_rollups=False)  # nothing built yet: raw path only
    run_rollups(ff.services.store, ff.services.meta)
    assert pending(ff) == 0
    compare(ff, with_funnels=True)

    # Late events: each lands 2 minutes before a stored visit's first event with another
    # page and source, so that visit's entry page and source change (a re-stamp); others
    # bridge two visits of a visitor (a merge), and some are new today.
    visits = split_visits([{**e, "at": datetime.fromisoformat(e["timestamp"])} for e in base])
    late = []
    for v in rng.sample(visits, 25):
        first = v[0]
        late.append({**first, "event_type": "pageview", "path": "/late", "url": "https://example.com/late",
                     "referrer": "https://www.bing.com/", "event_id": str(uuid.uuid4()),
                     "timestamp": (first["at"] - timedelta(minutes=2)).isoformat()})  # fmt: skip
    for e in late:
        e.pop("at", None)
    late += events(rng, 30, 0, "b")
    assert ff.send_batch(late).status_code == 202
    ff.flush()
    assert pending(ff) > 0
    compare(ff, with_funnels=True)  # touched days from raw events, the rest from rollups
    run_rollups(ff.services.store, ff.services.meta)
    assert pending(ff) == 0
    compare(ff)
    run_rollups(ff.services.store, ff.services.meta)  # sealing again changes nothing
    compare(ff)
    # The seals appended the first-day rows they removed; summed, reach_firsts is what the
    # definition makes of reach's rows (a plain-Python reference), before and after compacting.
    store = ff.services.store
    assert store.query("SELECT count(*) FROM reach_firsts WHERE n < 0")[0][0] > 0
    summed = ("SELECT kind, win, value, d, prev, sum(n) FROM reach_firsts GROUP BY ALL "
              "HAVING sum(n) <> 0 ORDER BY ALL")  # fmt: skip
    assert store.query(summed) == firsts_of(store)
    # The current windows are compacted on their own first; older ones keep their removals.
    win = duckdb_rollups.current_window(ZONE)
    removed = "SELECT win >= ?, count(*) FROM reach_firsts WHERE n < 0 GROUP BY ALL ORDER BY ALL"
    before = dict(store.query(removed, [win]))
    assert before.get(True)
    monkeypatch.setattr(duckdb_rollups_upkeep, "CURRENT_COMPACT_RATIO", 0.0)
    run_rollups(store, ff.services.meta)
    assert dict(store.query(removed, [win])) == {k: n for k, n in before.items() if not k}
    assert store.query(summed) == firsts_of(store)
    compare(ff)
    monkeypatch.setattr(duckdb_rollups_upkeep, "COMPACT_RATIO", 0.0)
    run_rollups(store, ff.services.meta)
    assert store.query("SELECT count(*) FROM reach_firsts WHERE n <= 0")[0][0] == 0
    assert store.query(summed) == firsts_of(store)
    compare(ff)
    exact = "SELECT kind, win, value, days, count(*) FROM reach GROUP BY ALL ORDER BY ALL"

    # The seals appended their rows after the built ones, every kind mixed. Re-sorting the
    # current windows (due here at once) puts each (kind, window) back in one run of rows,
    # changes no answer, and resets the count of appended rows.
    runs = ("SELECT kind, win, max(rowid) - min(rowid) + 1 = count(*) FROM reach "
            "WHERE win >= ? GROUP BY ALL ORDER BY ALL")  # fmt: skip
    assert not all(row[2] for row in store.query(runs, [win]))
    appended = store.query("SELECT sealed_rows FROM rollup_state")[0][0]
    assert appended > 0
    before = store.query(exact)
    monkeypatch.setattr(duckdb_rollups_upkeep, "RESORT_MIN_ROWS", appended)
    monkeypatch.setattr(duckdb_rollups_upkeep, "RESORT_RATIO", 0.0)
    # Closing the store stops a re-sort between two pieces: each piece is whole, answers
    # stay exact, and the re-sort is still due.
    stops = iter([False, True])
    kinds = rollup.spec().kinds
    assert not duckdb_rollups_upkeep.resort(store._transaction, ff.site_id, win, kinds, appended,
                                            lambda: next(stops, True))  # fmt: skip
    assert store.query(exact) == before
    assert store.query("SELECT sealed_rows FROM rollup_state")[0][0] == appended
    compare(ff)
    assert run_rollups(store, ff.services.meta)["resorted"] == [ff.site_id]
    assert all(row[2] for row in store.query(runs, [win]))
    assert store.query(exact) == before
    assert store.query("SELECT sealed_rows FROM rollup_state")[0][0] == 0
    compare(ff)
    assert run_rollups(store, ff.services.meta)["resorted"] == []  # nothing appended since

    # Another time zone: the rollups are not used until rebuilt in that zone.
    ff.services.meta.update_site(ff.site_id, timezone="Asia/Kolkata")
    compare(ff, expect_rollups=False)
    assert run_rollups(ff.services.store, ff.services.meta)["built"] == [ff.site_id]
    compare(ff)

    # A site built by an older layout is not read, and the next run rebuilds it.
    store.query("UPDATE rollup_state SET version = ?", [rollup.VERSION - 1])
    store._rollup_states = None  # as on opening such a file: the store reads the table anew
    compare(ff, expect_rollups=False)
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    compare(ff)


def edge_queries(site_id: str, today: date) -> list[dict[str, Any]]:
    """Ranges starting on either side of the block boundary before today's block (and in
    it), 1 to 33 days long, some running past today."""
    t = (today - rollup.EPOCH).days
    b0 = 32 * (t // 32)
    out = []
    for a in sorted({b0 - 30, b0 - 20, b0 - 5, b0 - 1, b0, (b0 + t) // 2, t}):
        for length in (0, 4, 31, 32):
            days = [(rollup.EPOCH + timedelta(days=d)).isoformat() for d in (a, a + length)]
            for dims in ([], ["event:page"], ["visit:country"], ["time:day"]):
                metrics = (
                    ["visitors", "pageviews"] if dims else ["visitors", "visits", "bounce_rate"]
                )
                out.append({"metrics": metrics, "dimensions": dims, "date_range": days,
                            "site_id": site_id, "date": today.isoformat()})  # fmt: skip
    return out


def seal_late(ff: Footfall, batch: list[dict[str, Any]], bodies: list[dict[str, Any]]) -> None:
    """Send ``batch`` to a built site: its visitors are pending and the answers are the raw
    ones; then a rollups run seals them (no build) and the answers stay the raw ones."""
    assert ff.send_batch(batch).status_code == 202
    ff.flush()
    assert pending(ff) > 0
    compare(ff, bodies=bodies)
    assert run_rollups(ff.services.store, ff.services.meta)["built"] == []
    assert pending(ff) == 0
    compare(ff, bodies=bodies)


def windows(ff: Footfall) -> set[int]:
    return {int(r[0]) for r in ff.services.store.query("SELECT DISTINCT win FROM reach")}


def test_the_window_starting_in_the_last_block_is_built_once_the_next_block_has_events(
    footfall: Footfall,
) -> None:
    """A day lies in two 64-day windows; the one starting in the newest block with events
    would hold the same rows as the window before it (which holds that block in its upper
    half), so it is built only once events come in the block after it. The answers stay
    the raw ones before, while and after the first events of the new block are pending and
    sealed, and the sealed rollups are what a build from scratch makes."""
    ff, rng = footfall, random.Random(11)
    ff.services.meta.update_site(ff.site_id, timezone=ZONE)
    t = (TODAY - rollup.EPOCH).days
    b0 = t // 32  # today's block
    # Events only in the block before today's (a day of margin either side of local days).
    base = events(rng, 120, min(t % 32 + 20, 55), "a", back_from=t % 32 + 2)
    assert ff.send_batch(base).status_code == 202
    ff.flush()
    assert run_rollups(ff.services.store, ff.services.meta)["built"] == [ff.site_id]
    assert windows(ff) == {b0 - 2}  # not b0 - 1 too: its rows would be b0 - 2's again
    bodies = edge_queries(ff.site_id, TODAY)
    compare(ff, bodies=bodies)

    # The first events of today's block (and late ones in the block before), pending, then
    # sealed: the seal opens window b0 - 1 from b0 - 2's upper half and adds the new days.
    more = events(rng, 40, t % 32, "a", back_from=0) + events(
        rng, 20, t % 32 + 20, "a", back_from=t % 32 + 2
    )
    now_visit = events(rng, 1, 0, "c")[0]
    more.append({**now_visit, "timestamp": NOW.isoformat()})
    seal_late(ff, more, bodies)
    assert windows(ff) == {b0 - 2, b0 - 1}
    store = ff.services.store
    summed = ("SELECT kind, win, value, d, prev, sum(n) FROM reach_firsts GROUP BY ALL "
              "HAVING sum(n) <> 0 ORDER BY ALL")  # fmt: skip
    assert store.query(summed) == firsts_of(store)
    same_as_a_build(ff)


def same_as_a_build(ff: Footfall) -> None:
    """The site's ``reach`` rows (visitors by id) and day sums are what a build from the raw
    events makes (the site is built again, as after a layout change)."""
    store = ff.services.store
    rows = ("SELECT r.kind, r.win, r.value, n.visitor_id, r.days FROM reach r JOIN visitor_numbers n "
            "USING (site_id, vno) ORDER BY ALL")  # fmt: skip
    daily = "SELECT * EXCLUDE (site_id) FROM daily ORDER BY ALL"
    sealed = store.query(rows), store.query(daily)
    store.query("UPDATE rollup_state SET version = ?", [rollup.VERSION - 1])
    store._rollup_states = None
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    assert (store.query(rows), store.query(daily)) == sealed


def test_a_store_from_before_the_version_column_opens_and_rebuilds(tmp_path: Path) -> None:
    """A store file written before ``rollup_state.version`` existed gains the column (as
    version 1) when opened, so its sites are rebuilt in the current layout."""
    from footfall.store.duckdb import DuckDBStore

    store = DuckDBStore(tmp_path / "old.duckdb")
    store.open()
    store.query("INSERT INTO rollup_state (site_id, timezone, built_at) VALUES ('s', 'UTC', now())")
    store.query("ALTER TABLE rollup_state DROP COLUMN version")
    store.close()
    store.open()
    assert store.query("SELECT site_id, version FROM rollup_state") == [("s", 1)]
    assert store.maintain_rollups({"s": "UTC"}, rollup.spec())["built"] == ["s"]
    assert store.query("SELECT version FROM rollup_state") == [(rollup.VERSION,)]
    store.close()


def test_rollup_figures_match_a_plain_count_and_outlive_retention(footfall: Footfall) -> None:
    ff = footfall
    ff.services.meta.update_site(ff.site_id, timezone="UTC")
    day = (NOW - timedelta(days=3)).replace(hour=10)
    sent = []
    # Three visitors on /a (one twice), two on /b, one custom event; 3 days ago, in UTC.
    for n, (visitor, path, name) in enumerate([("x", "/a", "pageview"), ("x", "/a", "pageview"),
                                               ("y", "/a", "pageview"), ("z", "/a", "pageview"),
                                               ("y", "/b", "pageview"), ("w", "/b", "pageview"),
                                               ("w", "/b", "signup")]):  # fmt: skip
        sent.append({"event_type": name, "path": path, "url": "https://example.com" + path,
                     "visitor_id": visitor, "timestamp": (day + timedelta(minutes=n)).isoformat(),
                     "user_agent": AGENTS[0]})  # fmt: skip
    assert ff.send_batch(sent).status_code == 202
    ff.flush()
    run_rollups(ff.services.store, ff.services.meta)
    site = ff.services.meta.get_site(ff.site_id)
    assert site is not None
    q = parse_query({"site_id": ff.site_id, "metrics": ["visitors", "pageviews", "events"],
                     "dimensions": ["event:page"], "date_range": "7d", "date": TODAY.isoformat()})  # fmt: skip
    want = {"/a": [3, 4, 4], "/b": [2, 2, 3]}
    got = QueryRunner(ff.services.store).run(q, site, NOW)
    assert {r["dimensions"][0]: r["metrics"] for r in got["results"]} == want
    # Retention removes the raw events; the rollups keep the figures (docs/design.md).
    ff.services.store.delete_events_before(NOW.replace(tzinfo=None))
    assert ff.services.store.query("SELECT count(*) FROM events")[0][0] == 0
    got = QueryRunner(ff.services.store).run(q, site, NOW)
    assert {r["dimensions"][0]: r["metrics"] for r in got["results"]} == want
    raw = QueryRunner(ff.services.store, rollups=False).run(q, site, NOW)
    assert raw["results"] == []
    # Deleting the site's data deletes its rollups too.
    ff.services.store.delete_site_data(ff.site_id)
    for table in ("reach", "reach_firsts", "daily", "visit_daily", "rollup_state"):
        assert ff.services.store.query(f"SELECT count(*) FROM {table}")[0][0] == 0


def test_a_closing_store_stops_a_build_and_queries_stay_on_raw_events(footfall: Footfall) -> None:
    ff = footfall
    assert ff.send_batch(events(random.Random(3), 20, 5, "c")).status_code == 202
    ff.flush()
    ff.services.store.interrupt_maintenance()  # what shutdown does first
    with pytest.raises(Interrupted):
        run_rollups(ff.services.store, ff.services.meta)
    assert ff.services.store.query("SELECT count(*) FROM rollup_state")[0][0] == 0
    compare(ff, expect_rollups=False)


def test_a_build_in_parts_writes_the_rows_of_a_build_in_one(
    footfall: Footfall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past STEP_EVENTS a build step runs in parts (reach by buckets of visitors, the day
    sums by runs of days), which keeps a step within the memory limit at 100M events; the
    tables hold the same rows as a build in whole steps, and answers equal the raw path's."""
    ff, rng, store = footfall, random.Random(11), footfall.services.store
    ff.services.meta.update_site(ff.site_id, timezone=ZONE)
    base = events(rng, 150, 40, "a")
    for i in range(0, len(base), 200):
        assert ff.send_batch(base[i : i + 200]).status_code == 202
    ff.flush()
    steps = []
    real_step = duckdb_rollups_build.run_step
    monkeypatch.setattr(
        duckdb_rollups_build, "run_step", lambda *a, **k: (steps.append(1), real_step(*a, **k))
    )
    tables = ["reach", "reach_firsts", "daily", "visit_daily", "visitor_numbers"]

    def rows() -> dict[str, list[tuple[Any, ...]]]:
        return {t: store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}

    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    whole, whole_steps = rows(), len(steps)
    monkeypatch.setattr(duckdb_rollups_build, "STEP_EVENTS", 40)
    store.query("UPDATE rollup_state SET version = ?", [rollup.VERSION - 1])
    store._rollup_states = None  # as on opening such a file: built again
    steps.clear()
    assert run_rollups(store, ff.services.meta)["built"] == [ff.site_id]
    assert len(steps) > 3 * whole_steps  # the window's ~600 events in parts of ~40
    assert rows() == whole
    compare(ff)
