"""Crash recovery of the real server: an acknowledged event is never lost and nothing is
ever stored twice, whatever moment the process dies (docs/design.md "Contracts every part keeps").

``footfall serve`` runs as a subprocess (Granian main process + worker, in their own
process group) on a temporary data directory. Several threads post events, each with a
unique client ``event_id``, and record which ones were answered 202. The whole process
group is SIGKILLed while the load runs, restarted on the same directory, killed again
while it replays (and takes new load), restarted, and some acknowledged events are resent.
After a clean stop the DuckDB file itself is opened and checked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.slow

ADMIN = "crash-admin-token"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
THREADS = 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"content-type": "application/json", "user-agent": UA, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Server:
    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir, self.log_path = data_dir, log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **settings: str) -> None:
        env = {
            **os.environ,
            "FOOTFALL_DATA_DIR": str(self.data_dir),
            "FOOTFALL_ADMIN_TOKEN": ADMIN,
            "FOOTFALL_RATE_LIMIT_PER_IP": "0",
            "FOOTFALL_RATE_LIMIT_PER_KEY": "0",
            "FOOTFALL_FLUSH_INTERVAL_MS": "30",
            "FOOTFALL_LOG_LEVEL": "warning",
            **{"FOOTFALL_" + k.upper(): v for k, v in settings.items()},
        }
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept by the child
        log.write(f"\n--- start {self.starts} ---\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "footfall.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited early:\n{self.log_path.read_text()}"
            try:
                status, _ = http("GET", self.base + "/api/health", timeout=1)
                if status == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not come up:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (Granian's main process and its worker)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._wait_group_gone()

    def stop(self) -> None:
        """A clean stop: SIGINT, so the lifespan drains the spool and closes the store."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._wait_group_gone()

    def _wait_group_gone(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)
        raise AssertionError("server process group still alive")

    def wait_drained(self, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        health: Any = None
        while time.monotonic() < deadline:
            status, health = http("GET", self.base + "/api/health")
            if (
                status == 200
                and health["writer"]["lag_events"] == 0
                and health["queue"]["depth"] == 0
            ):
                return dict(health)
            time.sleep(0.05)
        raise AssertionError(f"writer did not drain: {health}")


class Load:
    """Threads posting uniquely identified events until stopped; records what was acked."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key
        self.acked: list[str] = []
        self.sent: list[str] = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(THREADS)
        ]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_flag.set()
        for t in self.threads:
            t.join(15)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)

    def _run(self, n: int) -> None:
        h = {"x-api-key": self.key}
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            if i % 3 == 0:
                ids = [str(uuid.uuid4()) for _ in range(20)]
                url, body = (
                    self.base + "/api/events",
                    {
                        "events": [
                            {"event_type": "pageview", "path": f"/t{n}/b{i}", "event_id": e}
                            for e in ids
                        ]
                    },
                )
            else:
                ids = [str(uuid.uuid4())]
                url, body = (
                    self.base + "/api/event",
                    {"event_type": "pageview", "path": f"/t{n}/s{i}", "event_id": ids[0]},
                )
            with self.lock:
                self.sent.extend(ids)
            try:
                status, answer = http("POST", url, body, h, timeout=3)
            except (OSError, urllib.error.URLError):
                time.sleep(0.01)  # the server is down (killed): not acknowledged
                continue
            if status == 202:
                assert answer["success"] is True
                if url.endswith("/events"):
                    assert answer["accepted"] == len(ids) and answer["rejected"] == [], answer
                with self.lock:
                    self.acked.extend(ids)


def load_then_kill(
    server: Server, key: str, min_acked: int, extra_seconds: float
) -> tuple[Load, int]:
    """Run the load until ``min_acked`` events were acknowledged plus ``extra_seconds``,
    then SIGKILL the server while the threads are still sending. Returns the load and the
    writer lag (events durable in the spool but not yet in the store) just before the kill."""
    with Load(server.base, key) as load:
        deadline = time.monotonic() + 15
        while load.count() < min_acked and time.monotonic() < deadline:
            time.sleep(0.01)
        assert load.count() >= min_acked, f"only {load.count()} acked"
        time.sleep(extra_seconds)
        _, health = http("GET", server.base + "/api/health")
        server.kill()
    return load, int(health["writer"]["lag_events"])


def test_sigkill_loses_nothing_acknowledged_and_duplicates_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = Server(data_dir, tmp_path / "server.log")
    acked: list[str] = []
    all_sent: set[str] = set()
    try:
        # 1. kill under load; the writer runs seldom, so a backlog sits in the spool
        server.start(flush_interval_ms="1500")
        admin = {"Authorization": f"Bearer {ADMIN}"}
        status, site = http(
            "POST",
            server.base + "/api/site/create",
            {"name": "Crash", "domains": ["example.com"]},
            admin,
        )
        assert status == 201, site
        key, site_id = site["api_key"], site["site_id"]
        status, tok = http("POST", server.base + "/api/tokens", {"site_id": site_id}, admin)
        assert status == 201, tok

        load, lag1 = load_then_kill(server, key, min_acked=1500, extra_seconds=0.3)
        acked += load.acked
        all_sent.update(load.sent)

        # 2. restart: the writer replays the backlog in small batches; kill again during
        # the replay, with new load arriving
        server.start(batch_size="20", flush_interval_ms="30")
        load, lag2 = load_then_kill(server, key, min_acked=200, extra_seconds=0.05)
        acked += load.acked
        all_sent.update(load.sent)

        # 3. restart, let it drain
        server.start()
        server.wait_drained()

        # 4. resend acknowledged events (same event_id): still stored once
        resend = acked[::7][:400]
        for start in range(0, len(resend), 100):
            chunk = resend[start : start + 100]
            status, answer = http(
                "POST",
                server.base + "/api/events",
                {
                    "events": [
                        {"event_type": "pageview", "path": "/resent", "event_id": e} for e in chunk
                    ]
                },
                {"x-api-key": key},
            )
            assert status == 202 and answer["accepted"] == len(chunk), answer
        for e in resend[:20]:
            status, _ = http(
                "POST",
                server.base + "/api/event",
                {"event_type": "pageview", "path": "/resent", "event_id": e},
                {"x-api-key": key},
            )
            assert status == 202
        health = server.wait_drained()
        assert health["writer"]["duplicates_skipped"] >= len(resend) + 20, health

        status, stats = http(
            "GET",
            server.base + f"/api/stats?site_id={site_id}",
            headers={"Authorization": f"Bearer {tok['token']}"},
        )
        assert status == 200, stats
        api_pageviews = stats["data"]["pageviews"]
        assert all(p["path"] != "/resent" for p in stats["data"]["top_paths"])
    finally:
        server.stop()

    assert len(acked) == len(set(acked)) >= 1700
    # both kills hit a server with acknowledged events still only in the spool
    assert lag1 > 0 and lag2 > 0, (lag1, lag2)
    con = duckdb.connect(str(data_dir / "events.duckdb"), read_only=True)
    try:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM events"
        ).fetchone()
        stored = {str(e) for (e,) in con.execute("SELECT event_id FROM events").fetchall()}
        resent_rows = con.execute(
            "SELECT count(*) FROM events WHERE pathname = '/resent'"
        ).fetchone()[0]
    finally:
        con.close()
    assert total == distinct, f"{total - distinct} duplicated events"
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    assert stored <= all_sent, "stored events nobody sent"
    assert resent_rows == 0
    assert api_pageviews == total
