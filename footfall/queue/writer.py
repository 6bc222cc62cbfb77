"""The batch writer: drains the queue into the event store by size and by interval.

One round reads up to ``batch_size`` durable records from the queue position the store
last committed and runs the batch steps (footfall/ingest/batch/: drop duplicates, enrich
through the ``Enricher``'s lookups for distinct values, drop bots and spam, assign visits)
on the store's batch target, which commits events, visits, drop counts and the queue's
new cursor together. Only then are the consumed records released from the queue. After a
crash the round simply runs again from the committed cursor: nothing acknowledged is lost
and nothing is written twice.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from footfall import tracing
from footfall.ingest import batch as batch_steps
from footfall.ingest.enrich import Enricher
from footfall.queue.base import Cursor, EventQueue
from footfall.store.base import EventStore, WriteBatch
from footfall.threadnames import name_this_thread

log = logging.getLogger("footfall.writer")

# A round costs a fixed 50-100 ms of CPU (some 30 statements planned and run) besides its
# per-event work, so how often rounds run decides what a quiet server costs: at 250 ms a
# site sending 5 events a second kept a third of a core busy (bench/light.py). Rounds
# therefore start 750 ms apart by default (the interval counts from a round's start, so a
# round's own time does not add to it): the fixed cost is paid at most 1.3 times a second,
# and an event is visible within about a second, leaving margin under the 2 s freshness
# target when other work (a rollups job folding a burst) slows the rounds. Under heavy
# load small rounds would also take CPU the requests need: once a round carries
# STRETCH_FROM records or more, a shorter configured interval is stretched so that the
# writer is busy at most 1/(1 + LOAD_FACTOR) of the time, which makes the next round
# bigger; but rounds never start more than MAX_PERIOD apart (unless the interval is
# longer), which keeps an acknowledged event's wait, its round included, well under 2 s.
STRETCH_FROM = 1000
LOAD_FACTOR = 4
MAX_PERIOD = 1.0


def next_wait(consumed: int, batch_size: int, round_seconds: float, interval: float) -> float:
    """Seconds to wait after a round before the next: none after a full round (a backlog),
    else what is left of the period between round starts, as explained above."""
    if consumed >= batch_size:
        return 0.0
    period = interval
    if consumed >= STRETCH_FROM:
        period = max(interval, min((1 + LOAD_FACTOR) * round_seconds, MAX_PERIOD))
    return max(0.0, period - round_seconds)


@dataclass(slots=True)
class WriterStats:
    events_written: int = 0
    duplicates_skipped: int = 0
    dropped: int = 0
    dropped_bot: int = 0  # of ``dropped``: bots and referrer spam (the rest lacked fields)
    dropped_referrer_spam: int = 0
    batches: int = 0
    last_batch_at: float = 0.0
    last_batch_seconds: float = 0.0
    errors: int = 0
    last_error_at: float = 0.0  # a round failed after the last one that committed: not ready


class Writer:
    """Moves events from the queue to the store on a background thread.

    ``scratch_dir`` holds the batch hand-over file (the data directory in ``serve``; a
    fresh temporary directory when not given).
    """

    def __init__(
        self,
        queue: EventQueue,
        store: EventStore,
        domains_of: Callable[[str], tuple[str, ...]],
        *,
        batch_size: int = 0,
        interval_ms: int = 750,
        session_timeout_ms: int = 30 * 60_000,
        allow_headless: bool = False,
        scratch_dir: Path | None = None,
    ) -> None:
        self.queue, self.store, self.domains_of = queue, store, domains_of
        # 0: the store's own round size (Capabilities.round_size)
        self.batch_size = batch_size or store.capabilities.round_size
        self.interval = interval_ms / 1000
        self.session_timeout_ms = session_timeout_ms
        self.enricher = Enricher(domains_of, allow_headless=allow_headless)
        if scratch_dir is None:
            scratch_dir = Path(tempfile.mkdtemp(prefix="footfall-writer-"))
        self.scratch = scratch_dir / "writer-batch.jsonl"
        self.stats = WriterStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        saved = store.read_progress()
        if saved is not None and saved > queue.end_position():
            # Progress past everything this queue ever held was made on another queue
            # (FOOTFALL_QUEUE_URL changed, or the spool directory was replaced): reading
            # from it would skip every record here for ever. Read them all instead; the
            # batch steps drop those the store already holds, by event id.
            log.warning(
                "store progress %s is past the queue's end %s: reading the queue from its start",
                saved,
                queue.end_position(),
            )
            saved = None
        self.position: Cursor = saved if saved else queue.first_position()
        # Records stored before a restart are released now, not after the next round: a
        # queue left full would otherwise refuse the events that round needs, for ever.
        queue.release(self.position)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="footfall-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after draining everything durable in the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            while self.run_once():
                pass
        except Exception as exc:
            # The queue or the store is unreachable: what is left stays queued (durable)
            # and the next start stores it; stopping must still close everything else.
            log.error("writer stopped before draining the queue (%s); the rest stays queued", exc)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every durable record is in the store (tests, shutdown, benches)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.read(self.position, 1)[0] == []:
                return True
            time.sleep(0.01)
        return False

    def lag(self) -> int:
        """Durable records not yet in the store."""
        return self.queue.depth(self.position)

    def _loop(self) -> None:
        name_this_thread()
        # The user-agent and crawler rules load here, before the first round, rather than
        # in start(): there they delayed the server's first /api/health by 0.5 s (2.4 s
        # at load average 13), a quarter of the 2 s start target (issue 25).
        self.enricher.warm()
        backoff = self.interval
        while not self._stop.is_set():
            try:
                n = self.run_once()
                backoff = self.interval
            except Exception:
                # The store refused the batch (its transaction rolled back): the records
                # stay in the queue and the same round is tried again later.
                log.exception("writer round failed; retrying")
                self.stats.errors += 1
                self.stats.last_error_at = time.time()
                backoff = min(backoff * 2, 5.0)
                self._stop.wait(backoff)
                continue
            if n == 0:
                try:
                    self.store.idle()
                except Exception as exc:
                    # The checkpoint fails while another write transaction is open (a
                    # rollup or retention job); the store stays dirty, the next idle
                    # round tries again. The writer thread must not die of it.
                    log.debug("writer idle checkpoint deferred: %s", exc)
            took = self.stats.last_batch_seconds if n else 0.0
            wait = next_wait(n, self.batch_size, took, self.interval)
            if wait:
                self._stop.wait(wait)

    def run_once(self) -> int:
        """One round; returns how many records were consumed from the queue."""
        # Records average well under 1 KiB; the byte cap only guards against huge ones.
        max_bytes = max(16 << 20, self.batch_size << 10)
        payloads, end = self.queue.read(self.position, self.batch_size, max_bytes)
        if not payloads:
            return 0
        started = time.perf_counter()
        # The store reads the batch as JSON lines; a scratch file in the data directory
        # (never a raw IP: queued records hold none) is the cheapest hand-over. Written in
        # slices, so a large batch is not copied whole once more.
        with self.scratch.open("wb") as out:
            for i in range(0, len(payloads), 8192):
                out.write(b"\n".join(payloads[i : i + 8192]) + b"\n")
        # The records are in the file now: a round of a bulk load holds ~60 MB of them,
        # which would otherwise stay in Python's heap beside DuckDB's work for the round.
        records = len(payloads)
        del payloads
        try:
            with tracing.round_span(records):
                counts = batch_steps.write(
                    self.store,
                    WriteBatch(self.scratch, self.enricher, self.session_timeout_ms, end),
                )
        finally:
            # A full round's hand-over file is ~60 MB: not left lying in the data directory.
            self.scratch.unlink(missing_ok=True)
        self.position = end
        self.queue.release(end)
        s = self.stats
        s.events_written += counts["inserted"]
        s.duplicates_skipped += counts["duplicates"]
        s.dropped += counts["dropped"]
        s.dropped_bot += counts.get("dropped_bot", 0)
        s.dropped_referrer_spam += counts.get("dropped_referrer_spam", 0)
        s.batches += 1
        s.last_batch_at = time.time()
        s.last_batch_seconds = time.perf_counter() - started
        round_ = {"records": records, "inserted": counts["inserted"],
                  "duplicates": counts["duplicates"], "dropped": counts["dropped"],
                  "duration_ms": round(s.last_batch_seconds * 1000, 1)}  # fmt: skip
        log.info("writer round", extra={"fields": round_})
        return records
