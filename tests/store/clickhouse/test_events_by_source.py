"""The ClickHouse store's copy of its events ordered by source (``events_by_source``,
footfall/store/clickhouse/by_source.py) holds the same rows as ``events`` after every
write and delete: a round's inserts, a late event re-stamping a stored visit (the older
rows deleted by the writer), a person forgotten, a retention cut and a site deleted. A
top-stats row filtered by source and page reads the copy and answers what the test's own
events say (literals worked out below), and what the same store answers from ``events``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from footfall.ingest.record import ENCODER
from footfall.meta.repo import SiteInfo
from footfall.query import by_source
from footfall.query.dialects import CLICKHOUSE
from footfall.query.model import parse_query
from footfall.query.rollup import spec
from footfall.query.runner import QueryRunner
from footfall.queue.writer import Writer
from tests.contract.test_store_writes import open_parts, out_of_order, record

SITE = SiteInfo("s", "S", ("s.com",), "UTC", datetime(2023, 1, 1))
GOOGLE, BING = "https://www.google.com/", "https://www.bing.com/"
QUERY = {
    "site_id": "s",
    "date_range": ["2023-10-28", "2023-10-30"],
    "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
    "filters": [["is", "visit:source", ["Google"]], ["contains", "event:page", ["/blog"]]],
}
# The columns both tables hold, to compare them row by row.
SAME = "toString(event_id), site_id, referrer_source, ts, name, pathname, entry_page, visitor_id, session_id, part, pos"  # noqa: E501

Event = tuple[int, int, datetime, str, str]  # (id, visitor, UTC time, page, referrer)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 10, day, hour, minute, tzinfo=UTC)


# One visit per visitor. Matching events (Google and a /blog page): 1, 3, 6, 7.
EVENTS: list[Event] = [
    (1, 1, at(28, 10), "/blog/a", GOOGLE),
    (2, 1, at(28, 10, 5), "/", ""),  # same visit: its source is its first event's
    (3, 2, at(28, 12), "/blog/b", GOOGLE),  # a bounce
    (4, 3, at(29, 9), "/blog/a", BING),  # another source
    (5, 4, at(29, 11), "/", GOOGLE),  # another page
    (6, 5, at(30, 8), "/blog/c", GOOGLE),
    (7, 5, at(30, 8, 1), "/blog/d", ""),
]
# Visitor 1's late first event, a minute before its first, from Bing: the visit's source
# and entry page change, so its stored events are re-stamped (deleted and written again).
LATE: Event = (8, 1, at(28, 9, 59), "/", BING)


def write(spool: Any, store: Any, *events: Event) -> None:
    writer = Writer(spool, store, lambda s: ("s.com",))
    spool.append_sync([ENCODER.encode(record(i, visitor_id=v, ts=int(t.timestamp() * 1000),
                                             pathname=p, referrer=r))
                       for i, v, t, p, r in events])  # fmt: skip
    while writer.run_once():
        pass


def answer(store: Any) -> list[Any]:
    """The filtered row, asserted equal to the same store's answer from ``events``."""
    q = parse_query(QUERY)
    got = QueryRunner(store).run(q, SITE)["results"][0]["metrics"]
    caps = store.capabilities
    store.capabilities = dataclasses.replace(caps, events_by_source=False)
    try:
        assert QueryRunner(store).run(q, SITE)["results"][0]["metrics"] == got
    finally:
        store.capabilities = caps
    return list(got)


def same_rows(store: Any) -> int:
    """The copy's rows are the events' rows; how many."""
    events = sorted(store.query(f"SELECT {SAME} FROM events"))
    assert sorted(store.query(f"SELECT {SAME} FROM {by_source.TABLE}")) == events
    return len(events)


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each filtered row read the copy."""
    used: list[bool] = []
    real = by_source.events_table

    def spy(*a: Any, **k: Any) -> str:
        got = real(*a, **k)
        used.append(got == by_source.TABLE)
        return got

    monkeypatch.setattr(by_source, "events_table", spy)
    return used


def test_copy_by_source_follows_writes_and_deletes(
    tmp_path: Path, store_url: str, spied: list[bool]
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    try:
        write(spool, store, *EVENTS)
        assert same_rows(store) == 7
        # Visits 1, 2 and 5; pageviews 1, 3, 6, 7; visit 2 bounced (all three entered on
        # a /blog page); durations 300, 0 and 60 s.
        assert answer(store) == [3, 3, 4, 33.3, 120]
        assert spied == [True, False]  # the copy, then (capability off) the events

        write(spool, store, LATE)  # visit 1 is Bing's now: visits 2 and 5 are left
        assert (
            store.query("SELECT referrer_source FROM events WHERE visitor_id = 1")
            == [("Bing",)] * 3
        )
        assert same_rows(store) == 8
        assert answer(store) == [2, 2, 3, 50.0, 30]

        assert store.delete_person("s", "visitor_id", 5, spec(CLICKHOUSE))["events"] == 2
        assert same_rows(store) == 6
        assert answer(store) == [1, 1, 1, 100.0, 0]

        # A retention cut through visit 1 (its events before 10:01 go).
        assert store.delete_events_before(at(28, 10, 1), "s") == 2
        assert same_rows(store) == 4
        assert answer(store) == [1, 1, 1, 100.0, 0]

        store.delete_site_data("s")
        assert same_rows(store) == 0
        assert store.query(f"SELECT count() FROM {by_source.TABLE}") == [(0,)]
    finally:
        store.close()
        spool.close_sync()


def test_other_filters_read_events(tmp_path: Path, store_url: str, spied: list[bool]) -> None:
    """Without an ``is`` on the source, or with a filter the copy lacks, ``events``."""
    spool, store = open_parts(tmp_path, store_url)
    try:
        write(spool, store, *EVENTS)
        runner = QueryRunner(store)
        for filters, expect in (
            ([["contains", "event:page", ["/blog"]]], [4, 4, 5]),
            ([["is", "visit:source", ["Google"]], ["is", "visit:country", ["DE"]]], [0, 0, 0]),
            (
                [["is_not", "visit:source", ["Bing"]], ["contains", "event:page", ["/blog"]]],
                [3, 3, 4],
            ),  # fmt: skip
        ):
            body = {**QUERY, "metrics": ["visitors", "visits", "pageviews"], "filters": filters}
            got = runner.run(parse_query(body), SITE)["results"][0]["metrics"]
            assert got == expect, filters
        assert spied == [False, False, False]
    finally:
        store.close()
        spool.close_sync()


@pytest.mark.parametrize("killed", ["DELETE FROM events ", f"DELETE FROM {by_source.TABLE} "])
def test_round_stopped_between_deletes(tmp_path: Path, store_url: str, killed: str) -> None:
    """A round commits, then stops at one of its two deletes of the events it re-stamped:
    the next start deletes what is left, and the copy holds the events' rows again."""
    recs = out_of_order(400, 5)
    spool, store = open_parts(tmp_path, store_url)
    writer = Writer(spool, store, lambda s: ("s.com",), batch_size=10_000)
    spool.append_sync([ENCODER.encode(r) for r in recs[:200]])
    writer.run_once()
    spool.append_sync([ENCODER.encode(r) for r in recs[200:]])  # re-stamps stored visits
    ch: Any = store.ch  # type: ignore[attr-defined]
    real = ch.command

    def command(sql: str, *args: Any) -> Any:
        if sql.startswith(killed):
            ch.command = real
            raise ConnectionError("killed")
        return real(sql, *args)

    ch.command = command
    with pytest.raises(ConnectionError):
        writer.run_once()
    store.close()
    spool.close_sync()
    spool, store = open_parts(tmp_path, store_url)
    try:
        writer = Writer(spool, store, lambda s: ("s.com",), batch_size=10_000)
        assert writer.run_once() == 0  # the round was committed
        spool.append_sync([ENCODER.encode(record(1000))])
        assert writer.run_once() == 1  # the partition's next round finishes its deletes
        assert same_rows(store) == 401
    finally:
        store.close()
        spool.close_sync()


def test_insert_repeated_by_token_is_stored_once(tmp_path: Path, store_url: str) -> None:
    """An events insert sent again with the same token (a retry) is one copy in both."""
    spool, store = open_parts(tmp_path, store_url)
    try:
        write(spool, store, *EVENTS)
        ch: Any = store.ch  # type: ignore[attr-defined]
        rows = ch.arrow("SELECT * FROM events")
        store.delete_site_data("s")
        assert same_rows(store) == 0
        for _ in range(2):
            ch.insert("events", rows, token="s:1:events")
        assert same_rows(store) == 7
    finally:
        store.close()
        spool.close_sync()
