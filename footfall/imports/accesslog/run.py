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

Which lines are page views and what record each becomes is :mod:`.reader`'s.
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
from typing import IO, Any

from footfall.imports.accesslog.reader import LineRules, read_records, salts_of
from footfall.imports.feed import Feed
from footfall.meta.repo import SiteInfo

# Records handed to the queue at a time: below the writer's batch size, so each chunk is
# one writer round, and small enough that the spool never holds much of an import.
CHUNK = 100_000


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
        self.feed, self.site = feed, site
        self.how = LineRules(
            site,
            feed.sites.rules(site.id),
            fmt,
            feed.settings.allow_headless,
            feed.settings.maxmind_db,
        )
        self._salt = salts_of(feed.salts)

    def run(self, name: str, tick: Callable[[int, int, int], None] | None = None) -> FileResult:
        """Import one file; ``tick(lines, bytes done, bytes total)`` reports progress."""
        result = FileResult()
        with open_log(name) as (text, done, size):
            first = text.readline()
            if not first:
                return result
            prefix = file_prefix(self.site.id, first.rstrip("\r\n"))
            lines = _chain(first, text)
            batch: list[bytes] = []
            for payloads, n in read_records(lines, prefix, self.how, self._salt, result.skipped):
                batch += payloads
                if len(batch) >= CHUNK:
                    self._put(batch, result)
                    batch = []
                result.lines = n
                if tick is not None:
                    tick(n, done(), size)
            self._put(batch, result)
        return result

    def _put(self, payloads: list[bytes], result: FileResult) -> None:
        self.feed.put(payloads)
        result.pageviews += len(payloads)


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def rate(lines: int, started: float) -> float:
    return lines / max(time.perf_counter() - started, 1e-9)
