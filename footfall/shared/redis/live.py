"""The live visitor count in Redis: a sorted set of recent visitors per site.

``<prefix>live:<site id>`` holds visitor ids scored by the time of their latest event
(``ZADD GT``: a late event never moves a visitor back). "Current visitors" is the number
of members scored within the last 5 minutes, the definition the query layer's
``realtime_5m`` visitors implements (docs/design.md); the set is cut below that window
on every write and expires when a site goes quiet.

Every ``serve`` feeds it as it acknowledges events, so a dashboard on any server sees
visitors within ``FLUSH_S``, however far behind the workers are, and an open dashboard
costs one ``ZCOUNT`` per update instead of a store query. The request path only appends
the encoded records to a list; a thread decodes them, drops what the writer would drop
as bots or referrer spam (the same rules, ``ingest/bots.py``), and sends one pipeline.

Redis unreachable, and for 5 minutes after it is back (the set missed visitors
meanwhile), the count comes from the store through the query layer, as in one process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import msgspec

from footfall.ingest.bots import is_bot, is_referrer_spam
from footfall.ingest.referrer import classify_referrer
from footfall.meta.repo import SiteInfo
from footfall.shared.base import LiveVisitors
from footfall.shared.redis.link import ERRORS, RedisLink
from footfall.threadnames import name_this_thread

log = logging.getLogger("footfall.shared")
WINDOW_MS = 5 * 60_000
FLUSH_S = 0.5
MAX_PENDING = 100_000  # records waiting for the thread; beyond this they are not counted
MEANWHILE = "live visitor counts come from the event store"


class _Seen(msgspec.Struct):
    """The fields of a spool record the count needs (msgspec skips the rest unread)."""

    site_id: str
    ts: int
    visitor_id: int
    user_agent: str
    referrer: str


_decode = msgspec.json.Decoder(_Seen).decode


class RedisLive:
    def __init__(
        self,
        link: RedisLink,
        fallback: LiveVisitors,
        domains_of: Callable[[str], tuple[str, ...]],
        *,
        allow_headless: bool = False,
    ) -> None:
        self.link, self.fallback, self.domains_of = link, fallback, domains_of
        self.allow_headless = allow_headless
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="footfall-live", daemon=True)
        self._thread.start()

    def seen(self, payloads: list[bytes]) -> None:
        with self._lock:
            if len(self._pending) < MAX_PENDING:
                self._pending.extend(payloads)

    def count(self, site: SiteInfo) -> int:
        if not self.link.usable():
            return self.fallback.count(site)
        now = int(time.time() * 1000)
        key = self.link.key("live", site.id)
        try:
            pipe = self.link.sync.pipeline(transaction=False)
            pipe.zremrangebyscore(key, "-inf", f"({now - WINDOW_MS}")
            pipe.zcount(key, now - WINDOW_MS, now + 1000)
            n = int(pipe.execute()[1])
        except ERRORS as exc:
            self.link.failed(exc, MEANWHILE)
            return self.fallback.count(site)
        self.link.ok()
        if time.time() - self.link.recovered_at < WINDOW_MS / 1000:
            return self.fallback.count(site)  # the set missed the visitors of the outage
        return n

    def flush(self) -> None:
        """Send what was seen so far (the thread does this every ``FLUSH_S``)."""
        with self._lock:
            payloads, self._pending = self._pending, []
        if not payloads:
            return
        now = int(time.time() * 1000)
        latest: dict[str, dict[str, int]] = {}
        for payload in payloads:
            e = _decode(payload)
            if self._dropped(e):
                continue
            visitors = latest.setdefault(e.site_id, {})
            member, ts = str(e.visitor_id), min(e.ts, now)
            if visitors.get(member, -1) < ts:
                visitors[member] = ts
        if not latest or not self.link.usable():
            return
        try:
            pipe = self.link.sync.pipeline(transaction=False)
            for site_id, visitors in latest.items():
                key = self.link.key("live", site_id)
                pipe.zadd(key, visitors, gt=True)  # type: ignore[arg-type, unused-ignore]
                pipe.zremrangebyscore(key, "-inf", f"({now - WINDOW_MS}")
                pipe.pexpire(key, WINDOW_MS + 60_000)
            pipe.execute()
        except ERRORS as exc:
            self.link.failed(exc, MEANWHILE)
            return
        self.link.ok()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()

    def _dropped(self, e: _Seen) -> bool:
        # The writer's rules (ingest/batch/steps.py): bots, then referrer spam.
        if is_bot(e.user_agent, allow_headless=self.allow_headless):
            return True
        if not e.referrer:
            return False
        host = classify_referrer(e.referrer, self.domains_of(e.site_id))[1]
        return bool(host) and is_referrer_spam(host)

    def _run(self) -> None:
        name_this_thread()
        while not self._stop.wait(FLUSH_S):
            try:
                self.flush()
            except Exception:  # a bug here must not end the thread, nor reach a request
                log.exception("live visitor count flush failed")
