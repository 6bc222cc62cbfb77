"""The compaction job: give the store's free blocks back to the disk.

A store that can rewrite its file (the DuckDB store: footfall/store/duckdb/compact.py)
does so when ``FOOTFALL_COMPACT_FREE_RATIO`` of it is free blocks; others have nothing to
do (ClickHouse merges its parts itself).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("footfall.jobs")


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
