"""Top stats under a source and a page filter, as the dashboard asks them: visitors,
visits and pageviews of the matching events, the duration of the visits having one, and
the bounce rate of those that also entered on a matching page, on every store. The events
are read once for all of it (``builder.aggregate_pair`` with ``entered``), not once more
for the entered visits. Expected values are literals from the events written here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from footfall.meta.repo import SiteInfo
from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner
from tests.contract.test_store_writes import open_parts
from tests.store.clickhouse.conftest import Event, writing

SITE = SiteInfo("s", "S", ("s.com",), "UTC", datetime(2023, 1, 1))
GOOGLE = "https://www.google.com/"


def ms(hour: int, minute: int, second: int = 0) -> int:
    return int(datetime(2023, 11, 14, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


# (id, visitor, UTC time, page, referrer); each visitor one visit.
EVENTS: list[Event] = [
    (1, 1, ms(9, 0), "/blog/a", GOOGLE), (2, 1, ms(9, 1), "/shop", GOOGLE),  # entered, 60 s
    (3, 2, ms(10, 0), "/shop", GOOGLE), (4, 2, ms(10, 2), "/blog/b", GOOGLE),  # viewed, 120 s
    (5, 3, ms(11, 0), "/blog/c", GOOGLE),  # entered, bounced, 0 s
    (6, 4, ms(12, 0), "/blog/d", ""),  # direct: not under the source filter
    (7, 5, ms(13, 0), "/about", GOOGLE), (8, 5, ms(13, 5), "/shop", GOOGLE),  # no blog page
]  # fmt: skip
BODY = {
    "metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"],
    "filters": [["is", "visit:source", ["Google"]], ["contains", "event:page", ["/blog"]]],
    "date_range": ["2023-11-14", "2023-11-14"],
}


def test_filtered_top_stats_read_the_events_once(tmp_path: Path, store_url: str) -> None:
    spool, store = open_parts(tmp_path, store_url)
    try:
        writing(spool, store)(*EVENTS)
        statements: list[str] = []
        inner = store.query

        def spy(sql: str, params: Any = ()) -> Any:
            statements.append(sql)
            return inner(sql, params)

        store.query = spy  # type: ignore[method-assign]
        q = parse_query({**BODY, "site_id": SITE.id})
        got = QueryRunner(store).run(q, SITE)
        reads = [s for s in statements if "FROM events" in s]
        # Visitors 1-3, their three visits, the three blog pageviews; of the two visits
        # that entered on a blog page one bounced (50%); durations 60, 120 and 0 s.
        assert got["results"] == [{"dimensions": [], "metrics": [3, 3, 3, 50.0, 60]}]
        assert len(reads) == 1, reads
        assert QueryRunner(store, rollups=False).run(q, SITE) == got
    finally:
        store.close()
        spool.close_sync()


@pytest.mark.parametrize("page", ["/shop", "/nowhere"])
def test_no_entered_visit_is_a_bounce_rate_of_zero(
    tmp_path: Path, store_url: str, page: str
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    try:
        writing(spool, store)(*EVENTS)
        body = {**BODY, "filters": [["is", "visit:source", ["Google"]],
                                    ["contains", "event:page", [page]]]}  # fmt: skip
        got = QueryRunner(store).run(parse_query({**body, "site_id": SITE.id}), SITE)
        # /shop: visitors 1, 2 and 5 viewed it (60, 120 and 300 s), 2 entered there and did
        # not bounce; /nowhere: nothing.
        want = [3, 3, 3, 0.0, 160] if page == "/shop" else [0, 0, 0, 0.0, 0]
        assert got["results"] == [{"dimensions": [], "metrics": want}]
    finally:
        store.close()
        spool.close_sync()
