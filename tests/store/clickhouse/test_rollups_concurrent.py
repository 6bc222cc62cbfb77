"""The ClickHouse daily rollups stay exact while writers insert during the rollups job
(docs/design.md, "Daily rollups"): a writer round from another connection lands right
after each statement of a build or a refresh (new pageviews, and late events that
re-stamp a stored visit and list its day dirty), and then writers run freely while the
job runs again and again. Every answer read from the rollups equals the raw events' and
the counts of the events the test wrote. Before the fix, the round written between the
view's creation and the build's fill was counted twice (pageviews 61 for 60), and a day
listed dirty during a refresh was dropped by its ``TRUNCATE``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from footfall.config import Settings
from footfall.ingest.record import ENCODER
from footfall.meta.repo import SiteInfo
from footfall.query import daily
from footfall.query.dialects import CLICKHOUSE
from footfall.query.model import parse_query
from footfall.query.rollup import spec
from footfall.query.runner import QueryRunner
from footfall.queue.writer import Writer
from footfall.store import open_store
from footfall.store.clickhouse import rollups
from tests.contract.test_store_writes import open_parts, record

pytestmark = pytest.mark.slow  # a minute on a loaded machine: rounds, seconds of clock

SITE = SiteInfo("s", "S", ("s.com",), "UTC", datetime(2023, 1, 1))
QUERIES = [
    {"metrics": ["visitors", "pageviews"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:source"]},
]
# The job's statements after which another connection writes a round.
HOOKED = ("CREATE MATERIALIZED VIEW", "INSERT INTO visit", "DELETE FROM visit")


def ms(hour: int, minute: int, second: int = 0) -> int:
    return int(datetime(2023, 11, 15, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


class Events:
    """What the test wrote, and the plain-Python answers: visitors and pageviews, in all
    and per page. Visitor ``v`` lands at 10:00 + v minutes on /p<v % 3>; a late event
    comes 5 s before its landing (/late, re-stamping the stored visit)."""

    def __init__(self, spool: Any, store: Any, writer_store: Any) -> None:
        self.spool, self.store = spool, store
        self.late_rounds = False  # whether a round from another thread has a late event
        # The rounds go through a store of their own (its own connections and lock), as a
        # ``footfall worker`` beside the ``serve`` process whose store runs the job.
        self.writer = Writer(self.spool, writer_store, lambda s: ("s.com",))
        self.rows: list[tuple[int, str]] = []  # (visitor, page) of every pageview
        self.next_id, self.late = 0, 0
        self.lock = threading.Lock()

    def _record(self, visitor: int, ts: int, page: str) -> bytes:
        self.next_id += 1
        self.rows.append((visitor, page))
        return ENCODER.encode(record(self.next_id, visitor_id=visitor, ts=ts, pathname=page,
                                     referrer="https://www.google.com/"))  # fmt: skip

    def write(self, n_new: int = 2, n_late: int = 1) -> None:
        """One round: ``n_new`` new visitors and ``n_late`` late events (in this thread)."""
        with self.lock:
            new = len({v for v, _ in self.rows})
            recs = [self._record(v, ms(10, v % 60, v // 60), f"/p{v % 3}")
                    for v in range(new, new + n_new)]  # fmt: skip
            for _ in range(n_late):
                v, self.late = self.late, self.late + 1
                recs.append(self._record(v, ms(10, v % 60, v // 60) - 5000, "/late"))
            self.spool.append_sync(recs)
            while self.writer.run_once():
                pass

    def from_another_thread(self) -> None:
        n_late = 1 if self.late_rounds else 0
        t = threading.Thread(target=self.write, args=(2, n_late))  # its own connection
        t.start()
        t.join()

    def expected(self) -> list[list[tuple[tuple[str, ...], tuple[int, int]]]]:
        def panel(key: Callable[[tuple[int, str]], tuple[str, ...]]) -> list[Any]:
            groups: dict[tuple[str, ...], list[tuple[int, str]]] = {}
            for row in self.rows:
                groups.setdefault(key(row), []).append(row)
            return sorted((k, (len({v for v, _ in g}), len(g))) for k, g in groups.items())

        return [panel(lambda r: ()), panel(lambda r: (r[1],)), panel(lambda r: ("Google",))]


@pytest.fixture
def events(tmp_path: Path, store_url: str) -> Iterator[Events]:
    spool, store = open_parts(tmp_path, store_url)
    writer_store = open_store(Settings(data_dir=tmp_path / "worker", store_url=store_url))
    yield Events(spool, store, writer_store)
    writer_store.close()
    store.close()
    spool.close_sync()


def answers(store: Any) -> list[Any]:
    """Each query's rows from the rollups (checked: they answered) and from raw events."""
    used: list[bool] = []
    real = daily.statement

    def spy(*a: Any, **k: Any) -> Any:
        st = real(*a, **k)
        used.append(st is not None)
        return st

    out = []
    fast, raw = QueryRunner(store), QueryRunner(store, rollups=False)
    for body in QUERIES:
        q = parse_query({**body, "site_id": "s", "date_range": ["2023-11-14", "2023-11-16"]})
        daily.statement = spy  # type: ignore[assignment]
        try:
            got = fast.run(q, SITE)
        finally:
            daily.statement = real  # type: ignore[assignment]
        rows = sorted((tuple(r["dimensions"]), tuple(r["metrics"])) for r in got["results"])
        want = raw.run(q, SITE)
        assert rows == sorted((tuple(r["dimensions"]), tuple(r["metrics"]))
                              for r in want["results"]), body  # fmt: skip
        out.append(rows)
    return out, used  # type: ignore[return-value]


def interleaved(events: Events) -> Any:
    """The store's transport, with a round from another thread after each hooked
    statement the job (this thread) runs."""
    real = events.store.ch
    job = threading.current_thread()

    class Interleaved:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def command(self, sql: str, params: Any = None) -> None:
            real.command(sql, params)
            if threading.current_thread() is job and sql.lstrip().startswith(HOOKED):
                events.from_another_thread()

    return Interleaved()


def settled(events: Events, ripen: Callable[[], None]) -> list[Any]:
    """The answers once the job has run with no writer and no mark is left: every whole
    day is then read from the rollups, none raw."""
    ripen()
    events.store.maintain_rollups({"s": "UTC"}, spec(CLICKHOUSE))
    assert events.store.query("SELECT count() FROM rollup_dirty") == [(0,)]
    got, used = answers(events.store)
    assert used == [True] * len(QUERIES)  # every answer came from the rollups
    return got  # type: ignore[no-any-return]


def test_rollups_stay_exact_while_writers_insert(
    events: Events, ripen: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The build's gate far enough ahead for a whole round between its views' creation and
    # its look at the clock (a loaded machine takes seconds).
    monkeypatch.setattr(rollups, "LEAD_SECONDS", 15)
    store, real = events.store, events.store.ch
    for _ in range(10):
        events.write(n_new=5, n_late=0)
    maintain = lambda: store.maintain_rollups({"s": "UTC"}, spec(CLICKHOUSE))  # noqa: E731
    hooked = interleaved(events)

    def maintain_hooked() -> dict[str, Any]:
        store._transport = hooked
        try:
            return maintain()
        finally:
            store._transport = real

    # The build: new visitors only, so no day is listed dirty and every answer comes
    # from the rollups (a refresh would hide a double count by rebuilding the day).
    assert maintain_hooked()["built"] == ["s"]
    assert store.query("SELECT count() FROM rollup_dirty") == [(0,)]
    got, used = answers(store)
    assert used == [True] * len(QUERIES)
    assert got == events.expected()

    events.write(n_new=1, n_late=1)  # a day listed dirty, for the refresh
    ripen()
    events.late_rounds = True  # the refresh: rounds that re-stamp visits too
    assert maintain_hooked()["refreshed_days"] == 1
    # The marks the rounds wrote during the refresh are kept: the day is still read raw.
    assert answers(store)[0] == events.expected()
    got = settled(events, ripen)
    assert got == events.expected()
    assert got[0] == [((), (len({v for v, _ in events.rows}), len(events.rows)))]

    # Writers run freely (their own thread and connection) while the job runs again.
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            events.write()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        for _ in range(3):
            ripen()
            maintain()
    finally:
        stop.set()
        writer.join()
    assert settled(events, ripen) == events.expected()
