"""``footfall import access-log``: pageviews from web server logs, as live collection makes them.

Each log line that is a page view (:func:`~footfall.imports.accesslog.formats.page_verdict`,
not a bot, not excluded by the site's own rules) becomes the spool record the live
pipeline would have made of a server-side pageview, and goes through the same queue,
writer and batch steps (:mod:`footfall.imports.feed`):

- the visitor id is ``visitor_hash(salt of the line's UTC day, site, IP, user agent)``:
  the salt is the one live collection uses that day (made for that day if it has none;
  the daily rotation deletes past days' salts again), so an import of today's log and
  today's live events agree. The IP is hashed and looked up (country) in memory only;
- the event id is made of the file's identity (a hash of the site and the file's first
  line) and the line number: importing the same file again, a grown copy of it, or the
  same log compressed or piped through stdin, adds only lines not stored before;
- visits follow from the writer's 30-minute rule; timestamps of any age are accepted
  (``FOOTFALL_MAX_PAST_DAYS`` bounds live collection, not imports).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from footfall.imports.accesslog.formats import BadLine, page_verdict, parser_for
from footfall.imports.feed import Feed
from footfall.ingest.bots import is_bot
from footfall.ingest.exclusions import NO_RULES
from footfall.ingest.geo import GeoLookup
from footfall.ingest.pipeline import host_allowed
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.ingest.utm import clean_query
from footfall.meta.repo import SiteInfo
from footfall.meta.salts import visitor_hash

DAY_MS = 86_400_000
# Records handed to the queue at a time: below the writer's batch size, so each chunk is
# one writer round, and small enough that the spool never holds much of an import.
CHUNK = 100_000
MAX_FIELD = 2048  # the live API's limit on paths and referrers


@dataclass
class FileResult:
    """What one import saw: lines read, pageviews handed to the writer, skips by reason."""

    lines: int = 0
    pageviews: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


@contextmanager
def open_log(name: str) -> Iterator[tuple[IO[str], Callable[[], int], int]]:
    """The text lines of ``name`` (``-`` = stdin; gzip recognised by its magic bytes), a
    function giving the bytes read so far, and the file's size (0 when unknown)."""
    if name == "-":
        stdin: Any = sys.stdin.buffer
        # A pipe's buffer can peek; anything else handed in as stdin is wrapped so it can.
        raw: io.BufferedReader = stdin if hasattr(stdin, "peek") else io.BufferedReader(stdin)
        size = 0
    else:
        raw = open(name, "rb")  # noqa: SIM115 - closed below
        size = raw.seek(0, io.SEEK_END)
        raw.seek(0)
    try:
        binary: IO[bytes] = raw
        if raw.peek(2)[:2] == b"\x1f\x8b":
            binary = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="\n")

        def done() -> int:
            try:
                return raw.tell()
            except OSError:  # a pipe
                return 0

        yield text, done, size
    finally:
        if name != "-":
            raw.close()


def file_prefix(site_id: str, first_line: str) -> str:
    """The first four groups of the file's event ids (UUID-shaped, as live ids are)."""
    h = hashlib.blake2b(f"{site_id}\0{first_line}".encode(), digest_size=10).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-%012x"


class AccessLogImport:
    """Turns log lines into spool records for one site and feeds them to the writer."""

    def __init__(self, feed: Feed, site: SiteInfo, fmt: str) -> None:
        self.feed, self.site, self.fmt = feed, site, fmt
        self.geo = GeoLookup(feed.settings.maxmind_db)
        self.rules = feed.sites.rules(site.id)
        self._salts: dict[int, bytes] = {}
        self._bots: dict[str, bool] = {}

    def _salt(self, day: int) -> bytes:
        """The salt of UTC day ``day``, the one live collection hashes that day's visitors with."""
        salt = self._salts.get(day)
        if salt is None:
            when = datetime.fromtimestamp(day * 86_400, UTC)
            salt = self._salts[day] = self.feed.salts.salts_for(when)[0]
        return salt

    def run(self, name: str, tick: Callable[[int, int, int], None] | None = None) -> FileResult:
        """Import one file; ``tick(lines, bytes done, bytes total)`` reports progress."""
        result = FileResult()
        with open_log(name) as (text, done, size):
            first = text.readline()
            if not first:
                return result
            self._lines(
                _chain(first, text),
                file_prefix(self.site.id, first.rstrip("\r\n")),
                result,
                tick,
                done,
                size,
            )
        return result

    def _lines(
        self,
        lines: Iterator[str],
        prefix: str,
        result: FileResult,
        tick: Callable[[int, int, int], None] | None,
        done: Callable[[], int],
        size: int,
    ) -> None:
        parse, verdict, skipped = parser_for(self.fmt), page_verdict, result.skipped
        site, rules, bots = self.site, self.rules, self._bots
        allow_headless = self.feed.settings.allow_headless
        default_host = site.domains[0] if site.domains else ""
        geo, encode, payloads = self.geo.lookup, ENCODER.encode, []
        last_key: tuple[str, str, int] = ("", "", -1)
        last_visitor = 0
        n = 0
        for n, line in enumerate(lines, 1):
            try:
                ip, ts, method, target, status, ref, ua, host, ctype = parse(line.rstrip("\r\n"))
            except BadLine:
                skipped["malformed"] += 1
                continue
            reason = verdict(method, target, status, ctype)
            if reason is not None:
                skipped[reason] += 1
                continue
            bot = bots.get(ua)
            if bot is None:
                if len(bots) > 50_000:
                    bots.clear()
                bot = bots[ua] = is_bot(ua, allow_headless=allow_headless)
            if bot:
                skipped["bot"] += 1
                continue
            if host and not host_allowed(host, site.domains):
                skipped["other_host"] += 1
                continue
            pathname, _, query = target.partition("?")
            pathname = pathname[:MAX_FIELD] or "/"
            if rules is not NO_RULES:
                excluded = rules.drop_reason(False, ip, pathname)
                if excluded is not None:
                    skipped[excluded] += 1
                    continue
            day = ts // DAY_MS
            key = (ua, ip, day)
            if key != last_key:  # consecutive hits of one visitor: hash once
                # The live pipeline's own definition (salts.visitor_hash), not a copy of it.
                last_key, last_visitor = key, visitor_hash(self._salt(day), site.id, ip, ua)
            country, region, city = geo(ip)
            payloads.append(
                encode(
                    SpoolRecord(
                        prefix % n,
                        site.id,
                        ts,
                        "pageview",
                        host or default_host,
                        pathname,
                        clean_query(query) if query else "",
                        ref[:MAX_FIELD],
                        ua,
                        last_visitor,
                        0,
                        "",
                        "",
                        "",
                        country,
                        region,
                        city,
                        "",
                        True,
                        {},
                    )
                )
            )
            if len(payloads) >= CHUNK:
                self.feed.put(payloads)
                result.pageviews += len(payloads)
                payloads = []
            if tick is not None and not n & 0x3FFF:
                tick(n, done(), size)
        self.feed.put(payloads)
        result.pageviews += len(payloads)
        result.lines = n
        if tick is not None:
            tick(n, done(), size)


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def rate(lines: int, started: float) -> float:
    return lines / max(time.perf_counter() - started, 1e-9)
