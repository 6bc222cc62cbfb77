"""The database opened again after DuckDB invalidated it, without restarting the server.

DuckDB treats some errors as fatal for the whole database instance: a checkpoint that
fails (run out of memory beside a rollups build on a small server, issue 25) leaves every
later statement failing with "database has been invalidated ... must be restarted". Left
alone, every panel answered 500 and the writer stored nothing until someone restarted
``footfall serve``.

What was committed is in the file and its WAL: closing every connection and opening the
file again replays the WAL, as a restart would. The writer's round that saw the error is
tried again from the queue (its events, if that round did commit, are dropped by event id
as on any replay), a query is run again on the new connection, and the rollups job's
next run resumes where the store is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import duckdb

from footfall.store.base import StoreBusy

if TYPE_CHECKING:
    from footfall.store.duckdb.store import DuckDBStore

log = logging.getLogger("footfall.store")

T = TypeVar("T")

# What a statement raises once the database is invalidated (or, for a statement that
# raced the reopening, once its connection was closed under it).
FATAL = (duckdb.FatalException,)
RETRYABLE = (duckdb.FatalException, duckdb.ConnectionException)
# Seconds the reopening waits for running reads to end (they fail fast on a dead
# database; a streamed export may hold on, and is cut: its database is gone anyway).
DRAIN_WAIT = 10.0
REOPENING = "the database is being reopened after a fatal error; try again"


class Reviver:
    """Reopens one store's database once per invalidation, whichever thread sees it."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.reopened = 0  # how many times (health and tests read it)

    def reopen(self, seen: duckdb.DuckDBPyConnection | None, exc: BaseException) -> None:
        """Reopen the database if ``seen`` (the connection the failing statement came
        from) is still the store's: a second thread that saw the same error finds it
        already done. Must not be called inside the store's read gate."""
        store = self.store
        with self._lock:
            if seen is None or store._con is not seen or store._closing:
                return
            log.error("DuckDB invalidated the database (%s); opening it again", str(exc)[:200])
            maintaining = store._maintaining
            if maintaining is not None:
                maintaining.interrupt()
            with store._gate.exclusive(DRAIN_WAIT):
                store.close()
                store.open()
            self.reopened += 1
            log.warning("database opened again; committed writes kept, the writer goes on")

    def read(self, read: Callable[[], T]) -> T:
        """``read()``; after a fatal error, the database reopened and ``read()`` once more,
        then ``StoreBusy`` if that fails too."""
        seen = self.store._con
        try:
            return read()
        except RETRYABLE as exc:
            if isinstance(exc, FATAL):
                self.reopen(seen, exc)
        try:
            return read()
        except RETRYABLE as exc:
            raise StoreBusy(REOPENING) from exc
