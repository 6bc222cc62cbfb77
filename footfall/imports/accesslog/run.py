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
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from footfall.imports.accesslog.reader import LineRules, Pages, Visitors, read_pages, salts_of
from footfall.imports.bulk import BulkLoad
from footfall.imports.feed import Feed
from footfall.meta.repo import SiteInfo

if TYPE_CHECKING:
    import pyarrow as pa

# Records handed to the queue at a time (the workers' shape): below the writer's batch
# size, so each chunk is one writer round, and the spool never holds much of an import.
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
    """Reads log lines into page views for one site and hands them on: as Arrow tables to
    a bulk load (:mod:`footfall.imports.bulk`) when this process stores them, else as
    spool records to the queue ``footfall worker`` processes drain."""

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
        bulk: BulkLoad[tuple[Pages, str]] | None = None
        if self.feed.writer is not None:
            site_id = self.site.id
            bulk = BulkLoad(self.feed, lambda pieces: pages_table(pieces, site_id))
        try:
            with open_log(name) as (text, done, size):
                first = text.readline()
                if not first:
                    return result
                prefix = file_prefix(self.site.id, first.rstrip("\r\n"))
                lines = _chain(first, text)
                batch: list[bytes] = []
                for pages, n in read_pages(lines, self.how, self._salt, result.skipped):
                    result.pageviews += len(pages)
                    if bulk is not None:
                        bulk.add((pages, prefix), len(pages))
                    else:
                        batch += pages.records(prefix, self.site.id)
                        if len(batch) >= CHUNK:
                            self.feed.put(batch)
                            batch = []
                    result.lines = n
                    if tick is not None:
                        tick(n, done(), size)
                self.feed.put(batch)
        finally:
            if bulk is not None:
                bulk.finish()
        return result


def pages_table(pieces: list[tuple[Pages, str]], site_id: str) -> pa.Table:
    """The spool record's columns (``RECORD_COLUMNS``) of the page views in ``pieces``
    (each with its file's event id prefix)."""
    import pyarrow as pa

    text = pa.string()
    ids: list[str] = []
    # Each visitor's columns converted once (per Visitors the pieces point to), then one
    # take per column: a Python lookup per page view and column costs far more. Pieces
    # pointing to one Visitors are consecutive (the reader replaces it, never returns to
    # it), so the takes, in the order first seen, are the page views in order.
    whose: dict[int, tuple[Visitors, list[int]]] = {}
    for pages, prefix in pieces:
        ids += [prefix % i for i in pages.line]
        whose.setdefault(id(pages.visitors), (pages.visitors, []))[1].extend(pages.who)
    kinds = {"user_agent": text, "visitor_id": pa.uint64(), "country": text, "region": text,
             "city": text}  # fmt: skip
    columns = {
        name: pa.chunked_array(
            [_array(getattr(vis, name), kind).take(pa.array(who, pa.int64()))
             for vis, who in whose.values()],
            kind,
        )
        for name, kind in kinds.items()
    }  # fmt: skip
    n = len(ids)

    def cat(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array([x for pages, _ in pieces for x in getattr(pages, name)], kind)

    blank = pa.array([""] * n, text)
    # n empty maps: offsets all zero (a list of n empty dicts costs 3 µs a row).
    no_props = pa.MapArray.from_arrays(
        pa.array([0] * (n + 1), pa.int32()), pa.array([], text), pa.array([], text)
    )
    return pa.table(
        {
            "event_id": pa.array(ids, text),
            "site_id": pa.array([site_id] * n, text),
            "ts": cat("ts", pa.int64()),
            "name": pa.array(["pageview"] * n, text),
            "hostname": cat("hostname", text),
            "pathname": cat("pathname", text),
            "url_query": cat("url_query", text),
            "referrer": cat("referrer", text),
            "user_agent": columns["user_agent"],
            "visitor_id": columns["visitor_id"],
            "session_id": pa.array([0] * n, pa.uint64()),
            "user_id": blank,
            "screen": blank,
            "language": blank,
            "country": columns["country"],
            "region": columns["region"],
            "city": columns["city"],
            "title": blank,
            "interactive": pa.array([True] * n, pa.bool_()),
            "props": no_props,
            "revenue": pa.nulls(n, pa.float64()),
            "duration_ms": pa.nulls(n, pa.int64()),
            "load_time_ms": pa.nulls(n, pa.int64()),
            "scroll_depth": pa.nulls(n, pa.int64()),
        }
    )


def _array(values: list[Any], kind: pa.DataType) -> pa.Array:
    import pyarrow as pa

    if kind != pa.uint64():
        return pa.array(values, kind)
    # Through a C array: Arrow converts Python ints of 2**63 and above at 8 µs each.
    words = array("Q", values)
    return pa.Array.from_buffers(kind, len(words), [None, pa.py_buffer(words)])


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def rate(lines: int, started: float) -> float:
    return lines / max(time.perf_counter() - started, 1e-9)
