"""Fixtures of the shared-state tests: a Redis server of the test's own that it can stop and
start, and events built the way a user's browser or server would send them. (A key prefix
of the test's own in the shared Redis is ``redis_prefix``, from ``tests/support/redis.py``.)"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_services
from tests.support.redis import redis_or_skip

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def event(visitor: str, **extra: Any) -> dict[str, Any]:
    """A server-side pageview of ``visitor`` (its own id, a real browser's user agent)."""
    return {"event_type": "pageview", "path": "/", "visitor_id": visitor, "user_agent": FIREFOX,
            **extra}  # fmt: skip


class RedisServer:
    """A redis-server of the test's own, on a free port, without persistence."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed: Redis outages are not tested"
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)
    redis_or_skip()  # also checks the client is installed
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
