"""A spool whose cap is below its segment size, or left full by a restart, frees space.

Only whole segments are freed, never the one being appended to; these tests pin that a
consumed spool always has room again, whatever the two sizes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.queue.spool import Spool, SpoolFull
from tests.queue.spool.test_spool import opened, read_all


def fill(spool: Spool, record: bytes) -> int:
    count = 0
    with pytest.raises(SpoolFull):
        while True:
            spool.append_sync([record])
            count += 1
    return count


async def test_cap_below_segment_size_has_room_again_once_consumed(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=10_000, max_bytes=1000)
    record = b"r" * 42  # 50 bytes framed
    first = fill(spool, record)
    assert first == 20
    records, end = read_all(spool)
    assert len(records) == first
    spool.release(end)
    # Everything is consumed, so the spool must accept records again, and keep doing so.
    for _ in range(3):
        assert fill(spool, record) >= 10
        _, end = read_all(spool, end)
        spool.release(end)
    await spool.close()


async def test_a_segment_consumed_up_to_its_end_before_a_restart_is_freed(tmp_path: Path) -> None:
    spool = opened(tmp_path, segment_bytes=10_000, max_bytes=10_000)
    for _ in range(20):
        spool.append_sync([b"r" * 42])
    _, end = read_all(spool)
    await spool.close()

    # Restarted with a lower cap: the old segment alone fills it.
    spool = opened(tmp_path, segment_bytes=10_000, max_bytes=1000)
    assert spool.size_bytes() == 1000
    spool.release(end)  # the writer's committed position: the old segment's very end
    assert spool.size_bytes() == 0
    spool.append_sync([b"fits"])
    assert spool.read(end, 10)[0] == [b"fits"]
    await spool.close()
