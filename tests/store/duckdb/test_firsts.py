"""``day_firsts`` (footfall/store/duckdb/firsts.py) against its definition, in plain
Python: for every range of up to 33 days, the filtered sum of a value's rows equals the
number of distinct visitors of its days' bitmaps there."""

from __future__ import annotations

import random

from pyroaring import BitMap

from footfall.store.duckdb.firsts import GAP, of_day


def test_the_filtered_sum_of_firsts_is_the_distinct_visitors_of_every_range() -> None:
    rng = random.Random(3)
    for _ in range(20):
        # A value seen on some of 80 days, by visitors of a pool of 40 (many come back).
        days = {d: BitMap(rng.sample(range(40), rng.randint(1, 8))) for d in range(80) if rng.random() < 0.6}
        rows = {d: of_day(days, d) for d in days}
        for d, gaps in rows.items():
            assert sum(gaps.values()) == len(days[d])
            assert all(0 <= g <= GAP for g in gaps)
        for a in range(80):
            for b in range(a, min(a + GAP + 1, 80)):
                want = len({v for d in range(a, b + 1) for v in days.get(d, ())})
                got = sum(n for d in range(a, b + 1) for g, n in rows.get(d, {}).items() if g == 0 or g > d - a)
                assert got == want, (a, b)
