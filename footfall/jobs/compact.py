"""The compaction job: give the store's free blocks back to the disk.

A store that can rewrite its file (the DuckDB store: footfall/store/duckdb/compact.py)
does so when ``FOOTFALL_COMPACT_FREE_RATIO`` of it is free blocks; others have nothing to
do (ClickHouse merges its parts itself).

A rewrite holds writes and rollup runs off for its whole length (minutes at 10M events),
so it waits out a bulk load (:class:`WriterActivity`): started in the middle of one, at
10M events it held the writer for ten minutes, the spool filled to its cap and senders
were refused, and the rewrite sorted a table that was still growing. It also waits
until the rollups job has folded the load in (:func:`rollups_settling`): at 10M events it
started at the end of the first build and slowed the dashboard's first fast minutes.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("footfall.jobs")

# Events a second, averaged since the previous look, above which the writer is in a bulk
# load (an import, a backfill, a replay): 200/s is 17M events a day, far above the sites
# a small server holds, and far below what a bulk load sends (2,500-5,000/s here).
BULK_EVENTS_PER_SECOND = 200.0
# Records waiting in the queue beyond which the writer has a backlog.
BACKLOG_RECORDS = 10_000
# Seconds without a stored event after which a bulk load is over (a loader's pauses
# between its batches are shorter: the senders here never paused 2 s).
QUIET_SECONDS = 2.0


class WriterActivity:
    """Whether the writer is busy with a bulk load or a backlog right now: the condition
    the compaction and rollups jobs wait out (``Scheduler.add(wait_while=...)``).
    ``written`` is the writer's running count of stored events, ``lag`` the records
    waiting for it. The rate is taken since the latest look at least ``window`` seconds
    ago (the previous one, when looks are that far apart), so the end of a load shows
    within a window. A writer round longer than that does not look like the end of a
    load: the records sent meanwhile wait, and ``lag`` says so."""

    def __init__(
        self,
        written: Callable[[], int],
        lag: Callable[[], int],
        clock: Callable[[], float] = time.monotonic,
        window: float = 5.0,
    ) -> None:
        self.written, self.lag, self.clock, self.window = written, lag, clock, window
        self._looks: deque[tuple[float, int]] = deque([(clock(), written())])

    def busy(self) -> bool:
        now, count = self.clock(), self.written()
        looks = self._looks
        looks.append((now, count))
        # The rate since the latest look at least ``window`` ago (or the oldest there is).
        while len(looks) > 2 and now - looks[1][0] >= self.window:
            looks.popleft()
        then, before = looks[0]
        lag = self.lag()
        if lag >= BACKLOG_RECORDS:
            return True
        # Nothing waiting, and nothing stored since a look QUIET_SECONDS ago: the load is
        # over, though its events still weigh on the rate over the window (the first
        # build after a 10M load started 12 s after the last event was acknowledged, 3.4
        # s after it was stored, when the rollups looked every 5 s). A long writer round
        # in the middle of a load has records waiting.
        if not lag and any(t <= now - QUIET_SECONDS and c == count for t, c in looks):
            return False
        return now > then and (count - before) / (now - then) > BULK_EVENTS_PER_SECOND


# A rollups run that sealed this many visitors or more is still folding a load in.
SETTLED_VISITORS = 5_000


def rollups_settling(result: Any) -> bool:
    """Whether the rollups job's latest run (``result``, None before the first) says it
    is still folding a load in: it built or re-sorted a site, or sealed many visitors.
    The next run after a load has nothing left to do."""
    if not isinstance(result, dict):
        return False
    busy = result.get("built") or result.get("resorted")
    return bool(busy) or int(result.get("sealed_visitors", 0)) >= SETTLED_VISITORS


@runtime_checkable
class Compactable(Protocol):
    def compact(self, free_ratio: float) -> dict[str, Any]: ...


def run_compact(store: object, free_ratio: float) -> dict[str, Any]:
    if free_ratio <= 0 or not isinstance(store, Compactable):
        return {"compacted": False}
    result = store.compact(free_ratio)
    if result.get("compacted"):
        log.info(
            "store compacted from %.0f MB to %.0f MB in %.1f s",
            result["bytes_before"] / 1e6,
            result["bytes_after"] / 1e6,
            result["seconds"],
        )
    return result
