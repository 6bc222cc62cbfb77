"""Appending to the Redis stream: pipelined ``XADD`` shared by concurrent requests.

The Redis counterpart of the spool's group commit. ``append`` queues its payloads and
waits; one flusher task sends everything queued in one pipeline (one round trip, no
transaction) and wakes the callers once Redis has answered every ``XADD``; what arrives
meanwhile goes into the next pipeline. An event is acknowledged (202) only after Redis
confirmed its ``XADD``; how durable it is then depends on Redis's own persistence
(``appendonly yes`` with ``appendfsync always`` survives a Redis crash; ``everysec`` may
lose the last second).

Redis unreachable: the appends fail with :class:`~footfall.queue.base.QueueFull`, which
collection answers with 503 and ``Retry-After``: nothing is acknowledged that Redis did
not take. A pipeline cut short may have added some of its entries; the client's retry
then repeats them, and the writer drops the repeats by event id, as for any retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis
import redis.asyncio

from footfall.queue.base import RETRY_AFTER_SECONDS, QueueFull
from footfall.queue.redis.partitions import partition_of

FIELD = b"e"
UNAVAILABLE = "Queue unavailable, retry later"
_Pending = tuple[list[bytes], "asyncio.Future[None]"]


class RedisAppending:
    """Appends to the streams ``keys`` at ``url`` (each record to its partition's, see
    :mod:`~footfall.queue.redis.partitions`); ``RedisStreamQueue`` adds the reading."""

    def __init__(self, url: str, keys: list[str]) -> None:
        self.url, self.keys, self.key = url, keys, keys[0]
        self._async: Any = None  # redis.asyncio.Redis, made on the loop that appends
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._down: str | None = None  # why the last pipeline failed, until one succeeds
        self._closed = False
        self._sync_append: redis.Redis | None = None

    async def append(self, payloads: list[bytes]) -> None:
        if not payloads:
            return
        if self._closed:
            raise RuntimeError("redis queue is closed")
        loop = asyncio.get_running_loop()
        if self._async is None:
            self._async = redis.asyncio.Redis.from_url(self.url, socket_timeout=10)
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((payloads, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="footfall-redis-xadd")
        await done

    async def _flush(self) -> None:
        # Runs while there is something queued; a task finishes in the same step as its
        # last empty check, so an append never finds a flusher that will not see it.
        while self._pending:
            batch, self._pending = self._pending, []
            pipe = self._async.pipeline(transaction=False)
            for payloads, _ in batch:
                for key, entry in self._entries(payloads):
                    pipe.xadd(key, {FIELD: entry})
            error: BaseException | None = None
            try:
                await pipe.execute()
                self._down = None
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._down = f"redis unreachable ({exc})"
                error = QueueFull(RETRY_AFTER_SECONDS, self._down, UNAVAILABLE)
            except Exception as exc:
                error = exc
            for _, done in batch:
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    def append_sync(self, payloads: list[bytes]) -> None:
        """Add ``payloads`` from a thread without an event loop (CLI, benches, tests)."""
        if not payloads:
            return
        if self._sync_append is None:
            self._sync_append = redis.Redis.from_url(self.url, socket_timeout=10)
        pipe = self._sync_append.pipeline(transaction=False)
        for key, entry in self._entries(payloads):
            pipe.xadd(key, {FIELD: entry})
        try:
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise QueueFull(RETRY_AFTER_SECONDS, f"redis unreachable ({exc})", UNAVAILABLE) from exc

    def _entries(self, payloads: list[bytes]) -> list[tuple[str, bytes]]:
        """The stream entries of one request's records. One stream (the queue port's
        reader): one record an entry. Partitions (read by workers): the request's records
        of each partition in one entry, newline-separated (JSON records hold no raw
        newline), since every entry costs Redis and both clients a parse of its own:
        a 500-event request is then a few XADDs, not 500."""
        keys = self.keys
        if len(keys) == 1:
            return [(keys[0], p) for p in payloads]
        groups: dict[int, list[bytes]] = {}
        for p in payloads:
            groups.setdefault(partition_of(p, len(keys)), []).append(p)
        return [(keys[k], b"\n".join(group)) for k, group in groups.items()]

    def refusal(self) -> str | None:
        if self._closed:
            return "redis queue is closed"
        return self._down

    async def close(self) -> None:
        """Wait for queued appends, then close the connections."""
        self._closed = True
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            await flusher
        if self._async is not None:
            with contextlib.suppress(Exception):
                await self._async.aclose()
            self._async = None
        self._close_sync_append()

    def close_sync(self) -> None:
        if self._pending or (self._flusher is not None and not self._flusher.done()):
            raise RuntimeError("async appends are in flight; use `await close()`")
        self._closed = True
        self._close_sync_append()

    def _close_sync_append(self) -> None:
        if self._sync_append is not None:
            self._sync_append.close()
            self._sync_append = None
