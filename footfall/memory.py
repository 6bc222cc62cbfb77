"""Keeping the server process's memory to what it uses (issue 25).

DuckDB's buffer pool is capped (``store/duckdb/sizing.py``); the rest of the worker's
memory is Python's and glibc's. Three things held memory nobody used
(``bench/footprint.py``, ``docs/benchmarks.md`` "Footprint"):

- glibc's malloc keeps what Python frees (request bodies, result rows, the writer's
  batches) inside its arenas, one arena per thread that ever allocated, up to eight per
  core. During a 1M-event load the worker's glibc heap held 250 MiB of which 160 MiB
  was free. :class:`Trimmer` gives free pages back (``malloc_trim``) once 32 MiB more
  are free than after its last trim, and :func:`limit_arenas` caps the arenas at two
  (the threads that allocate from Python take turns on the GIL anyway). ``footfall
  serve`` sets the cap before Granian forks its worker, whose server threads start before
  the app factory runs: set only there, a 10M-event load peaked ~80 MiB higher.
- pyarrow imports pandas, when it is installed, the first time it converts Python
  objects (``pa.array``, ``pa.table`` of a dict): about 50 MiB in a process that never
  makes a data frame. :func:`keep_pandas_out` has pyarrow look for pandas once while
  it is hidden; pandas stays importable for code that asks for it by name.

Nothing here is configurable: each is a no-op where it does not apply (no glibc).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import logging
import os
import sys
import threading
import time
from typing import Any

log = logging.getLogger("footfall")

# mallopt's parameter number for the arena cap (malloc.h M_ARENA_MAX).
_M_ARENA_MAX = -8
ARENAS = 2
# How often the trimmer looks at the process's size, how often it asks glibc anyway, and
# how many more free bytes than after its last trim make another worth its pause.
TRIM_EVERY_S = 5.0
RECHECK_S = 30.0
TRIM_ABOVE = 32 << 20


_MALLINFO2 = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2.split()]


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc 2.33 or later (``mallinfo2``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def available() -> bool:
    """Whether this process's malloc is glibc's, the one this module tunes."""
    return _LIBC is not None


def free_bytes() -> int:
    """Bytes glibc's arenas hold free (0 without glibc)."""
    return int(_LIBC.mallinfo2().fordblks) if _LIBC is not None else 0


def trim() -> int:
    """Give glibc's free pages back to the OS; returns the free bytes it saw before."""
    if _LIBC is None:
        return 0
    before = free_bytes()
    _LIBC.malloc_trim(0)
    return before


def limit_arenas(arenas: int = ARENAS) -> None:
    """Cap glibc's arenas for the threads started from now on."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, arenas)


def keep_pandas_out() -> None:
    """Have pyarrow settle now that pandas is absent, unless something already imported
    it. pyarrow looks once and remembers; ``import pandas`` still works afterwards."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    hide = _Hidden("pandas")
    sys.meta_path.insert(0, hide)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(hide)


class _Hidden(importlib.abc.MetaPathFinder):
    """An import finder for which ``name`` is not installed."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == self.name:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


class Trimmer:
    """A daemon thread that trims glibc's heap when ``above`` more bytes of it are free
    than after the last trim (free pieces smaller than a page cannot go back).

    It asks glibc only when the process's size (read from /proc: microseconds, no lock)
    moved by ``above`` since it last asked, or ``recheck`` seconds passed: glibc's count,
    like the trim itself, holds each arena's lock while it walks its free chunks (45 ms
    for 100 MiB freed in 600-byte pieces here; a trim of 200 MiB, 190 ms)."""

    def __init__(
        self, every: float = TRIM_EVERY_S, above: int = TRIM_ABOVE, recheck: float = RECHECK_S
    ) -> None:
        self.every, self.above, self.recheck = every, above, recheck
        self.trims, self.trimmed_seconds = 0, 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if _LIBC is None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="footfall-trim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
            log.info("heap trimmed %d times, %.3f s in all", self.trims, self.trimmed_seconds)

    def _run(self) -> None:
        kept, seen, asked = free_bytes(), resident_bytes(), time.monotonic()
        while not self._stop.wait(self.every):
            size = resident_bytes()
            if abs(size - seen) < self.above and time.monotonic() - asked < self.recheck:
                continue
            seen, asked = size, time.monotonic()
            free = free_bytes()
            if free < kept + self.above:
                kept = min(kept, free)
                continue
            t0 = time.perf_counter()
            trim()
            self.trims += 1
            self.trimmed_seconds += time.perf_counter() - t0
            kept, seen = free_bytes(), resident_bytes()


def resident_bytes() -> int:
    """This process's resident bytes (/proc/self/statm), 0 where there is no /proc."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def physical_memory() -> int:
    """Bytes of RAM, or of the cgroup's limit when the server runs in a smaller one (what
    each store sizes its caches by)."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            raw = f.read().strip()
        if raw.isdigit():
            ram = min(ram, int(raw))
    except OSError:
        pass
    return ram
