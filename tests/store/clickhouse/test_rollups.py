"""The ClickHouse store's daily rollups (footfall/store/clickhouse/rollups.py, read by
footfall/query/daily.py) answer exactly what the events say: before and after a late event
re-stamps a stored visit, after the rollups job rebuilds the days it left dirty, after a person
is forgotten, after a retention cut inside a day, and after a site is deleted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from footfall.meta.repo import SiteInfo
from footfall.query import daily
from footfall.query.dialects import CLICKHOUSE
from footfall.query.rollup import spec
from tests.contract.test_store_writes import open_parts
from tests.store.clickhouse.conftest import fast_and_raw, spy_on, writing

SITE = SiteInfo("s", "S", ("s.com",), "Europe/Berlin", datetime(2023, 1, 1))
GOOGLE, BING = "https://www.google.com/", "https://www.bing.com/"


def ms(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    return int(datetime(2023, 11, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


# (id, visitor, UTC time, page, referrer): Berlin is UTC+1 in November, so the local days
# 14-16 are UTC [13th 23:00, 16th 23:00): the 14th and 15th whole from the rollups, the
# two ends (visitor 8 at 23:30 on the 13th, the 16th's events) from raw events.
EVENTS = [
    (1, 7, ms(14, 10), "/a", GOOGLE), (2, 7, ms(14, 10, 1), "/b", ""),
    (3, 1, ms(15, 9), "/x", ""), (4, 2, ms(15, 9, 5), "/x", GOOGLE),
    (5, 3, ms(15, 12), "/y", ""), (6, 1, ms(15, 18), "/y", ""),
    (7, 1, ms(16, 8), "/x", ""), (8, 6, ms(16, 12), "/y", BING),
    (9, 8, ms(13, 23, 30), "/a", ""), (10, 9, ms(13, 22, 30), "/a", ""),  # 9: outside
    (11, 4, ms(16, 23, 30), "/x", ""),  # outside: the 17th in Berlin
]  # fmt: skip
# Visitor 7's late first event, 5 s before its landing, from Bing: the visit's source
# becomes Bing, its stored events are re-stamped.
LATE = (12, 7, ms(14, 9, 59, 55), "/start", BING)

QUERIES = [
    {"metrics": ["visitors", "pageviews"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visitors"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "events"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visitors"], "dimensions": ["event:page"],
     "filters": [["is_not", "event:page", ["/y"]]]},
    # Grouped by one visit dimension, filtered on another (both kept in visit_days).
    {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:channel"],
     "filters": [["is", "visit:source", ["Google", "Bing"]]]},
]  # fmt: skip


def answers(store: Any, used: list[bool]) -> list[list[Any]]:
    out = fast_and_raw(store, SITE, QUERIES, ["2023-11-14", "2023-11-16"])
    # Every query read the daily rollups (the visit dimensions from visit_days).
    assert used[-len(QUERIES) :] == [True] * len(QUERIES)
    return out


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each statement the runner offered the daily rollups was answered there (one
    per query here: none of them asks a visit metric)."""
    return spy_on(monkeypatch, daily, "statement")


def test_daily_rollups_stay_exact(
    tmp_path: Path, store_url: str, spied: list[bool], ripen: Callable[[], None]
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    try:
        write = writing(spool, store)

        write(*EVENTS)
        assert store.maintain_rollups({"s": SITE.timezone}, spec(CLICKHOUSE))["built"]
        before = answers(store, spied)
        total, pages, sources, entries, not_y, search = before
        assert total == [((), (6, 9))]  # visitors 1, 2, 3, 6, 7, 8; events 1-9
        assert pages == [(("/a",), (2, 2)), (("/b",), (1, 1)), (("/x",), (2, 3)),
                         (("/y",), (3, 3))]  # fmt: skip
        assert sources == [(("Bing",), (1,)), (("Direct / None",), (3,)), (("Google",), (2,))]
        assert not_y == [(("/a",), (2,)), (("/b",), (1,)), (("/x",), (2,))]
        assert search == [(("Organic Search",), (3, 4))]  # visitors 7, 2, 6; events 1, 2, 4, 8

        write(LATE)  # inserted after the build: through the view, and a re-stamp
        assert store.query("SELECT count() FROM rollup_dirty") == [(1,)]
        late = answers(store, spied)
        assert late[0] == [((), (6, 10))]
        assert late[2] == [(("Bing",), (2,)), (("Direct / None",), (3,)), (("Google",), (1,))]
        assert (("/start",), (1, 1)) in late[1]
        assert late[5] == [(("Organic Search",), (3, 5))]  # and the late event
        ripen()  # the mark is old enough for a refresh to clear
        assert store.maintain_rollups({"s": SITE.timezone}, spec(CLICKHOUSE))["refreshed_days"]
        assert store.query("SELECT count() FROM rollup_dirty") == [(0,)]
        assert answers(store, spied) == late

        # Forgetting visitor 2 (one pageview on the 15th, a whole day kept in the rollups).
        store.delete_person("s", "visitor_id", 2, spec(CLICKHOUSE))
        gone = answers(store, spied)
        assert gone[0] == [((), (5, 9))]
        assert gone[2] == [(("Bing",), (2,)), (("Direct / None",), (3,))]

        # Retention cut inside the 15th: the rest of that day is read raw from now on.
        store.delete_events_before(datetime(2023, 11, 15, 12, tzinfo=UTC))
        cut = answers(store, spied)
        assert cut[0] == [((), (3, 4))]  # events 5-8: visitors 3, 1, 6
        store.delete_site_data("s")
        assert store.query("SELECT count() FROM visitor_days") == [(0,)]
        assert store.query("SELECT count() FROM visit_days") == [(0,)]
    finally:
        store.close()
        spool.close_sync()
