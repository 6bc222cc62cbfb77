"""The rollups job: keeps the store's exact rollups in step with the raw events.

Every run builds the rollups of sites that have none (or whose time zone changed) and
folds in what the writer added since the last run (footfall/store/duckdb/rollups.py).
Queries stay exact between runs: they read the days touched since from raw events.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from footfall.meta.repo import Metadata
from footfall.query.dialects import DIALECTS
from footfall.query.rollup import spec
from footfall.store.base import EventStore

log = logging.getLogger("footfall.jobs")


def run_rollups(store: EventStore, meta: Metadata) -> dict[str, Any]:
    sites = {s.id: s.timezone for s in meta.list_sites()}
    started = time.perf_counter()
    result = store.maintain_rollups(sites, spec(DIALECTS[store.capabilities.sql_dialect]))
    took = time.perf_counter() - started
    if result.get("built"):
        log.info("rollups built for %s", ", ".join(result["built"]))
    # A run's length is what decides how soon the panels are fast after a bulk load.
    log.info("rollups run", extra={"fields": {**result, "seconds": round(took, 2)}})
    return result
