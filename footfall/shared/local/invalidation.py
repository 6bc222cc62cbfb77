"""Site-cache invalidation within one process: a direct call, nothing to send."""

from __future__ import annotations

import threading
from collections.abc import Callable


class LocalBroadcast:
    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def listen(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def publish(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()
