"""Server subprocesses that do not outlive the bench that started them, and their memory.

The benches start ``footfall serve`` in a session of its own (so that a Ctrl-C meant for the
bench does not reach the server mid-measurement, and the bench can stop the whole process
group). If the bench itself is killed, its ``finally`` blocks never run and the server —
holding a port, a data directory in /tmp and a core's worth of background work — would go
on running and skew every later measurement. ``die_with_parent`` (a ``preexec_fn``) asks
Linux to send the server SIGINT, its clean shutdown, when the bench goes away.
``tree_rss_kb`` is what the benches report as a process tree's memory. ``on_copy`` runs
a bench's child script on a copy of a DuckDB store, under a given tree's code;
``open_copy`` opens such a copy in the bench's own process; ``compile_trees`` writes the
``.pyc`` files of the code a server will run, so its start is timed as a restart's.
"""

from __future__ import annotations

import compileall
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
# Looked up here, before any fork: loading a library in the forked child of a process with
# threads could wait forever on a lock another thread held at the fork.
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Run in the child between fork and exec: SIGINT it when the parent exits (Linux)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)


def tree_rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in kB (from /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def on_copy(child: str, store: Path, arg: object, code: str | None) -> dict[str, Any]:
    """Run ``child`` (a script printing one ``BENCHJSON {...}`` line) with a fresh copy of
    the DuckDB file ``store`` and ``arg``, importing footfall from the tree ``code`` (or the
    installed one); its JSON."""
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        copy = Path(tmp) / "events.duckdb"
        shutil.copy(store, copy)
        env = dict(os.environ, PYTHONPATH=code or "")
        # Run outside the tree: ``-c`` puts the working directory first on sys.path.
        argv = [sys.executable, "-c", child, str(copy), str(arg)]
        run = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True, check=True)
    out = run.stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCHJSON "))
    got: dict[str, Any] = json.loads(line[10:])
    return got


def open_copy(store_dir: Path, copy: Path) -> tuple[Any, dict[str, Any]]:
    """A DuckDB store opened on a fresh copy of a ``bench/query.py`` store's file, with the
    server's small defaults (448 MiB, 2 threads), and the store's manifest."""
    from footfall.store.duckdb import DuckDBStore

    manifest = json.loads((store_dir / "manifest.json").read_text())
    for old in copy.parent.glob(copy.name + "*"):
        old.unlink()
    shutil.copy(store_dir / "data" / "events.duckdb", copy)
    store = DuckDBStore(copy, threads=2, memory_limit="448MiB")
    store.open()
    return store, manifest


def hold_back(store: Any, since: Any) -> None:
    """Move the events from ``since`` on into table ``_held`` of the same file, and drop
    the rollups' state and pending rows, so the next rollups run builds the site from the
    rest (bench/seal_day.py, bench/days_of_seals.py add the held events back after it)."""
    con = store.con
    con.execute("CREATE TABLE _held AS SELECT * FROM events WHERE ts >= ? ORDER BY ts", [since])
    con.execute("DELETE FROM events WHERE ts >= ?", [since])
    con.execute("DELETE FROM rollup_state")
    con.execute("DELETE FROM rollup_pending")
    con.execute("CHECKPOINT")
    store._rollup_states = None


def compile_trees(pythonpath: str | None, root: Path) -> None:
    """Write the ``.pyc`` files of each ``footfall`` package a server would import (``root``'s
    and any on ``pythonpath``), as pip does when it installs the package and as a server's
    first start does where Python may write them: a start time is measured as a restart's.
    (The machines these benches run on set PYTHONDONTWRITEBYTECODE, and every start there
    compiled the whole package again: 2.0 against 1.8 s to health at 10M.)"""
    trees = [Path(p) for p in (pythonpath or "").split(os.pathsep) if p] + [root]
    for tree in trees:
        if (tree / "footfall").is_dir():
            compileall.compile_dir(str(tree / "footfall"), quiet=1)
