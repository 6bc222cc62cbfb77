"""The ClickHouse stand-in's sessions, concurrent clients, and process lifetime.

Sessions behave as ClickHouse's do (one request at a time, their own temporary
tables); a database path belongs to one process until it dies, however it dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clickhouse import connect, launch, require_standin, shared_standin_url, standin

pytestmark = pytest.mark.slow


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with standin(tmp_path) as u:
        yield u


def test_three_concurrent_clients_keep_their_own_sessions(url: str) -> None:
    setup = connect(url)
    setup.command("CREATE TABLE hits (id UInt64, part UInt8) ENGINE = MergeTree ORDER BY id")
    errors: list[BaseException] = []
    seen: dict[int, tuple[int, int, bool]] = {}

    def work(k: int) -> None:
        try:
            client = connect(url)
            client.command(f"CREATE TEMPORARY TABLE mine (k UInt8) AS SELECT {k}")
            for part in range(5):
                first = k * 100_000 + part * 1000
                batch = [[first + i, part] for i in range(1000)]
                client.insert("hits", batch, column_names=["id", "part"])
            mine = client.command("SELECT k FROM mine")
            count = client.command(
                "SELECT count() FROM hits WHERE intDiv(id, 100000) = {k:UInt64}",
                parameters={"k": k},
            )
            seen[k] = (mine, count, client.params["session_id"] != setup.params["session_id"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert seen == {k: (k, 5000, True) for k in range(3)}
    assert setup.command("SELECT count() FROM hits") == 15_000
    assert setup.command("EXISTS TEMPORARY TABLE mine") == 0


def test_three_client_processes_write_to_one_stand_in(url: str) -> None:
    connect(url).command(
        "CREATE TABLE ev (proc UInt8, n UInt32) ENGINE = MergeTree ORDER BY (proc, n)"
    )
    script = (
        "import sys, clickhouse_connect as cc; k = int(sys.argv[2]);"
        "c = cc.get_client(dsn=sys.argv[1]);"
        "[c.insert('ev', [[k, part * 500 + i] for i in range(500)], column_names=['proc', 'n']) for part in range(4)];"
        "print(c.command('SELECT count() FROM ev WHERE proc = {k:UInt8}', parameters={'k': k}))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, url, str(k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert [int(out) for out, _ in outputs] == [2000, 2000, 2000]
    totals = connect(url).query("SELECT proc, count(), sum(n) FROM ev GROUP BY proc ORDER BY proc")
    assert totals.result_rows == [(k, 2000, sum(range(2000))) for k in range(3)]


def test_a_busy_session_refuses_a_second_request_as_clickhouse_does(url: str) -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError

    first, second = connect(url, session_id="shared"), connect(url, session_id="shared")
    watcher = connect(url)
    outcome: list[object] = []
    slow = threading.Thread(target=lambda: outcome.append(first.command("SELECT sleep(2)")))
    slow.start()
    running = "SELECT count() FROM system.processes WHERE query = 'SELECT sleep(2)'"
    while slow.is_alive() and watcher.command(running) == 0:
        time.sleep(0.02)
    with pytest.raises(DatabaseError, match="SESSION_IS_LOCKED") as info:
        second.command("SELECT 1")
    assert info.value.code == 373
    slow.join()
    assert outcome == [0]  # the request holding the session was not disturbed
    assert second.command("SELECT 2") == 2


def test_one_client_without_session_shared_by_threads(url: str) -> None:
    client = connect(url, autogenerate_session_id=False)
    client.command("CREATE TABLE shared (k UInt8, i UInt32) ENGINE = MergeTree ORDER BY (k, i)")
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for part in range(4):
                client.insert(
                    "shared", [[k, part * 100 + i] for i in range(100)], column_names=["k", "i"]
                )
                client.query("SELECT count() FROM shared WHERE k = {k:UInt8}", parameters={"k": k})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    counts = client.query("SELECT k, count(), sum(i) FROM shared GROUP BY k ORDER BY k").result_rows
    assert counts == [(k, 400, sum(range(400))) for k in range(3)]


def test_a_path_is_one_process_s_until_it_is_killed(tmp_path: Path) -> None:
    base = tmp_path / "clickhouse"
    proc, port = launch(base)
    try:
        client = connect(f"clickhouse://default:@127.0.0.1:{port}/default")
        client.command("CREATE TABLE kept (a UInt8) ENGINE = MergeTree ORDER BY a")
        client.insert("kept", [[1], [2]], column_names=["a"])
        with pytest.raises(RuntimeError, match="stand-in exited") as info:
            launch(base)
        assert "Another server instance in same directory is already running" in str(info.value)
    finally:
        proc.kill()  # SIGKILL: no shutdown runs, the path must be free all the same
        proc.wait()
    with standin(tmp_path) as again:
        assert connect(again).command("SELECT sum(a) FROM kept") == 3


def test_shared_stand_in_gives_each_caller_its_own_database() -> None:
    one, two = shared_standin_url("one"), shared_standin_url("two")
    assert one.rsplit("/", 1)[0] == two.rsplit("/", 1)[0]  # one process
    a, b = connect(one), connect(two)
    a.command("CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x")
    a.insert("t", [[1]], column_names=["x"])
    b.command("CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x")
    assert (a.command("SELECT count() FROM t"), b.command("SELECT count() FROM t")) == (1, 0)


def test_stand_in_stops_when_the_test_run_is_killed(tmp_path: Path) -> None:
    require_standin()
    starter = (
        "import sys, time; from pathlib import Path; from tests.support.clickhouse import launch;"
        f"proc, port = launch(Path({str(tmp_path)!r})); print(proc.pid, flush=True); time.sleep(120)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", starter], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2]
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the stand-in outlived the process that started it")
