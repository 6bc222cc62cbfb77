"""Reads under memory pressure: a read that runs out of DuckDB's memory waits and runs
again, and past a few tries says the store is busy (``StoreBusy``: HTTP 503).

DuckDB's memory limit is one pool for the whole process (footfall/store/duckdb/sizing.py:
448 MiB on a small server). A rollups build step over millions of events holds much of
it for seconds, and a raw dashboard query beside it at 10M events ran out and answered
500 (docs/benchmarks.md, issue 25). The shortage ends with the step, so a read tried
again a moment later usually fits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import duckdb

from footfall.store.base import StoreBusy

log = logging.getLogger("footfall.store")

T = TypeVar("T")

# Seconds to wait before each further try (a build step at 10M events takes ~5-30 s).
WAITS = (0.5, 1.0, 2.0, 4.0)


_sleep = time.sleep


def retrying(read: Callable[[], T]) -> T:
    """``read()``, tried again after each of WAITS while DuckDB is out of memory; then
    ``StoreBusy``."""
    for wait in WAITS:
        try:
            return read()
        except duckdb.OutOfMemoryException as exc:
            log.warning("read out of memory, trying again in %.1f s: %s", wait, str(exc)[:120])
            _sleep(wait)
    return busy_on_oom(read)


def busy_on_oom(read: Callable[[], T]) -> T:
    """``read()``, with an out-of-memory error as ``StoreBusy`` (a statement inside a read
    transaction: after the error the transaction is spoilt, so it is not tried again)."""
    try:
        return read()
    except duckdb.OutOfMemoryException as exc:
        raise StoreBusy() from exc
