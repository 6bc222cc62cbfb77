"""The ClickHouse store's copy of the visits ordered by start time
(footfall/store/clickhouse/visit_copy.py, read by footfall/query/visits.py) answers exactly
what the visits say: after the build, while visits are touched (a new pageview, a late
event that moves a visit's start, out of the range too), after the rollups job copies
again and drops the older generation, after a person is forgotten, a retention cut and a
site deletion, and when a visit is deleted while a copy is being written."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from footfall.ingest.record import ENCODER
from footfall.meta.repo import SiteInfo
from footfall.query import visits
from footfall.query.dialects import CLICKHOUSE
from footfall.query.rollup import spec
from footfall.queue.writer import Writer
from footfall.store.clickhouse import visit_copy
from tests.contract.test_store_writes import open_parts, record
from tests.store.clickhouse.conftest import fast_and_raw, spy_on, writing

SITE = SiteInfo("s", "S", ("s.com",), "UTC", datetime(2023, 1, 1))
GOOGLE = "https://www.google.com/"
TOP = ["visits", "pageviews", "bounce_rate", "visit_duration"]


def ms(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    return int(datetime(2023, 11, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


# (id, visitor, time, page, referrer): visits A (1: /a then /b, 60 s, from Google),
# B (2: /x, a bounce), C (3: /y then /x, 300 s), D (1 again: /x, a bounce), E (5: /e, a
# bounce, 10 minutes into the range) and F (4, before the range).
EVENTS = [
    (1, 1, ms(14, 10), "/a", GOOGLE), (2, 1, ms(14, 10, 1), "/b", ""),
    (3, 2, ms(15, 9), "/x", ""), (4, 3, ms(15, 12), "/y", ""), (5, 3, ms(15, 12, 5), "/x", ""),
    (6, 1, ms(16, 8), "/x", ""), (7, 5, ms(14, 0, 10), "/e", ""), (8, 4, ms(13, 23, 30), "/a", ""),
]  # fmt: skip
# B gets a second pageview (600 s, no longer a bounce); C a late first event a minute
# before its landing (its start and entry page change: 360 s); E a late first event on
# the 13th (its start leaves the range).
TOUCHES = [
    (9, 2, ms(15, 9, 10), "/z", ""), (10, 3, ms(15, 11, 59), "/start", ""),
    (11, 5, ms(13, 23, 55), "/early", ""),
]  # fmt: skip
QUERIES = [
    {"metrics": TOP},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visits", "bounce_rate", "visit_duration"],
     "filters": [["is", "visit:source", ["Google"]], ["contains", "event:page", ["/b"]]]},
]  # fmt: skip


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether each statement on visits was offered the copy (one entry per offer)."""
    yield spy_on(monkeypatch, visits, "source")


@pytest.fixture
def summed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether each statement on visits was answered from the copy's sums per hour (the
    first one of ``answers`` is the top-stats row's, the only one they can answer)."""
    yield spy_on(monkeypatch, visits, "sums")


def answers(store: Any, used: list[bool], summed: list[bool] | None = None) -> list[list[Any]]:
    used.clear()
    if summed is not None:
        summed.clear()
    out = fast_and_raw(store, SITE, QUERIES, ["2023-11-14", "2023-11-16"])
    assert used and all(used)  # every statement on visits read the copy
    return out


def from_sums(summed: list[bool]) -> bool:
    """Whether the top-stats row's visit sums came from ``visit_sums`` (and no other did:
    grouped, filtered and raw statements are not theirs to answer)."""
    return summed[0] and not any(summed[1:])


def test_visit_copy_stays_exact(
    tmp_path: Path,
    store_url: str,
    copied: list[bool],
    summed: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool, store = open_parts(tmp_path, store_url)
    try:
        write = writing(spool, store)

        write(*EVENTS)
        assert store.maintain_rollups({"s": "UTC"}, spec(CLICKHOUSE))["built"]
        top, entries, filtered = answers(store, copied, summed)
        assert from_sums(summed)
        # visits A-E; pageviews 7; bounces B, D, E; durations 60 + 300 s over 5 visits
        assert top == [((), (5, 7, 60, 72))]
        assert entries == [(("/a",), (1, 1)), (("/e",), (1, 1)), (("/x",), (2, 2)),
                           (("/y",), (1, 1))]  # fmt: skip
        assert filtered == [((), (1, 0, 60))]

        write(*TOUCHES)  # after the gate: these visits are read from ``sessions``
        top, entries, _ = answers(store, copied, summed)
        assert from_sums(summed)  # less the touched visits' copied rows, plus their rows now
        # visits A-D; pageviews 9 in range; bounce D; 60 + 600 + 360 s over 4 visits
        assert top == [((), (4, 9, 25, 255))]
        # E entered on /early (the 13th): its visitor was here, its visit began before
        assert entries == [(("/a",), (1, 1)), (("/early",), (1, 0)), (("/start",), (1, 1)),
                           (("/x",), (2, 2))]  # fmt: skip
        touched = answers(store, copied)

        # The job copies again (3 touched visits are due here) and, a grace later, drops
        # the older generation; the answers stay.
        monkeypatch.setattr(visit_copy, "REFRESH_MIN_ROWS", 1)
        # One generation per gate second: on a fast machine the refresh came within the
        # first generation's second and (rightly) wrote none.
        time.sleep(1.1)
        store.maintain_rollups({"s": "UTC"}, spec(CLICKHOUSE))
        assert len(store.query("SELECT gate FROM visit_gates")) == 2
        assert answers(store, copied, summed) == touched
        assert from_sums(summed)
        monkeypatch.setattr(visit_copy, "GRACE_SECONDS", 0)
        store.maintain_rollups({"s": "UTC"}, spec(CLICKHOUSE))
        assert store.query("SELECT count(DISTINCT gate) FROM visit_starts") == [(1,)]
        assert store.query("SELECT count(DISTINCT gate) FROM visit_sums") == [(1,)]
        assert answers(store, copied, summed) == touched
        assert from_sums(summed)

        # Deletions list their days dirty first: those days' visits are read from the copy
        # until the job writes a generation after them.
        store.delete_person("s", "visitor_id", 2, spec(CLICKHOUSE))  # visit B
        assert answers(store, copied, summed)[0] == [((), (3, 7, 33.3, 140))]
        assert from_sums(summed)
        store.delete_events_before(datetime(2023, 11, 15, 10, tzinfo=UTC))  # A ended before
        assert answers(store, copied, summed)[0] == [((), (2, 4, 50, 180))]
        assert from_sums(summed)
        store.delete_site_data("s")
        assert store.query("SELECT count() FROM visit_starts") == [(0,)]
        assert store.query("SELECT count() FROM visit_sums") == [(0,)]
    finally:
        store.close()
        spool.close_sync()


def test_a_visit_deleted_while_copying_is_not_copied(
    tmp_path: Path, store_url: str, copied: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delete whose copy-side statement ran before the copy's rows were committed (here:
    a visit's rows deleted from ``sessions`` alone, right after the copy's insert) is
    caught by the check after the copy."""
    spool, store = open_parts(tmp_path, store_url)
    try:
        writer = Writer(spool, store, lambda s: ("s.com",))
        spool.append_sync([ENCODER.encode(record(i, visitor_id=v, ts=t, pathname=p, referrer=r))
                           for i, v, t, p, r in EVENTS])  # fmt: skip
        while writer.run_once():
            pass
        ch = store.ch  # type: ignore[attr-defined]
        real = ch.command

        def command(sql: str, params: Any = None) -> None:
            real(sql, params)
            if sql.startswith("INSERT INTO visit_starts"):
                real("DELETE FROM sessions WHERE site_id = 's' AND visitor_id = 2")

        monkeypatch.setattr(ch, "command", command)
        store.maintain_rollups({"s": "UTC"}, spec(CLICKHOUSE))
        monkeypatch.setattr(ch, "command", real)
        top, _, _ = answers(store, copied)
        assert top == [((), (4, 7, 50, 90))]  # visit B is gone (its event stays): A, C, D, E
    finally:
        store.close()
        spool.close_sync()
