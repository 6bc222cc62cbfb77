"""Operating-system names for Footfall's own threads.

Python 3.11 names a thread for Python only: ``top -H``, ``ps -L``, ``/proc/PID/task/*/comm``
and ``perf`` all show every thread of the server as ``python``, so an operator (or
``bench/ingest.py``'s CPU-per-thread breakdown) cannot tell the writer from the spool's
fsync thread. Each long-lived thread calls :func:`name_this_thread` first thing. Linux
only (``prctl(PR_SET_NAME)``); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
import threading

_PR_SET_NAME = 15
# Looked up once, at import (before Granian forks its worker), not in a running thread.
_prctl = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform.startswith("linux") else None


def name_this_thread(name: str | None = None) -> None:
    """Give the calling thread ``name`` (default: its Python name) at the OS level; Linux
    keeps the first 15 bytes."""
    if _prctl is None:
        return
    label = (name or threading.current_thread().name).encode("ascii", "replace")[:15]
    _prctl(_PR_SET_NAME, ctypes.c_char_p(label), 0, 0, 0)
