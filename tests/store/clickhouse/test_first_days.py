"""The visitors' first days on ClickHouse (footfall/store/clickhouse/firsts.py, read by
footfall/query/daily.py ``firsts_statement``) count each visitor of a site-local range
once: seen at both ends and in the whole UTC days between, seen before the range, seen
only at an end; while the writer touches visitors after the rollups job's gate; and not
at all while a day is dirty (a re-stamp, a forgotten person), again after the job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from footfall.meta.repo import SiteInfo
from footfall.query import daily, visits
from footfall.query.dialects import CLICKHOUSE
from footfall.query.rollup import spec
from tests.contract.test_store_writes import open_parts
from tests.store.clickhouse.conftest import Event, fast_and_raw, spy_on, writing

SITE = SiteInfo("s", "S", ("s.com",), "Europe/Berlin", datetime(2023, 1, 1))
GOOGLE = "https://www.google.com/"


def ms(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2023, 11, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


# Berlin is UTC+1 in November: the local days 14-16 are UTC [13th 23:00, 16th 23:00),
# the 14th and 15th whole UTC days, the two ends raw. (id, visitor, UTC time, page, ref)
EVENTS: list[Event] = [
    (1, 1, ms(13, 23, 30), "/a", GOOGLE), (2, 1, ms(15, 10), "/a", ""),  # start end + whole
    (3, 2, ms(10, 12), "/b", ""), (4, 2, ms(13, 23, 40), "/b", ""),  # start end only
    (5, 3, ms(10, 12), "/a", ""), (6, 3, ms(15, 12), "/a", ""),  # seen before the range
    (7, 4, ms(14, 9), "/x", ""), (8, 4, ms(15, 9), "/x", GOOGLE),  # two whole days
    (9, 5, ms(15, 20), "/y", ""), (10, 5, ms(16, 10), "/y", ""),  # whole + last end
    (11, 6, ms(16, 12), "/y", ""), (12, 6, ms(16, 23, 30), "/y", ""),  # last end; 17th
    (13, 7, ms(13, 23, 10), "/z", ""), (14, 7, ms(16, 15), "/z", ""),  # both ends only
    (15, 8, ms(13, 22), "/a", ""), (16, 8, ms(14, 11), "/b", ""),  # 13th local; whole
    (17, 9, ms(17, 10), "/x", ""),  # after the range
]  # fmt: skip
# Written after the rollups job: visitors 3 and 2 come back (new visits), 10 is new.
TOUCHES: list[Event] = [
    (18, 3, ms(16, 5), "/a", ""), (19, 10, ms(15, 14), "/c", GOOGLE),
    (20, 2, ms(15, 18), "/b", ""),
]  # fmt: skip
# Visitor 4's late first event, 5 minutes before its landing: its visit is re-stamped.
LATE: Event = (21, 4, ms(14, 8, 55), "/start", "")
QUERIES = [
    {"metrics": ["visitors", "pageviews"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visitors"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "events"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visitors"], "dimensions": ["event:page"],
     "filters": [["is_not", "event:page", ["/y"]]]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:device"]},
    # Visits too: both states read in one statement (visits.states).
    {"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:entry_page"]},
]  # fmt: skip
BOTH = 2  # the queries above reading visits and first days
LO, HI = ms(13, 23), ms(16, 23)


def expected(events: list[Event]) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """(visitors, pageviews) of the range, and per page: the reference."""
    inside = [(v, p) for _, v, t, p, _ in events if LO <= t < HI]
    pages = {p: (len({v for v, q in inside if q == p}), sum(q == p for _, q in inside))
             for _, p in inside}  # fmt: skip
    return (len({v for v, _ in inside}), len(inside)), pages


@pytest.fixture
def firsts_used(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each statement offered to the visitors' first days was answered there (its
    state read, alone or with the visits', allows them: ``firsts_of``)."""
    return spy_on(monkeypatch, daily, "firsts_of")


def answers(store: Any, used: list[bool], fast_path: bool) -> list[list[Any]]:
    used.clear()
    out = fast_and_raw(store, SITE, QUERIES, ["2023-11-14", "2023-11-16"])
    assert used == [fast_path] * len(QUERIES)
    return out


def check(got: list[list[Any]], events: list[Event]) -> None:
    total, pages = expected(events)
    assert got[0] == [((), total)]
    assert got[1] == sorted(((p,), n) for p, n in pages.items())
    assert got[4] == sorted(((p,), (n[0],)) for p, n in pages.items() if p != "/y")


def test_first_days_count_each_visitor_once(
    tmp_path: Path,
    store_url: str,
    firsts_used: list[bool],
    ripen: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    both = spy_on(monkeypatch, visits, "states")
    spool, store = open_parts(tmp_path, store_url)
    try:
        write = writing(spool, store)

        write(*EVENTS)
        assert store.maintain_rollups({"s": SITE.timezone}, spec(CLICKHOUSE))["built"]
        built = answers(store, firsts_used, True)
        check(built, EVENTS)
        assert len(both) == BOTH
        # Visitors 1-8 (8's event on the 14th), 12 views; /a: 1, 3 (not 8: its /a is on
        # the 13th in Berlin); /y: 5, 6 (3 views: not 6's on the 17th in Berlin).
        assert built[0] == [((), (8, 12))]
        assert (("/a",), (2, 3)) in built[1] and (("/y",), (2, 3)) in built[1]

        write(*TOUCHES)  # after the gate: visitors 2, 3 and 10 are counted from raw events
        assert store.query("SELECT count() FROM rollup_dirty") == [(0,)]
        touched = answers(store, firsts_used, True)
        check(touched, EVENTS + TOUCHES)
        assert touched[0] == [((), (9, 15))]

        write(LATE)  # a re-stamp lists its day dirty: visitor_days answer meanwhile
        assert store.query("SELECT count() FROM rollup_dirty") == [(1,)]
        late = answers(store, firsts_used, False)
        check(late, EVENTS + TOUCHES + [LATE])
        ripen()  # the job writes a generation after the change before it clears the mark
        assert store.maintain_rollups({"s": SITE.timezone}, spec(CLICKHOUSE))["refreshed_days"]
        assert store.query("SELECT count() FROM rollup_dirty") == [(0,)]
        assert answers(store, firsts_used, True) == late

        store.delete_person("s", "visitor_id", 5, spec(CLICKHOUSE))
        forgotten = [e for e in EVENTS + TOUCHES + [LATE] if e[1] != 5]
        check(answers(store, firsts_used, False), forgotten)
        ripen()
        assert store.maintain_rollups({"s": SITE.timezone}, spec(CLICKHOUSE))["refreshed_days"]
        check(answers(store, firsts_used, True), forgotten)
    finally:
        store.close()
        spool.close_sync()
