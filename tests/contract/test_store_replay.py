"""The store contract for a round replayed after a crash while the queue kept filling: a
round that stopped after its events were written and before its visits were committed is
run again from the committed queue position, now carrying the records that arrived since,
so it ends at a later position than the crashed one. Every event must still be stored
once and every visit written with its pageviews and duration (docs/design.md, metrics)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.queue.writer import Writer
from footfall.store.base import EventStore
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
