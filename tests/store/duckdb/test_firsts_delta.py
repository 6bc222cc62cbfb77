"""``rollups_upkeep.firsts_delta``: the reach_firsts change of rows whose bits change is
what the definition makes of the new rows minus the old ones (a plain-Python count),
for the changes seals make: a day after a row's last, a bit removed, rows new and gone,
and bits at both ends of a window (0 and 63)."""

from __future__ import annotations

import random
from collections import Counter

import duckdb

from footfall.store.duckdb.rollups_upkeep import firsts_delta


def firsts(days: int) -> Counter[tuple[int, int]]:
    bits = [i for i in range(64) if days >> i & 1]
    return Counter((d, bits[j - 1] if j else -1) for j, d in enumerate(bits))


def test_firsts_delta_equals_new_minus_old() -> None:
    rng = random.Random(5)
    full = (1 << 64) - 1
    changes: list[tuple[str, int | None, int]] = [
        ("a", 0b1011, 0b1011 | 1 << 40),  # a later day
        ("a", 1 << 63 | 1, 1 << 63 | 1 << 62 | 1),  # a day below the last
        ("b", None, 1 << 63),  # a new row on the window's last day
        ("b", 1 << 7 | 1 << 9, 0),  # a row gone
        ("c", full, full & ~(1 << 30)),  # a bit removed in the middle
        ("c", None, full),
    ]
    for _ in range(300):
        old = rng.getrandbits(64) & rng.getrandbits(64)
        new = (old | 1 << rng.randrange(64)) if rng.random() < 0.5 else old ^ rng.getrandbits(64)
        if new != old:  # the seal's changes: rows whose bits differ
            changes.append((rng.choice("abc"), old or None, new))
    want: Counter[tuple[str, int, int]] = Counter()
    for value, old, new in changes:
        for (d, prev), n in firsts(new).items():
            want[(value, d, prev)] += n
        for (d, prev), n in firsts(old or 0).items():
            want[(value, d, prev)] -= n
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE c (kind VARCHAR, win INTEGER, value VARCHAR, old_days UBIGINT, new_days UBIGINT)"
    )
    con.executemany("INSERT INTO c VALUES ('k', 1, ?, ?, ?)", changes)
    got = {
        (v, d, p): n
        for _, _, v, d, p, n in con.execute(f"SELECT * FROM ({firsts_delta('c')})").fetchall()
    }
    assert got == {k: n for k, n in want.items() if n}
