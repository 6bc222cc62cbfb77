"""``footfall import access-log``: pageviews from web server logs, as live collection makes them.

Each log line that is a page view (:func:`~footfall.imports.accesslog.formats.page_verdict`,
not a bot, not excluded by the site's own rules) becomes the spool record the live
pipeline would have made of a server-side pageview, and goes through the same batch
steps: in large rounds straight to the store (:mod:`footfall.imports.bulk`), or, when
``footfall worker`` processes drain the queue, through the queue
(:mod:`footfall.imports.feed`):

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

import pyarrow as pa
import pyarrow.compute as pc

from footfall.imports.accesslog.hits import BlockParser
from footfall.imports.accesslog.reader import LineRules, PageReader, records, salts_of
from footfall.imports.bulk import BulkLoad
from footfall.imports.feed import Feed
from footfall.memory import keep_pandas_out
from footfall.meta.repo import SiteInfo

# Records handed to the queue at a time (the workers' shape): below the writer's batch
# size, so each chunk is one writer round, and the spool never holds much of an import.
CHUNK = 100_000
# Bytes read at a time (then cut at the last line end): large, so Arrow's work per call
# outweighs the call; small enough that a block's columns stay a few tens of MB.
BLOCK_BYTES = 1 << 23
# Lines per piece at most (a block is parsed and judged a piece at a time): the progress
# bar's step.
PIECE = 1 << 17


@dataclass
class FileResult:
    """What one import saw: lines read, pageviews handed to the writer, skips by reason."""

    lines: int = 0
    pageviews: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


@contextmanager
def open_log(name: str) -> Iterator[tuple[IO[bytes], Callable[[], int], int]]:
    """The bytes of ``name`` (``-`` = stdin; gzip recognised by its magic bytes, and read
    uncompressed), a function giving the bytes read so far, and the file's size (0 when
    unknown)."""
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

        def done() -> int:
            try:
                return raw.tell()
            except OSError:  # a pipe
                return 0

        yield binary, done, size
    finally:
        if name != "-":
            raw.close()


def line_blocks(binary: IO[bytes]) -> Iterator[pa.Array]:
    """The lines of ``binary`` (UTF-8, undecodable bytes replaced; split at "\\n" only,
    line ends and trailing "\\r" removed, as ``str.rstrip("\\r\\n")`` of a text file's lines),
    as Arrow string arrays of a block of bytes each."""
    rest = b""
    while chunk := binary.read(BLOCK_BYTES):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest = chunk
            continue
        rest = chunk[cut + 1 :]
        yield _lines(chunk[:cut])
    if rest:
        yield _lines(rest)


def _lines(data: bytes) -> pa.Array:
    # A block ends at a line end, so no character is cut in two. Valid UTF-8 goes to Arrow
    # as it is (checked there); only a block with bad bytes is decoded with replacements.
    try:
        text = pa.array([data], pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        text = pa.array([data.decode("utf-8", errors="replace")], pa.string())
    lines = pc.split_pattern(text, "\n")[0].values
    return pc.utf8_rtrim(lines, "\r") if b"\r" in data else lines


def file_prefix(site_id: str, first_line: str) -> str:
    """The first four groups of the file's event ids (UUID-shaped, as live ids are)."""
    h = hashlib.blake2b(f"{site_id}\0{first_line}".encode(), digest_size=10).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-%012x"


class AccessLogImport:
    """Reads log lines into page views for one site and hands them on: as Arrow tables to
    a bulk load (:mod:`footfall.imports.bulk`) when this process stores them, else as
    spool records to the queue ``footfall worker`` processes drain."""

    def __init__(self, feed: Feed, site: SiteInfo, fmt: str) -> None:
        self.feed, self.site = feed, site
        # pyarrow imports pandas (0.3-0.5 CPU s before the first round) on its first list
        # conversion, only to ask whether the list is a pandas object: none an import makes is.
        keep_pandas_out()
        self.how = LineRules(
            site,
            feed.sites.rules(site.id),
            fmt,
            feed.settings.allow_headless,
            feed.settings.maxmind_db,
        )
        self.reader = PageReader(self.how, salts_of(feed.salts))

    def run(self, name: str, tick: Callable[[int, int, int], None] | None = None) -> FileResult:
        """Import one file; ``tick(lines, bytes done, bytes total)`` reports progress."""
        result = FileResult()
        bulk: BulkLoad[pa.Table] | None = None
        if self.feed.writer is not None:
            bulk = BulkLoad(self.feed, pa.concat_tables)
        parse = BlockParser(self.how.fmt)
        try:
            with open_log(name) as (binary, done, size):
                prefix = ""
                batch: list[bytes] = []
                for block in line_blocks(binary):
                    if not prefix:
                        prefix = file_prefix(self.site.id, block[0].as_py())
                    for at in range(0, len(block), PIECE):
                        piece = block.slice(at, PIECE)
                        hits, bad = parse(piece, result.lines + 1)
                        result.lines += len(piece)
                        result.skipped["malformed"] += bad
                        pages = self.reader.pages(hits, prefix, result.skipped)
                        result.pageviews += pages.num_rows
                        if bulk is not None:
                            bulk.add(pages, pages.num_rows)
                        else:
                            batch += records(pages)
                            if len(batch) >= CHUNK:
                                self.feed.put(batch)
                                batch = []
                        if tick is not None:
                            tick(result.lines, done(), size)
                self.feed.put(batch)
        finally:
            if bulk is not None:
                bulk.finish()
        if not result.skipped["malformed"]:
            del result.skipped["malformed"]
        return result


def rate(lines: int, started: float) -> float:
    return lines / max(time.perf_counter() - started, 1e-9)
