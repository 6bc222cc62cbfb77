"""The ``footfall`` command line in its first hour: --version, help on everything,
``serve --data-dir``, and ``serve`` refusing in one line what it cannot do."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from footfall import __version__
from footfall.cli import parser
from tests.serverproc import Server, free_port


def run(*args: str, timeout: float = 60, **env: str) -> tuple[int | None, str, str]:
    """Run ``footfall ARGS``; a process still running after ``timeout`` is killed (its
    exit code is then None: it started when it should have refused)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "footfall.cli", *args],
        env={**os.environ, "FOOTFALL_ADMIN_TOKEN": "", **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"footfall {__version__}"


def test_every_command_and_option_has_help() -> None:
    missing: list[str] = []

    def walk(p: argparse.ArgumentParser, where: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for name, child in action.choices.items():
                    if not helps.get(name):
                        missing.append(f"{where} {name}")
                    walk(child, f"{where} {name}")
            elif not action.help:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")

    walk(parser(), "footfall")
    assert missing == []


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
            return True
    except OSError:
        return False


def test_serve_data_dir_flag(tmp_path: Path) -> None:
    data, port = tmp_path / "given", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "footfall.cli", "serve", "--data-dir", str(data),
         "--port", str(port)],
        # The shutdown timeout as tests/serverproc.py sets it: Granian can hang a worker
        # that gets Ctrl-C while its loop is busy (emmett-framework/granian#875), and the
        # default 120 s outlasts this test's wait.
        env={**os.environ, "FOOTFALL_DATA_DIR": str(tmp_path / "not-this"),
             "FOOTFALL_SHUTDOWN_TIMEOUT_SECONDS": "10"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _health(port):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        assert (data / "events.duckdb").exists() and not (tmp_path / "not-this").exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running server the next serve commands collide with (port, then data dir)."""
    server = Server(tmp_path_factory.mktemp("first") / "data").start()
    try:
        yield server
    finally:
        server.stop(recover=False)


def test_second_serve_on_a_busy_port_refuses_naming_it(first: Server, tmp_path: Path) -> None:
    code, _, err = run("serve", "--data-dir", str(tmp_path / "two"),
                       "--port", str(first.port), timeout=20)  # fmt: skip
    assert code not in (None, 0)
    line = one_line_error(err)
    assert str(first.port) in line and "another footfall server" in line
    # The first server keeps all the traffic.
    assert first.get("/api/health")["status"] == "ok"


def test_serve_on_a_port_another_program_holds_refuses(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        code, _, err = run("serve", "--data-dir", str(tmp_path / "d"), "--port", str(port),
                           timeout=20)  # fmt: skip
    assert code not in (None, 0)
    line = one_line_error(err)
    assert str(port) in line and "in use" in line


def test_serve_on_a_data_dir_another_server_uses_refuses(first: Server) -> None:
    data = Path(first.env["FOOTFALL_DATA_DIR"])
    code, _, err = run("serve", "--data-dir", str(data), "--port", str(free_port()),
                       timeout=20)  # fmt: skip
    assert code not in (None, 0)
    line = one_line_error(err)
    assert str(data) in line and "in use" in line
    assert first.proc is not None and f"pid {first.proc.pid}" in line
    assert first.get("/api/health")["status"] == "ok"


def test_serve_with_an_unusable_data_dir_refuses(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    code, _, err = run("serve", "--data-dir", str(tmp_path / "file" / "data"),
                       "--port", str(free_port()), timeout=20)  # fmt: skip
    assert code not in (None, 0)
    line = one_line_error(err)
    assert str(tmp_path / "file" / "data") in line and "cannot be used" in line


def test_serve_refuses_a_store_another_process_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    con = duckdb.connect(str(data / "events.duckdb"))  # a DuckDB shell, say
    try:
        code, _, err = run("serve", "--data-dir", str(data), "--port", str(free_port()),
                           timeout=20)  # fmt: skip
    finally:
        con.close()
    assert code not in (None, 0)
    line = one_line_error(err)
    assert "events.duckdb" in line and "another process" in line


def test_output_cut_short_by_a_pipe_prints_no_traceback(tmp_path: Path) -> None:
    """`footfall config docs | head`: a reader that leaves before the output is written
    (here one that reads nothing) gets no traceback on the terminal."""
    err, status = tmp_path / "err", tmp_path / "status"
    cmd = f"{sys.executable} -m footfall.cli config docs 2>{err}; echo $? >{status}"
    subprocess.run(["sh", "-c", f"({cmd}) | true"], timeout=60, check=True)
    assert err.read_text() == ""
    assert status.read_text().strip() == "0"


def test_the_serve_supervisor_does_not_load_the_store_engines() -> None:
    """`footfall serve` forks one worker that opens the store; the supervisor only parses
    arguments and checks the data directory. DuckDB, pyarrow and numpy cost it ~60 MB of
    RSS that a small server's memory budget counts twice (issue 25), so they must load in
    the worker, and a CLI that only parses its arguments must not pay for them either."""
    probe = (
        "import sys\n"
        "from footfall import cli\n"
        "from footfall.worker import command\n"
        "from footfall.config import Settings\n"
        "cli.parser().parse_args(['serve'])\n"
        "command.serve_shape_problem(Settings())\n"
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'numpy', 'chdb') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
