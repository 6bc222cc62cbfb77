"""``reach`` windows built only where a block no other window holds has events
(footfall/store/duckdb/rollups_upkeep.py ``open_windows``): a site with a month
without events between two with events, and late events that later fill that month.
Every answer stays the raw events' (``compare``) whichever window a range is read from,
and the sealed rows are what a build from scratch makes."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from footfall.jobs.rollups import run_rollups
from footfall.query import rollup
from tests.conftest import Footfall
from tests.query.test_rollups import (
    AGENTS,
    NOW,
    PAGES,
    REFS,
    TODAY,
    compare,
    same_as_a_build,
    seal_late,
    windows,
)

EPOCH = rollup.EPOCH


def on_days(rng: random.Random, days: range, n: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` visits on random site-local days of ``days`` (day numbers), at noon UTC (a
    New York afternoon), from a few returning visitors."""
    out = []
    for _ in range(n):
        day = EPOCH + timedelta(days=rng.choice(days))
        at = NOW.replace(year=day.year, month=day.month, day=day.day, hour=12) + timedelta(
            minutes=rng.randint(0, 300)
        )
        visitor, ua = f"{prefix}{rng.randrange(n // 3 + 1)}", rng.choice(AGENTS)
        for i in range(rng.choice([1, 2, 3])):
            path = rng.choice(PAGES)
            out.append({"event_type": "pageview", "path": path, "url": "https://example.com" + path,
                        "visitor_id": visitor, "timestamp": (at + timedelta(minutes=4 * i)).isoformat(),
                        "referrer": rng.choice(REFS) if i == 0 else "", "user_agent": ua,
                        "ip": rng.choice(["8.8.8.8", "81.2.69.160"]), "event_id": str(uuid.uuid4())})  # fmt: skip
    return out


def ranges(site_id: str, starts: list[int]) -> list[dict[str, Any]]:
    out = []
    for a in starts:
        for length in (0, 6, 20, 32):
            days = [(EPOCH + timedelta(days=d)).isoformat() for d in (a, a + length)]
            for dims in ([], ["event:page"], ["time:day"]):
                out.append({"site_id": site_id, "date": TODAY.isoformat(), "metrics": ["visitors", "pageviews"],
                            "dimensions": dims, "date_range": days})  # fmt: skip
    return out


def test_a_month_without_events_between_two_is_read_and_filled_exactly(footfall: Footfall) -> None:
    ff, rng = footfall, random.Random(21)
    t = (TODAY - EPOCH).days
    b = t // 32 - 3  # blocks b and b + 2 have events, b + 1 none (yet)
    first = max(32 * b + 5, t - 115)
    base = on_days(rng, range(first, 32 * b + 32), 80, "a") + on_days(
        rng, range(32 * b + 67, 32 * b + 85), 80, "a"
    )
    assert ff.send_batch(base).status_code == 202
    ff.flush()
    assert run_rollups(ff.services.store, ff.services.meta)["built"] == [ff.site_id]
    # Block b is held by window b - 1, block b + 2 by window b + 1; window b (blocks b and
    # b + 1) would only repeat b - 1's rows.
    assert windows(ff) == {b - 1, b + 1}
    starts = [
        first,
        32 * b + 20,
        32 * b + 31,
        32 * b + 32,
        32 * b + 50,
        32 * b + 63,
        32 * b + 64,
        32 * b + 70,
    ]
    bodies = ranges(ff.site_id, starts)
    compare(ff, bodies=bodies)
    # Late events fill block b + 1: pending, then sealed, which opens window b from window
    # b - 1's rows with a day in block b.
    late = on_days(rng, range(32 * b + 40, 32 * b + 55), 40, "a")
    seal_late(ff, late, bodies)
    assert windows(ff) == {b - 1, b, b + 1}
    same_as_a_build(ff)
