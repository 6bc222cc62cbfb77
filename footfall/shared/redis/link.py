"""One installation's Redis connection as the shared-state adapters use it: clients,
key names, and whether Redis is reachable now.

After a failure the adapters stop trying for ``retry_s`` seconds (their fallbacks serve
meanwhile), so a Redis that is down costs requests nothing, not a connect timeout each;
the warning is logged at most once per ``WARN_EVERY_S``. Client addresses and e-mail
addresses never become key names as they are: :meth:`RedisLink.hashed` turns them into
keyed BLAKE2b digests, with a random secret kept in Redis itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import threading
import time
from typing import Any

import redis
import redis.asyncio

log = logging.getLogger("footfall.shared")

WARN_EVERY_S = 30.0
ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisLink:
    def __init__(self, url: str, prefix: str, *, timeout_s: float = 0.5, retry_s: float = 2.0):
        self.url, self.prefix, self.timeout_s, self.retry_s = url, prefix, timeout_s, retry_s
        self.sync = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._async: Any = None  # redis.asyncio.Redis of the loop that made it
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._secret: bytes | None = None
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._warned_at = -WARN_EVERY_S
        self.down_reason: str | None = None
        self.recovered_at = 0.0  # time.time() when Redis answered again after a failure

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def usable(self) -> bool:
        """Whether to try Redis now (False for ``retry_s`` after a failure)."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException, meanwhile: str) -> None:
        """Redis did not answer; ``meanwhile`` says what the caller does instead."""
        now = time.monotonic()
        with self._lock:
            self._down_until = now + self.retry_s
            self.down_reason = f"redis unreachable ({exc})"
            warn = now - self._warned_at >= WARN_EVERY_S
            if warn:
                self._warned_at = now
        if warn:
            log.warning(
                "shared state: redis at %s unreachable (%s); %s", self._where(), exc, meanwhile
            )

    def ok(self) -> None:
        if self.down_reason is not None:
            with self._lock:
                if self.down_reason is None:
                    return
                self.down_reason = None
                self.recovered_at = time.time()
            log.warning("shared state: redis at %s reachable again", self._where())

    def async_client(self) -> Any:
        """The asyncio client of the running loop (made on first use)."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            self._async = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
            )
            self._async_loop = loop
        return self._async

    async def hashed(self, text: str) -> str:
        """A key-safe digest of ``text``, the same in every process of the installation."""
        if self._secret is None:
            client = self.async_client()
            name = self.key("shared", "secret")
            await client.set(name, secrets.token_bytes(32), nx=True)
            self._secret = bytes(await client.get(name))
        return hashlib.blake2b(text.encode(), key=self._secret, digest_size=16).hexdigest()

    async def aclose(self) -> None:
        self.sync.close()
        client, self._async = self._async, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    def _where(self) -> str:
        host = self.url.split("@")[-1]  # never log a password
        return host.split("://")[-1]
