"""Site-cache invalidation across processes: Redis pub/sub on ``<prefix>site-changes``.

Chosen over a shorter cache TTL because some changes must take effect everywhere at
once, not within a TTL: a deleted site's data is deleted right after its metadata, and
another server still accepting its key for 30 s would write events back in; a domain
moved to another site must not be counted for both. A TTL short enough for that would
send the hot ingest path to the metadata database every second or so, on every server.

Pub/sub delivers at most once: a process that was disconnected may have missed a
message, so on every (re)subscription it clears its cache itself. The cache's own TTL
(30 s, ``ingest/sitecache.py``) still bounds what a process can miss while Redis is
down, when :meth:`RedisBroadcast.publish` can reach no one else (logged).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

import redis

from footfall.shared.redis.link import ERRORS, RedisLink
from footfall.threadnames import name_this_thread

MEANWHILE = "other servers see site changes within the site cache's TTL (30 s)"


class RedisBroadcast:
    def __init__(self, link: RedisLink, *, reconnect_s: float = 1.0) -> None:
        self.link, self.reconnect_s = link, reconnect_s
        self.channel = link.key("site-changes")
        self._me = secrets.token_hex(8).encode()  # our own messages are already applied
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.subscribed = threading.Event()  # set while subscribed (tests wait for it)

    def listen(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="footfall-sites", daemon=True
                )
                self._thread.start()

    def publish(self) -> None:
        self._notify()
        try:
            self.link.sync.publish(self.channel, self._me)
        except ERRORS as exc:
            self.link.failed(exc, MEANWHILE)
            return
        self.link.ok()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _notify(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def _run(self) -> None:
        name_this_thread()
        # Its own connection, without a read timeout (it waits for messages), but with
        # health checks so that a silently dead connection is noticed.
        client = redis.Redis.from_url(
            self.link.url, socket_connect_timeout=self.link.timeout_s, health_check_interval=10
        )
        while not self._stop.is_set():
            try:
                with client.pubsub() as sub:
                    sub.subscribe(self.channel)
                    self._listen(sub)
            except ERRORS as exc:
                self.subscribed.clear()
                self.link.failed(exc, MEANWHILE)
                self._stop.wait(self.reconnect_s)
        client.close()

    def _listen(self, sub: redis.client.PubSub) -> None:
        while not self._stop.is_set():
            message = sub.get_message(timeout=0.5)
            if message is None:
                continue
            if message["type"] == "subscribe":
                self._notify()  # whatever was published while we were not listening
                self.subscribed.set()
            elif message["type"] == "message" and message["data"] != self._me:
                self._notify()
