"""The ClickHouse store's hourly rollups (``visitor_hours``, read by footfall/query/hourly.py)
answer a time series by site-local day exactly, across a change of offset (Berlin leaves
summer time at 01:00 UTC on 2023-10-29), before and after a late event re-stamps a stored
visit, after the rollups job rebuilds the day it left dirty, and after a site is deleted;
a zone half an hour from UTC (Asia/Kolkata) is not answered from them, and is still right.
The expected numbers come from a plain-Python count of the events the test writes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from footfall.ingest.record import ENCODER
from footfall.meta.repo import SiteInfo
from footfall.query import hourly
from footfall.query.dialects import CLICKHOUSE
from footfall.query.rollup import spec
from footfall.queue.writer import Writer
from tests.contract.test_store_writes import open_parts, record
from tests.store.clickhouse.conftest import fast_and_raw, spy_on

BERLIN = SiteInfo("s", "S", ("s.com",), "Europe/Berlin", datetime(2023, 1, 1))
KOLKATA = SiteInfo("s", "S", ("s.com",), "Asia/Kolkata", datetime(2023, 1, 1))
RANGE = ["2023-10-28", "2023-10-30"]
QUERY = {"metrics": ["visitors", "pageviews", "events"], "dimensions": ["time:day"]}

Event = tuple[int, int, datetime, str]  # (id, visitor, UTC time, event name)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 10, day, hour, minute, tzinfo=UTC)


# Berlin is UTC+2 until 2023-10-29 01:00 UTC, then UTC+1: its local days 28-30 are UTC
# [27th 22:00, 30th 23:00). Visitor 1 is on the local 29th in two UTC days (22:30 on the
# 28th is 00:30 on the 29th in Berlin; 22:30 on the 29th is 23:30), so counted once there.
EVENTS: list[Event] = [
    (1, 5, at(27, 21, 30), "pageview"),  # the 27th in Berlin: outside
    (2, 2, at(27, 22, 10), "pageview"),  # 00:10 on the 28th
    (3, 2, at(28, 10), "signup"),
    (4, 1, at(28, 22, 30), "pageview"),  # 00:30 on the 29th
    (5, 1, at(29, 0, 45), "pageview"),  # 02:45 CEST, still the 29th
    (6, 3, at(29, 1, 15), "pageview"),  # 02:15 CET, after the change
    (7, 1, at(29, 22, 30), "pageview"),  # 23:30 on the 29th
    (8, 4, at(29, 23, 30), "pageview"),  # 00:30 on the 30th
    (9, 3, at(30, 12), "engagement"),  # counted as a visitor, neither pageview nor event
    (10, 6, at(30, 23, 5), "pageview"),  # the 31st in Berlin: outside
]
# Visitor 1's late first event, a minute before its first, from Bing: the visit's source
# changes, so its stored event is re-stamped.
LATE: Event = (11, 1, at(28, 22, 29), "pageview")


def expected(events: list[Event], zone: str) -> list[tuple[tuple[str], tuple[int, int, int]]]:
    """Visitors, pageviews and events per local day of the range, in plain Python."""
    tz = ZoneInfo(zone)
    seen: dict[date, set[int]] = defaultdict(set)
    pv: dict[date, int] = defaultdict(int)
    ev: dict[date, int] = defaultdict(int)
    for _, visitor, ts, name in events:
        d = ts.astimezone(tz).date()
        if not date(2023, 10, 28) <= d <= date(2023, 10, 30):
            continue
        seen[d].add(visitor)
        pv[d] += name == "pageview"
        ev[d] += name != "engagement"
    return [((d.isoformat(),), (len(seen[d]), pv[d], ev[d])) for d in sorted(seen)]


def writing(spool: Any, store: Any) -> Callable[..., None]:
    writer = Writer(spool, store, lambda s: ("s.com",))

    def write(*events: Event, referrer: str = "") -> None:
        spool.append_sync([ENCODER.encode(record(i, visitor_id=v, ts=int(t.timestamp() * 1000),
                                                 name=n, pathname="/", referrer=referrer))
                           for i, v, t, n in events])  # fmt: skip
        while writer.run_once():
            pass

    return write


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    return spy_on(monkeypatch, hourly, "statement")


def test_hourly_rollups_answer_local_days(
    tmp_path: Path, store_url: str, spied: list[bool], ripen: Callable[[], None]
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    try:
        write = writing(spool, store)
        write(*EVENTS)
        assert store.maintain_rollups({"s": BERLIN.timezone}, spec(CLICKHOUSE))["built"]
        [berlin] = fast_and_raw(store, BERLIN, [QUERY], RANGE)
        assert berlin == expected(EVENTS, "Europe/Berlin")
        assert berlin == [(("2023-10-28",), (1, 1, 2)), (("2023-10-29",), (2, 4, 4)),
                          (("2023-10-30",), (2, 1, 1))]  # fmt: skip
        assert spied[-1] is True  # answered from the hourly rollups
        [kolkata] = fast_and_raw(store, KOLKATA, [QUERY], RANGE)
        assert kolkata == expected(EVENTS, "Asia/Kolkata")
        assert spied[-1] is False  # half an hour from UTC: not from them

        write(
            LATE, referrer="https://www.bing.com/"
        )  # through the view, and a re-stamp: its day is read raw until rebuilt
        assert store.query("SELECT count() FROM rollup_dirty") == [(1,)]
        late = expected([*EVENTS, LATE], "Europe/Berlin")
        assert late[1] == (("2023-10-29",), (2, 5, 5))
        assert fast_and_raw(store, BERLIN, [QUERY], RANGE) == [late]
        assert spied[-1] is True
        ripen()
        assert store.maintain_rollups({"s": BERLIN.timezone}, spec(CLICKHOUSE))["refreshed_days"]
        assert store.query("SELECT count() FROM rollup_dirty") == [(0,)]
        assert fast_and_raw(store, BERLIN, [QUERY], RANGE) == [late]

        store.delete_site_data("s")
        assert store.query("SELECT count() FROM visitor_hours") == [(0,)]
    finally:
        store.close()
        spool.close_sync()
