"""A time range on the ClickHouse store's events reads the granules of its days only, and
still every row in it: a month of a site's events is no longer read for a two-day range,
nor by each writer round's event-id lookup (which grew with the store). It stays so after
a re-stamp leaves a patch part on the table (a lightweight update: ClickHouse ignores
projections while one exists). Counts are checked against the rows the test inserts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from footfall.config import Settings
from footfall.queue.spool import Spool
from footfall.store.factory import open_store
from tests.store.clickhouse.conftest import writing

DAYS = 12
PER_DAY = 9_000  # a granule holds 8,192 rows: each day spans more than one
START = datetime(2023, 3, 1, tzinfo=UTC)
STEP_MS = 86_400_000 // PER_DAY


def _granules(store: object, where: str) -> tuple[int, int]:
    """(read, of) granules of ``events`` for a count under ``where``, from the plan: the
    last index step's figures (primary key, then the skip index)."""
    plan = store.query(f"EXPLAIN indexes = 1 SELECT count() FROM events WHERE {where}")  # type: ignore[attr-defined]
    figures = [re.search(r"Granules: (\d+)/(\d+)", row[0]) for row in plan]
    found = [(int(m.group(1)), int(m.group(2))) for m in figures if m]
    assert found, plan
    return found[-1]


def test_a_two_day_range_reads_its_days_granules_and_every_row(
    tmp_path: Path, store_url: str
) -> None:
    store = open_store(Settings(data_dir=tmp_path, store_url=store_url))
    try:
        # One site, 12 days of events in time order, one part (a bulk insert).
        start_ms = int(START.timestamp() * 1000)
        store._transport.command(  # type: ignore[attr-defined]
            "INSERT INTO events (event_id, site_id, ts, name, visitor_id, session_id, "
            "interactive, pos) SELECT generateUUIDv4(), 's', "
            f"fromUnixTimestamp64Milli(toInt64({start_ms} + number * {STEP_MS}), 'UTC'), "
            "'pageview', number % 500, number % 2000, true, 0 "
            f"FROM numbers({DAYS * PER_DAY})"
        )
        lo, hi = START + timedelta(days=4, hours=6), START + timedelta(days=6, hours=6)
        where = (
            f"site_id = 's' AND ts >= '{lo:%Y-%m-%d %H:%M:%S}' AND ts < '{hi:%Y-%m-%d %H:%M:%S}'"
        )
        expected = sum(
            1
            for n in range(DAYS * PER_DAY)
            if lo.timestamp() * 1000 <= start_ms + n * STEP_MS < hi.timestamp() * 1000
        )
        assert store.query(f"SELECT count() FROM events WHERE {where}") == [(expected,)]
        read, of = _granules(store, where)
        # Three days touched of twelve (and a granule at each day's edge).
        assert of >= DAYS and read <= of // 3, (read, of)

        # A late event re-stamps a stored visit: its older row goes by a lightweight
        # update (a patch part), which must leave the time index in use.
        spool = Spool(tmp_path / "spool", segment_bytes=1 << 16)
        spool.open()
        write = writing(spool, store)
        t = int((START + timedelta(days=5, hours=12)).timestamp() * 1000)
        write((1, 7, t, "/a", ""))
        write((2, 7, t - 60_000, "/b", "https://www.bing.com/"))
        assert store.query(f"SELECT count() FROM events WHERE {where}") == [(expected + 2,)]
        patches = store.query(
            "SELECT count() FROM system.parts WHERE table = 'events' AND active "
            "AND database = currentDatabase() AND startsWith(name, 'patch')"
        )
        assert patches[0][0] >= 1
        again, now_of = _granules(store, where)
        # The bulk part's granules are skipped as before; the rounds' small parts are new.
        assert again <= read + (now_of - of), (again, now_of)
    finally:
        store.close()
