"""Start the chdb-backed ClickHouse stand-in for a test, as a subprocess.

A chdb database path can be open in one process only and is released when that
process dies (even by SIGKILL), so each stand-in is its own process: tests and
the product under test reach it over HTTP exactly as they would reach ClickHouse.

    with standin(tmp_path) as url:   # clickhouse://default:@127.0.0.1:PORT/default
        ...

or use the ``clickhouse_url`` fixture; ``shared_standin_url(name)`` instead gives
a fresh database on one stand-in shared by the whole test run. When chdb or
clickhouse_connect cannot be imported the test is skipped, or fails if
``FOOTFALL_REQUIRE_SERVICES=1``. Stand-ins stop when the test run ends, however
it ends.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_services

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


def require_standin() -> None:
    """Skip (or fail under FOOTFALL_REQUIRE_SERVICES=1) when the stand-in cannot run."""
    missing = [m for m in ("chdb", "clickhouse_connect") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    reason = (
        f"ClickHouse stand-in needs {' and '.join(missing)} (pip install chdb clickhouse-connect)"
    )
    if require_services():
        pytest.fail(reason)
    pytest.skip(reason)


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


def _wait_ready(proc: subprocess.Popen[bytes], port_file: Path, log: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"stand-in exited with {proc.returncode}:\n{_log_tail(log)}")
        if port_file.exists():
            port = int(port_file.read_text())
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as r:
                    if r.read() == b"Ok.\n":
                        return port
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"stand-in not ready in {START_TIMEOUT:.0f}s:\n{_log_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def launch(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a stand-in on ``base/db`` (log in ``base/standin.log``); return it and its port."""
    require_standin()
    base.mkdir(parents=True, exist_ok=True)
    port_file, log = base / "port", base / "standin.log"
    port_file.unlink(missing_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.clickhouse_standin"]
            + ["--port", "0", "--path", str(base / "db"), "--port-file", str(port_file)]
            + ["--exit-with-parent"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        return proc, _wait_ready(proc, port_file, log)
    except BaseException:
        _stop(proc)
        raise


@contextmanager
def standin(tmp_path: Path, name: str = "clickhouse") -> Iterator[str]:
    """Run a stand-in on ``tmp_path/name`` and yield its clickhouse:// URL."""
    proc, port = launch(tmp_path / name)
    try:
        yield f"clickhouse://default:@127.0.0.1:{port}/default"
    finally:
        _stop(proc)


_SHARED: list[tuple[subprocess.Popen[bytes], int]] = []


def _shared_port() -> int:
    if _SHARED and _SHARED[0][0].poll() is None:
        return _SHARED[0][1]
    base = Path(tempfile.mkdtemp(prefix="footfall-standin-"))
    proc, port = launch(base)
    atexit.register(shutil.rmtree, base, True)
    atexit.register(_stop, proc)  # runs first: the files go once the process is gone
    _SHARED[:] = [(proc, port)]
    return port


def shared_standin_url(name: str) -> str:
    """A fresh database on this test run's one shared stand-in, as a clickhouse:// URL.

    Starting a process per test costs a second or two; tests that only need an
    empty database of their own (the way ``chdb_url`` gives one) share a process.
    """
    port = _shared_port()
    db = re.sub(r"\W", "_", name)[:40] + "_" + uuid.uuid4().hex[:8]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=f"CREATE DATABASE `{db}`".encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        r.read()
    return f"clickhouse://default:@127.0.0.1:{port}/{db}"


def connect(url: str, **settings: Any) -> Any:
    """A clickhouse-connect client for a stand-in URL (skips the test without the packages)."""
    require_standin()
    import clickhouse_connect

    return clickhouse_connect.get_client(dsn=url, **settings)


@pytest.fixture
def clickhouse_url(tmp_path: Path) -> Iterator[str]:
    """A fresh stand-in for one test: its clickhouse://default:@127.0.0.1:PORT/default URL."""
    with standin(tmp_path) as url:
        yield url
