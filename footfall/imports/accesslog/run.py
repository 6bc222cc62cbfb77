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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import duckdb

from footfall.imports.accesslog import steps
from footfall.imports.accesslog.columns import load_hits
from footfall.imports.accesslog.formats import FORMATS
from footfall.imports.feed import Feed
from footfall.ingest.geo import GeoLookup
from footfall.meta.repo import SiteInfo
from footfall.meta.salts import visitor_hash

# Text read at a time: ~100,000 lines of a typical log. Each block's pageviews (fewer) are
# one writer round, and the spool never holds much of an import.
BLOCK_CHARS = 20 << 20


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
    """Turns log lines into spool records for one site and feeds them to the writer, a
    chunk of lines at a time (:mod:`~footfall.imports.accesslog.columns`, then
    :mod:`~footfall.imports.accesslog.steps`)."""

    def __init__(self, feed: Feed, site: SiteInfo, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        self.feed, self.site, self.fmt = feed, site, fmt
        self.geo = GeoLookup(feed.settings.maxmind_db)
        self.rules = feed.sites.rules(site.id)
        self._salts: dict[int, bytes] = {}
        self._visitors: dict[tuple[int, str, str], int] = {}
        # The import's own engine: the store's connection stays the writer's.
        self.db = duckdb.connect()

    def close(self) -> None:
        self.db.close()

    def _salt(self, day: int) -> bytes:
        """The salt of UTC day ``day``, the one live collection hashes that day's visitors with."""
        salt = self._salts.get(day)
        if salt is None:
            when = datetime.fromtimestamp(day * 86_400, UTC)
            salt = self._salts[day] = self.feed.salts.salts_for(when)[0]
        return salt

    def _visitor(self, day: int, ip: str, user_agent: str) -> int:
        key = (day, ip, user_agent)
        found = self._visitors.get(key)
        if found is None:
            if len(self._visitors) > 200_000:  # a visitor's hits are close together
                self._visitors.clear()
            # The live pipeline's own definition (salts.visitor_hash), not a copy of it.
            found = visitor_hash(self._salt(day), self.site.id, ip, user_agent)
            self._visitors[key] = found
        return found

    def run(self, name: str, tick: Callable[[int, int, int], None] | None = None) -> FileResult:
        """Import one file; ``tick(lines, bytes done, bytes total)`` reports progress."""
        result = FileResult()
        with open_log(name) as (text, done, size):
            first = text.readline()
            if not first:
                return result
            prefix = file_prefix(self.site.id, first.rstrip("\r\n"))
            for lines in _blocks(first, text):
                self._chunk(lines, result.lines + 1, prefix, result)
                result.lines += len(lines)
                if tick is not None:
                    tick(result.lines, done(), size)
        return result

    def _chunk(self, lines: list[str], first: int, prefix: str, result: FileResult) -> None:
        site, db = self.site, self.db
        load_hits(db, self.fmt, lines, first)
        steps.judge(db, site.domains, self.rules, self.feed.settings.allow_headless)
        result.skipped.update(steps.skips(db))
        default_host = site.domains[0] if site.domains else ""
        payloads = steps.records(db, site.id, default_host, prefix, self._visitor, self.geo.lookup)
        self.feed.put(payloads)
        result.pageviews += len(payloads)


def _blocks(first: str, rest: IO[str]) -> Iterator[list[str]]:
    """The file's lines without their newlines, a block of text at a time (one C split
    a block; a per-line read would cost more than reading the line)."""
    carry = first
    while block := rest.read(BLOCK_CHARS):
        lines = (carry + block).split("\n")
        carry = lines.pop()
        yield lines
    if carry:
        yield [carry.removesuffix("\n")]  # the first line alone, or a last one without "\n"
