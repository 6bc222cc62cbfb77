"""An answer's read of what was stamped since the newest gate (query/daily.py ``_STATE``,
query/visits.py ``_TOUCHED``) reads the granules holding such rows only, also after a
merge has put rows stamped before and after the gate into one part (ClickHouse's own
per-part min/max then skips nothing). The rows found are checked against the rows the
test inserts; the granules read are the plan's."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from footfall.config import Settings
from footfall.query import daily, visits
from footfall.store.factory import open_store

DAYS = 12
PER_DAY = 9_000  # a granule holds 8,192 rows: each day spans more than one
START = datetime(2023, 3, 1, tzinfo=UTC)
STEP_MS = 86_400_000 // PER_DAY
LATE = 40  # events (and visits) stamped after the gate, on the last day
EVENTS = (
    "INSERT INTO events (event_id, site_id, ts, name, visitor_id, session_id, interactive, pos) "
    "SELECT generateUUIDv4(), 's', fromUnixTimestamp64Milli(toInt64({s} + number * {step}), "
    "'UTC'), 'pageview', {v} + number % 500, {v} + number % 2000, true, 0 FROM numbers({n})"
)
VISITS = (
    "INSERT INTO sessions (site_id, session_id, start_ts, end_ts, pageviews, events, "
    "interactive_events, visitor_id, version, is_deleted) SELECT 's', {v} + number, "
    "fromUnixTimestamp64Milli(toInt64({s} + number * {step}), 'UTC') AS t, t, 1, 1, 1, "
    "{v} + number % 500, 1, 0 FROM numbers({n})"
)


def _read(store: object, sql: str, params: list[object]) -> tuple[int, int]:
    """(read, of) granules of the statement's table read: what it reads after every index,
    of the most any index step started from."""
    plan = store.query(f"EXPLAIN indexes = 1 {sql}", params)  # type: ignore[attr-defined]
    read = [
        int(m.group(1)) for r in plan if (m := re.search(r"Parts: \d+ \| Granules: (\d+)", r[0]))
    ]
    steps = [int(m.group(1)) for r in plan if (m := re.search(r"Granules: \d+/(\d+)", r[0]))]
    assert len(read) == 1 and steps, plan
    return read[0], max(steps)


def test_reads_since_the_gate_skip_older_granules_after_a_merge(
    tmp_path: Path, store_url: str
) -> None:
    store = open_store(Settings(data_dir=tmp_path, store_url=store_url))
    try:
        ch = store._transport  # type: ignore[attr-defined]
        start_ms = int(START.timestamp() * 1000)
        n = DAYS * PER_DAY
        ch.command(EVENTS.format(s=start_ms, step=STEP_MS, n=n, v=0))
        ch.command(VISITS.format(s=start_ms, step=STEP_MS, n=n, v=0))
        time.sleep(1.1)  # the stamps are whole seconds
        gate = datetime.now(UTC).replace(microsecond=0)
        ch.command(f"INSERT INTO visit_gates (gate) VALUES ({int(gate.timestamp())})")
        time.sleep(1.1)
        last_day = start_ms + (DAYS - 1) * 86_400_000
        ch.command(EVENTS.format(s=last_day, step=1000, n=LATE, v=10_000))
        ch.command(VISITS.format(s=last_day, step=1000, n=LATE, v=10_000))
        # One part per table (one partition each): rows of both sides of the gate in it.
        ch.command("OPTIMIZE TABLE events FINAL")
        ch.command("OPTIMIZE TABLE sessions FINAL")
        parts = store.query(
            "SELECT table, count() FROM system.parts WHERE active AND database = "
            "currentDatabase() AND table IN ('events', 'sessions') GROUP BY table ORDER BY table"
        )
        assert parts == [("events", 1), ("sessions", 1)]

        lo, hi = START, START + timedelta(days=DAYS)
        naive = [t.replace(tzinfo=None) for t in (lo, hi)]
        args = ["s", naive[0], naive[1], "s", *naive]
        got = store.query(daily._STATE, args)
        assert got[0][0] == gate.replace(tzinfo=None) and got[0][1] == 0
        assert sorted(got[0][2]) == list(range(10_000, 10_000 + LATE))
        read, of = _read(store, daily._STATE, args)
        # The late rows lie in one granule or two; the range holds every granule.
        assert of >= DAYS and read <= 2, (read, of)

        vargs = ["s", naive[0], naive[1], "s"]
        got = store.query(visits._TOUCHED, vargs)
        assert sorted(got[0][1]) == list(range(10_000, 10_000 + LATE))
        read, of = _read(store, visits._TOUCHED, vargs)
        assert of >= DAYS and read <= 2, (read, of)
    finally:
        store.close()
