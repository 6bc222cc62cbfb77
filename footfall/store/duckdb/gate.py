"""A gate between the store's readers and the one moment the store's file is swapped.

Compaction (compact.py) rewrites the database into a new file while queries go on
against the old one; only closing the old connection and opening the new one must wait
until no query is running, and hold new queries back for those few milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class ReadGate:
    """Shared ``reading()`` for queries, ``exclusive()`` for the swap. Reads nest (a
    thread already reading is never held back, so nesting cannot deadlock)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._closed = False
        self._local = threading.local()

    @contextmanager
    def reading(self, local: bool = True) -> Iterator[None]:
        """``local=False`` for a reader that may move between threads (a stream read by
        an HTTP response): it neither nests nor lets its thread's later reads pass."""
        depth = getattr(self._local, "depth", 0) if local else 0
        with self._cond:
            while self._closed and depth == 0:
                self._cond.wait()
            self._readers += 1
        if local:
            self._local.depth = depth + 1
        try:
            yield
        finally:
            if local:
                self._local.depth = depth
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self, timeout: float) -> Iterator[bool]:
        """Hold new readers back and wait up to ``timeout`` seconds for the running ones;
        yields whether they all finished (if not, the caller must not swap)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            while self._readers and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            drained = self._readers == 0
        try:
            yield drained
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()
