"""The access-log import's bulk load (footfall/imports/bulk.py): page views stored in rounds
straight through the batch steps. Visits that cross rounds, and visits of a later file
that continue visits already stored, come out as the 30-minute rule over all page views
makes them, on both stores; and the rollups of a store that has them, built before the
import, answer every report as the raw events do after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from footfall.config import Settings
from footfall.imports import bulk
from footfall.imports.accesslog import run as reader
from footfall.imports.accesslog.run import AccessLogImport
from footfall.imports.feed import Feed
from footfall.jobs.rollups import run_rollups
from tests.conftest import Footfall
from tests.imports.test_access_log import FIREFOX, SAFARI, clf, query, run_cli, shop
from tests.query.test_rollups import NOW, compare, events

__all__ = ["shop"]  # the fixture, imported for the tests below

# (ip, user agent, minutes after 08:00 of the day, path) in two files.
FIRST = [
    ("198.51.100.1", FIREFOX, 0, "/a1"),
    ("198.51.100.1", FIREFOX, 10, "/a2"),
    ("198.51.100.2", FIREFOX, 0, "/b1"),
]
SECOND = [
    ("198.51.100.1", FIREFOX, 35, "/a3"),  # 25 minutes after a stored visit: continues it
    ("198.51.100.1", FIREFOX, 120, "/a4"),  # a visit of its own
    ("198.51.100.2", FIREFOX, 31, "/b2"),  # 31 minutes after: a new visit
    *(("198.51.100.3", SAFARI, 5 * i, f"/c{i}") for i in range(8)),  # one visit, many rounds
]


def _log(path: Path, rows: list[tuple[str, str, int, str]]) -> Path:
    path.write_text(
        "".join(
            f'{ip} - - [{clf(m)}] "GET {p} HTTP/1.1" 200 5 "-" "{ua}"\n' for ip, ua, m, p in rows
        )
    )
    return path


def _visits(rows: list[tuple[str, str, int, str]]) -> list[list[str]]:
    """Each visit's paths in order, by the 30-minute rule over all of ``rows`` (plain Python)."""
    out: list[list[str]] = []
    by: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for ip, ua, m, p in rows:
        by.setdefault((ip, ua), []).append((m, p))
    for seen in by.values():
        last = None
        for m, p in sorted(seen):
            if last is None or m - last > 30:
                out.append([])
            out[-1].append(p)
            last = m
    return out


def count_rounds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The records of each bulk round the import stores, in order."""
    rounds: list[int] = []
    real = bulk.BulkLoad._round

    def spy(self: bulk.BulkLoad[Any], table: Any) -> dict[str, Any]:
        rounds.append(table.num_rows)
        return real(self, table)

    monkeypatch.setattr(bulk.BulkLoad, "_round", spy)
    return rounds


def test_visits_cross_rounds_and_continue_stored_ones(
    shop: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Rounds of a few page views: every visit of the second file spans two or more.
    monkeypatch.setattr(reader, "PIECE", 2)
    monkeypatch.setattr(bulk, "ROUND", 3)
    rounds = count_rounds(monkeypatch)
    run_cli(shop, monkeypatch, capsys, str(_log(tmp_path / "a.log", FIRST)))
    second = _log(tmp_path / "b.log", SECOND)
    summary = run_cli(shop, monkeypatch, capsys, str(second))
    assert summary["imported"] == len(SECOND) and len(rounds) >= 4 and max(rounds) <= 4

    visits = _visits(FIRST + SECOND)
    assert len(visits) == 5  # a1-a3, a4, b1, b2, c0-c7
    dates = {"date_range": ["2024-03-05", "2024-03-05"]}
    top = query(shop, {"metrics": ["pageviews", "visitors", "visits", "bounce_rate"], **dates})
    bounces = sum(len(v) == 1 for v in visits)
    assert top[0]["metrics"] == [len(FIRST + SECOND), 3, len(visits), 100 * bounces / len(visits)]
    for dim, at in (("visit:entry_page", 0), ("visit:exit_page", -1)):
        got = query(shop, {"metrics": ["visits"], "dimensions": [dim], **dates})
        assert {r["dimensions"][0]: r["metrics"][0] for r in got} == {v[at]: 1 for v in visits}

    # Again: nothing added, the visits as they were.
    again = run_cli(shop, monkeypatch, capsys, str(second))
    assert (again["imported"], again["already_imported"]) == (0, len(SECOND))
    assert query(shop, {"metrics": ["visits"], **dates})[0]["metrics"] == [len(visits)]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    from tests.conftest import make_settings

    return make_settings(tmp_path, max_past_days=60)


def test_rollups_built_before_an_import_equal_raw_after_it(
    footfall: Footfall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live events, rollups built; then a log of page views on the same (rolled-up) days,
    some visitors coming back within a visit: the rollups' to-do list takes them in."""
    import random

    ff, services = footfall, footfall.services
    services.scheduler.jobs.pop("rollups")  # run below, at chosen moments
    live = events(random.Random(3), 60, 20, "v")
    for i in range(0, len(live), 200):
        assert ff.send_batch(live[i : i + 200]).status_code == 202
    ff.flush()
    run_rollups(services.store, services.meta)
    compare(ff)

    rng, rows = random.Random(5), []
    for e in live[::3]:  # at the live events' times, on the days rolled up
        at = datetime.fromisoformat(e["timestamp"]) + timedelta(minutes=10)
        rows.append((e["ip"], e["user_agent"], at, "/from-log"))
    for i in range(40):  # and visitors coming back 10 minutes later (one visit) or not
        at = NOW - timedelta(days=rng.randrange(20), minutes=rng.randrange(600))
        rows += [
            (f"192.0.2.{i}", SAFARI, at, f"/p/{i % 7}"),
            (f"192.0.2.{i}", SAFARI, at + timedelta(minutes=10 + 30 * (i % 2)), "/p/x"),
        ]
    log = tmp_path / "recent.log"
    log.write_text(
        "".join(
            f"{ip} - - [{at.astimezone(UTC).strftime('%d/%b/%Y:%H:%M:%S +0000')}] "
            f'"GET {p} HTTP/1.1" 200 5 "-" "{ua}"\n'
            for ip, ua, at, p in rows
        )
    )
    # The server's own services (its writer's enricher, its store), as the CLI's feed.
    feed = Feed(
        services.settings, services.meta, services.sites, services.salts, services.queue,
        services.store, services.writer,
    )  # fmt: skip
    site = services.meta.get_site(ff.site_id)
    assert site is not None
    got = AccessLogImport(feed, site, "combined").run(str(log))
    assert feed.counts.inserted == got.pageviews == len(rows)
    run_rollups(services.store, services.meta)
    compare(SimpleNamespace(services=services, site_id=ff.site_id))  # type: ignore[arg-type]


class Stopped(RuntimeError):
    """The process 'died' between a round's events and its visits."""


@pytest.mark.slow  # chdb: ~12 s
def test_a_round_stopped_between_events_and_visits_is_mended_by_importing_again(
    shop: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Two rounds: the first commits whole, the second stops after its events are written
    # and before its visits are (ClickHouse: separate inserts; DuckDB: one transaction).
    monkeypatch.setattr(reader, "PIECE", 4)
    monkeypatch.setattr(bulk, "ROUND", 4)
    rows = FIRST + SECOND
    log = _log(tmp_path / "a.log", rows)
    rounds: list[int] = []
    if shop.store_url:
        from footfall.store.clickhouse.write import ScratchTarget

        real_write = ScratchTarget._write

        def write(self: Any, table: str, *args: Any, **kw: Any) -> None:
            if table == "sessions" and len(rounds) == 2:
                raise Stopped
            real_write(self, table, *args, **kw)

        monkeypatch.setattr(ScratchTarget, "_write", write)
    else:
        from footfall.store.duckdb.store import _InPlace

        def insert(self: Any, select: str) -> None:
            if len(rounds) == 2:
                raise Stopped
            self.cur.execute(f"INSERT INTO sessions BY NAME {select}")

        monkeypatch.setattr(_InPlace, "insert_visits", insert)
    real_round = bulk.BulkLoad._round

    def counted(self: bulk.BulkLoad[Any], table: Any) -> dict[str, Any]:
        rounds.append(table.num_rows)
        return real_round(self, table)

    monkeypatch.setattr(bulk.BulkLoad, "_round", counted)
    with pytest.raises(Stopped):
        run_cli(shop, monkeypatch, capsys, str(log))
    monkeypatch.undo()
    capsys.readouterr()

    again = run_cli(shop, monkeypatch, capsys, str(log))
    assert again["imported"] + again["already_imported"] == len(rows)
    visits = _visits(rows)
    dates = {"date_range": ["2024-03-05", "2024-03-05"]}
    top = query(shop, {"metrics": ["pageviews", "visitors", "visits", "bounce_rate"], **dates})
    bounces = sum(len(v) == 1 for v in visits)
    assert top[0]["metrics"] == [len(rows), 3, len(visits), 100 * bounces / len(visits)]
    for dim, at in (("visit:entry_page", 0), ("visit:exit_page", -1)):
        got = query(shop, {"metrics": ["visits"], "dimensions": [dim], **dates})
        assert {r["dimensions"][0]: r["metrics"][0] for r in got} == {v[at]: 1 for v in visits}
    pages = query(shop, {"metrics": ["visits", "pageviews"], "dimensions": ["event:page"], **dates})
    assert {r["dimensions"][0]: r["metrics"] for r in pages} == {p: [1, 1] for *_, p in rows}


@pytest.mark.slow  # chdb: ~10 s
def test_an_earlier_log_restamps_stored_visits_without_copies(
    shop: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # The later half of the day first; then the earlier half, whose lines start the
    # visits the stored events belong to (their entry page and first event change).
    later = [("198.51.100.1", FIREFOX, 20, "/x2"), ("198.51.100.1", FIREFOX, 25, "/x3")]
    earlier = [("198.51.100.1", FIREFOX, 10, "/x1"), ("198.51.100.2", SAFARI, 0, "/y")]
    run_cli(shop, monkeypatch, capsys, str(_log(tmp_path / "later.log", later)))
    run_cli(shop, monkeypatch, capsys, str(_log(tmp_path / "earlier.log", earlier)))
    dates = {"date_range": ["2024-03-05", "2024-03-05"]}
    top = query(shop, {"metrics": ["pageviews", "visitors", "visits"], **dates})
    assert top[0]["metrics"] == [4, 2, 2]
    got = query(
        shop, {"metrics": ["visits", "pageviews"], "dimensions": ["visit:entry_page"], **dates}
    )
    assert {r["dimensions"][0]: r["metrics"] for r in got} == {"/x1": [1, 3], "/y": [1, 1]}


def test_the_first_round_starts_after_a_few_records_not_a_full_round(
    shop: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # While no round runs, MIN_ROUND held records start one: the batch steps begin after
    # the first pieces of a file, not after ROUND records; the visits are those of one pass.
    monkeypatch.setattr(reader, "PIECE", 2)
    monkeypatch.setattr(bulk, "ROUND", 1000)
    monkeypatch.setattr(bulk, "MIN_ROUND", 3)
    rounds = count_rounds(monkeypatch)
    rows = FIRST + SECOND
    summary = run_cli(shop, monkeypatch, capsys, str(_log(tmp_path / "a.log", rows)))
    assert summary["imported"] == len(rows) and sum(rounds) == len(rows)
    assert rounds[0] == 4  # two pieces of two
    visits = _visits(rows)
    dates = {"date_range": ["2024-03-05", "2024-03-05"]}
    top = query(shop, {"metrics": ["pageviews", "visitors", "visits"], **dates})
    assert top[0]["metrics"] == [len(rows), 3, len(visits)]
