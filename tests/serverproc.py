"""Start the real ``footfall serve`` as a subprocess for tests that need a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What Granian logs when it kills a worker that did not stop in time.
KILLED = "refused to gracefully stop"


class Server:
    def __init__(self, data_dir: Path, admin: str = "admin-secret", **env: str) -> None:
        self.port = free_port()
        self.admin = admin
        self.env = {
            **os.environ,
            "FOOTFALL_DATA_DIR": str(data_dir),
            "FOOTFALL_PORT": str(self.port),
            "FOOTFALL_ADMIN_TOKEN": admin,
            "FOOTFALL_FLUSH_INTERVAL_MS": "50",
            # A worker hung by Granian's shutdown race is killed after this (see stop()).
            "FOOTFALL_SHUTDOWN_TIMEOUT_SECONDS": "10",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self._log_start = 0  # where the latest start's lines begin (run_log)

    def start(self) -> Server:
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "footfall.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/api/health")
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start: " + self.log_path.read_text())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, token: str | None = None) -> Any:
        req = urllib.request.Request(self.url(path))
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(self.url(path), data=json.dumps(body).encode(), method="POST")
        req.add_header("content-type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def admin_post(self, path: str, body: Any) -> tuple[int, Any]:
        return self.post(path, body, {"Authorization": f"Bearer {self.admin}"})

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30, recover: bool = True) -> int:
        """Signal the server and wait for it to exit; returns its exit code.

        Granian can hang a worker that gets Ctrl-C while its loop is busy
        (emmett-framework/granian#875); ``footfall serve`` kills it after
        FOOTFALL_SHUTDOWN_TIMEOUT_SECONDS, before it drained the spool. With ``recover``
        the server is then started and stopped once more, which replays the spool, as a
        user's next start would: tests of stored data see what a user would see. Tests
        of the shutdown itself pass ``recover=False``.
        """
        assert self.proc is not None
        self.send_signal(sig)
        code = self.proc.wait(timeout)
        if recover and sig == signal.SIGINT and KILLED in self.run_log():
            self.start()
            self.send_signal(sig)
            code = self.proc.wait(timeout)
        return code

    def run_log(self) -> str:
        """The log of the latest start only."""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")

    def worker_pids(self) -> list[int]:
        """Granian's worker processes (children of the `footfall serve` process)."""
        assert self.proc is not None
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
