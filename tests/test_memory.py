"""The server process gives back memory it does not use (footfall/memory.py, issue 25):
glibc's free heap pages go back to the OS, pyarrow does not load pandas, and ``footfall
serve``'s supervisor does not load what only the worker it starts needs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from footfall import memory
from tests.serverproc import Server

glibc = pytest.mark.skipif(not memory.available(), reason="not glibc's malloc")
MIB = 1 << 20
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def rss_anon() -> int:
    """This process's anonymous resident bytes (heap, not mapped files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon")


def fragment_heap(mib: int) -> list[bytes]:
    """Allocate ``mib`` MiB in 2 KiB pieces (past Python's small-object allocator, so
    glibc's), free all but one in 64: glibc keeps the freed pages, pinned by the kept
    pieces between them. Returns the kept pieces."""
    pieces = [bytes(2048) + i.to_bytes(8, "little") for i in range(mib * MIB // 2048)]
    kept = pieces[::64]
    del pieces
    return kept


@glibc
def test_trim_gives_the_freed_heap_back() -> None:
    kept = fragment_heap(200)
    assert memory.free_bytes() > 150 * MIB
    held = rss_anon()
    time.sleep(0.5)
    assert rss_anon() > held - 50 * MIB  # glibc gives nothing back by itself
    memory.trim()
    assert rss_anon() < held - 120 * MIB
    assert memory.free_bytes() > 150 * MIB  # still free to reuse, just not resident
    assert len(kept) > 1000


@glibc
def test_the_trimmer_trims_once_enough_is_free() -> None:
    idle = memory.Trimmer(every=0.05, above=1 << 40, recheck=0.2)  # never this much free
    trimmer = memory.Trimmer(every=0.05, above=64 * MIB, recheck=0.2)
    idle.start()
    trimmer.start()
    try:
        base = rss_anon()
        kept = fragment_heap(200)  # 200 MiB, 190 of them freed at the end
        deadline = time.monotonic() + 5
        while (trimmer.trims == 0 or rss_anon() > base + 80 * MIB) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert trimmer.trims >= 1 and rss_anon() < base + 80 * MIB
        assert idle.trims == 0
        assert len(kept) > 1000
    finally:
        idle.stop()
        trimmer.stop()


def test_pyarrow_converts_without_loading_pandas() -> None:
    pytest.importorskip("pandas")
    code = (
        "import sys; from footfall import memory; memory.keep_pandas_out()\n"
        "import pyarrow as pa, duckdb\n"
        "t = pa.table({'a': [1, 2]}); pa.array(['x']); duckdb.sql('SELECT * FROM t').fetchall()\n"
        "print('pandas' in sys.modules)\n"
        "import pandas\n"  # still there for whoever asks for it by name
        "print(pa.table(pandas.DataFrame({'x': [1, 2, 3]})).num_rows)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "3"]


def mapped(pid: int) -> str:
    """The files process ``pid`` has mapped (its shared libraries among them)."""
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.slow  # starts the real server
def test_serve_maps_only_what_each_process_needs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = Server(data).start()
    try:
        status, _ = server.post(
            "/api/event",
            {"event_type": "pageview", "path": "/", "domain": "example.com", "user_agent": UA},
        )
        assert status in (202, 401)  # either way the writer has warmed its rule tables
        assert server.get("/api/health")["status"] == "ok"
        assert server.proc is not None
        supervisor = mapped(server.proc.pid)
        (worker,) = server.worker_pids()
        worker_maps = mapped(worker)
        assert "duckdb" in worker_maps and "pyarrow" in worker_maps  # it runs the store
        assert "pandas" not in worker_maps  # pyarrow did not load it
        # The supervisor only starts and watches the worker.
        for library in ("sqlalchemy", "duckdb", "pyarrow", "argon2"):
            assert library not in supervisor, library
    finally:
        server.stop()
