"""The store contract for a round replayed after a crash while the queue kept filling: a
round that stopped after its events were written and before its visits were committed is
run again from the committed queue position, now carrying the records that arrived since,
so it ends at a later position than the crashed one. Every event must still be stored
once and every visit written with its pageviews and duration (docs/design.md, metrics).

With several writers (``footfall worker``, a queue partition each), a partition's replay
must take back only that partition's rows: another writer's round may be under way."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from footfall.config import Settings
from footfall.ingest import batch as batch_steps
from footfall.ingest.enrich import Enricher
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.meta.repo import SiteInfo
from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner
from footfall.queue.writer import Writer
from footfall.store import open_store
from footfall.store.base import EventStore, WriteBatch
from tests.contract.test_store_writes import T0, open_parts, record

TIMEOUT_MS = 30 * 60_000
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
EPOCH = datetime(1970, 1, 1)


def crash_before_visits_commit(store: EventStore) -> None:
    """The store's next round dies after its events are written, before its visits commit.

    A ClickHouse round writes in pieces and the visits insert is its commit, so the insert
    into ``sessions`` fails (events, drop counts are already in). A DuckDB round is one
    transaction: dying anywhere before COMMIT is the same point for it.
    """
    ch: Any = getattr(store, "ch", None)
    if ch is not None:
        real_insert = ch.insert

        def insert(name: str, data: Any, token: str = "") -> None:
            if name == "sessions":
                ch.insert = real_insert
                raise ConnectionError("killed before the visits commit")
            real_insert(name, data, token)

        ch.insert = insert
        return
    real_begin = store.begin_batch

    @contextmanager
    def begin_batch(progress: tuple[int, int] | None, partition: int = 0) -> Iterator[Any]:
        store.begin_batch = real_begin  # type: ignore[method-assign]
        with real_begin(progress, partition) as target:
            yield target
            raise ConnectionError("killed before the visits commit")

    store.begin_batch = begin_batch  # type: ignore[method-assign]


def reference_visits(recs: list[SpoolRecord]) -> list[tuple[int, datetime, datetime, int]]:
    """(visitor, start, end, pageviews) of each visit by the 30-minute rule, from the
    records alone: a visit ends when the visitor's next event is more than 30 min later."""
    visits = []
    for v in sorted({r.visitor_id for r in recs}):
        times = sorted(r.ts for r in recs if r.visitor_id == v)
        start = prev = times[0]
        n = 1
        for t in times[1:]:
            if t - prev > TIMEOUT_MS:
                visits.append((v, start, prev, n))
                start, n = t, 0
            prev, n = t, n + 1
        visits.append((v, start, prev, n))
    return [
        (v, EPOCH + timedelta(milliseconds=a), EPOCH + timedelta(milliseconds=b), n)
        for v, a, b, n in visits
    ]


@pytest.mark.parametrize("restart", [True, False], ids=["restart", "retry"])
def test_replay_of_a_crashed_round_that_ends_later_keeps_its_visits(
    tmp_path: Path, store_url: str, restart: bool
) -> None:
    """``restart``: the process died and the writer starts again; else the writer's loop
    retries the failed round in the same process."""
    rng = random.Random(11)
    # Three hours of events from 11 visitors: most visits span rounds, some split in two.
    recs = [
        record(i, ts=T0 + rng.randrange(0, 3 * 3600_000), visitor_id=1 + i % 11) for i in range(600)
    ]
    spool, store = open_parts(tmp_path, store_url)
    # Rounds read whatever is queued (never full), as a live server's rounds do.
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=10_000)
    spool.append_sync([ENCODER.encode(r) for r in recs[:300]])
    assert writer.run_once() == 300
    # The crashed round also drops 5 bots: their count is written before the visits.
    bots = [record(1000 + i, user_agent=BOT) for i in range(5)]
    spool.append_sync([ENCODER.encode(r) for r in [*recs[300:450], *bots]])
    crash_before_visits_commit(store)
    with pytest.raises(ConnectionError):
        writer.run_once()
    # More events arrive while the writer is down.
    spool.append_sync([ENCODER.encode(r) for r in recs[450:]])
    if restart:
        store.close()
        spool.close_sync()
        spool, store = open_parts(tmp_path, store_url)
        writer = Writer(spool, store, lambda s: ("s.com",), batch_size=10_000)
    try:
        assert writer.run_once() == 305  # the crashed round's records and the new ones
        assert writer.run_once() == 0
        assert store.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(600, 600)]
        assert store.query("SELECT reason, sum(n) FROM dropped_events GROUP BY reason") == [
            ("bot", 5)
        ]
        expected = reference_visits(recs)
        got = store.query(
            "SELECT visitor_id, start_ts, end_ts, pageviews FROM sessions "
            "ORDER BY visitor_id, start_ts"
        )
        assert [tuple(r) for r in got] == expected
        # Each stored event belongs to a stored visit, one visit per session id.
        orphans = store.query(
            "SELECT count(*) FROM events WHERE session_id NOT IN (SELECT session_id FROM sessions)"
        )
        assert orphans == [(0,)]
        assert store.query("SELECT count(DISTINCT session_id) FROM events") == [(len(expected),)]
    finally:
        store.close()
        spool.close_sync()


# Two queue partitions, each with its own writer (two `footfall worker` processes; on
# DuckDB, which has one writer, the same store): partition 0 holds visitors 1 and 2,
# partition 1 visitors 3 and 4. (id, visitor, UTC time of 2023-11-15, page, bot?)
def _at(hour: int, minute: int) -> int:
    return int(datetime(2023, 11, 15, hour, minute, tzinfo=UTC).timestamp() * 1000)


A1 = [(1, 1, _at(10, 0), "/a"), (2, 1, _at(10, 5), "/b"), (3, 2, _at(10, 0), "/a")]
B1 = [(4, 3, _at(10, 0), "/a"), (5, 4, _at(10, 0), "/c"), (6, 4, _at(10, 10), "/a")]
# Partition 0's round that dies before its visits commit: visitor 1 goes on, visitor 2's
# late first event re-stamps its stored visit (entry page /b), two bots are dropped.
A2 = [(7, 1, _at(10, 10), "/c"), (8, 2, _at(9, 58), "/b"), (9, 1, _at(10, 1), "bot"),
      (10, 2, _at(10, 2), "bot")]  # fmt: skip
# Partition 1's round, under way while partition 0 is replayed: a new visit of visitor 4.
B2 = [(11, 3, _at(10, 20), "/b"), (12, 4, _at(12, 0), "/b"), (13, 3, _at(10, 21), "bot")]
A3 = [(14, 1, _at(11, 0), "/a")]  # a new visit of visitor 1
B3 = [(15, 3, _at(10, 25), "/c")]


def _round(
    store: EventStore, tmp_path: Path, part: int, pos: int, rows: list[tuple[int, int, int, str]]
) -> None:
    recs = [
        record(i, visitor_id=v, ts=ts, pathname=page, user_agent=BOT)
        if page == "bot"
        else record(i, visitor_id=v, ts=ts, pathname=page)
        for i, v, ts, page in rows
    ]
    source = tmp_path / f"round-{part}-{pos}.jsonl"
    source.write_bytes(b"".join(ENCODER.encode(r) + b"\n" for r in recs))
    enricher = Enricher(lambda s: ("s.com",))
    batch_steps.write(store, WriteBatch(source, enricher, progress=(0, pos), partition=part))


def _during_visits_commit(store: EventStore, work: Callable[[], None]) -> None:
    """Run ``work`` while ``store``'s next round is under way: on ClickHouse after its
    events are written and before its visits commit; DuckDB's round is one transaction of
    one writer, so ``work`` runs before it."""
    ch: Any = getattr(store, "ch", None)
    if ch is None:
        work()
        return
    real_insert = ch.insert

    def insert(name: str, data: Any, token: str = "") -> None:
        if name == "sessions":
            ch.insert = real_insert
            work()
        real_insert(name, data, token)

    ch.insert = insert


@pytest.mark.parametrize("grown", [False, True], ids=["same-batch", "grown-batch"])
def test_a_partition_replayed_while_another_writes_leaves_every_report_exact(
    tmp_path: Path, store_url: str, grown: bool
) -> None:
    """``same-batch``: another worker replays the stopped batch as it was (the same
    position); ``grown-batch``: the replay also carries the partition's next records and
    ends later (as the spool's writer's does)."""
    settings = Settings(data_dir=tmp_path, store_url=store_url)
    one_writer = not store_url  # DuckDB: one process writes for both partitions
    a = open_store(settings)
    b = a if one_writer else open_store(settings)
    opened = [a, b]
    try:
        _round(a, tmp_path, 0, 100, A1)
        _round(b, tmp_path, 1, 101, B1)
        crash_before_visits_commit(a)
        with pytest.raises(ConnectionError):
            _round(a, tmp_path, 0, 200, A2)
        a.close()  # partition 0's writer dies; another takes the partition over
        taker = open_store(settings)
        opened.append(taker)
        b = taker if one_writer else b

        def replay() -> None:
            _round(taker, tmp_path, 0, *((300, A2 + A3) if grown else (200, A2)))

        _during_visits_commit(b, replay)
        _round(b, tmp_path, 1, 201, B2)
        _round(taker, tmp_path, 0, 300, A3)  # grown: stored already, written once
        _round(b, tmp_path, 1, 301, B3)
        assert reports(taker) == EXPECTED
        assert taker.query("SELECT sum(n) FROM dropped_events") == [(3,)]
        assert taker.query("SELECT count(*), count(DISTINCT event_id) FROM events") == [(12, 12)]
    finally:
        for s in opened[1:]:
            s.close()


SITE = SiteInfo("s", "S", ("s.com",), "UTC", datetime(2023, 1, 1))
QUERIES: list[dict[str, Any]] = [
    {"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visits"], "dimensions": ["visit:entry_page"]},
]
# Visits: 1: 10:00-10:10 (/a /b /c) and 11:00 (/a); 2: 9:58-10:00 (/b /a); 3: 10:00-10:25
# (/a /b /c); 4: 10:00-10:10 (/c /a) and 12:00 (/b). Bounces: 2 of 6 (33.3%); durations 600, 0,
# 120, 1500, 600, 0 s: mean 470.
EXPECTED = [
    [((), (4, 6, 12, 33.3, 470))],
    [(("/a",), (4, 5)), (("/b",), (4, 4)), (("/c",), (3, 3))],
    [(("/a",), (3,)), (("/b",), (2,)), (("/c",), (1,))],
]


def reports(store: EventStore) -> list[list[tuple[tuple[Any, ...], tuple[Any, ...]]]]:
    runner = QueryRunner(store, rollups=False)
    out = []
    for body in QUERIES:
        q = parse_query({**body, "site_id": "s", "date_range": ["2023-11-15", "2023-11-15"]})
        got = runner.run(q, SITE)["results"]
        out.append(sorted((tuple(r["dimensions"]), tuple(r["metrics"])) for r in got))
    return out
