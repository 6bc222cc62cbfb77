"""The worker's rounds: take partitions (leases), store each one's next batch with the
same batch steps as the embedded writer, acknowledge, and wait when there is no backlog.

A round on partition ``k``: the batch in flight or new entries (``partition.py``);
records that cannot be stored count a failure each and, at ``max_failures``, move to the
dead-letter stream (``dlq.py``), otherwise the batch waits (exponential back-off, as for
a store that refuses it); then the batch steps run on the store and commit with the
batch's version, and only then is it acknowledged. ``stop`` (SIGTERM) lets the round
under way finish and acknowledge, then gives every lease back.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from footfall.ingest import batch as batch_steps
from footfall.ingest.enrich import Enricher
from footfall.queue.redis.partitions import as_progress, batch_version, stream_keys
from footfall.queue.redis.stream import parse_id
from footfall.store.base import EventStore, WriteBatch
from footfall.worker.dlq import DeadLetters
from footfall.worker.lease import Leases
from footfall.worker.partition import PartitionStream, problem_of

log = logging.getLogger("footfall.worker")
MAX_BACKOFF = 30.0
LAG_BUCKET_MS = 50  # queue lag is kept as a histogram of this resolution (mergeable)


@dataclass(slots=True)
class WorkerStats:
    events_written: int = 0
    duplicates_skipped: int = 0
    dropped: int = 0
    dead_lettered: int = 0
    batches: int = 0
    errors: int = 0
    # Queue lag of stored records: time from Redis's XADD (the stream id) to the commit,
    # as {bucket start ms: records}.
    lag_ms: dict[int, int] = field(default_factory=dict)

    def lag_percentile(self, q: float) -> float:
        total = sum(self.lag_ms.values())
        seen = 0
        for bucket in sorted(self.lag_ms):
            seen += self.lag_ms[bucket]
            if seen >= q * total:
                return (bucket + LAG_BUCKET_MS) / 1000
        return 0.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    partitions: int = 4
    batch_size: int = 150_000
    interval_ms: int = 750
    session_timeout_ms: int = 30 * 60_000
    allow_headless: bool = False
    lease_ms: int = 10_000
    claim_idle_ms: int = 30_000
    max_failures: int = 5
    retry_base_ms: int = 200


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Drains the partitions it holds into ``store``; ``run`` until ``stop``."""

    def __init__(
        self,
        url: str,
        prefix: str,
        store: EventStore,
        domains_of: Callable[[str], tuple[str, ...]],
        config: WorkerConfig = WorkerConfig(),
        *,
        consumer: str | None = None,
        scratch_dir: Path | None = None,
    ) -> None:
        self.store, self.config = store, config
        self.consumer = consumer or default_consumer()
        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=2)
        keys = stream_keys(prefix, config.partitions)
        self.streams = [
            PartitionStream(self.client, key, k, self.consumer, config.claim_idle_ms)
            for k, key in enumerate(keys)
        ]
        self.leases = Leases(self.client, prefix, self.consumer, config.partitions, config.lease_ms)
        self.dead = DeadLetters(self.client, prefix)
        self.enricher = Enricher(domains_of, allow_headless=config.allow_headless)
        directory = scratch_dir or Path(tempfile.mkdtemp(prefix="footfall-worker-"))
        self.scratch = directory / f"worker-{uuid.uuid4().hex[:8]}.jsonl"
        self.stats = WorkerStats()
        # A plain flag, not an Event: stop() runs in a signal handler, which must take no
        # lock (Event.set could wait for the lock its own thread holds in Event.wait).
        self.stopping = False
        self._failures: dict[int, int] = {}  # partition -> failed attempts in a row
        self._retry_at: dict[int, float] = {}
        self._per_entry = 100.0  # records per stream entry, as last seen (batch sizing)

    # ------------------------------------------------------------------ running

    def run(self) -> None:
        """Rounds until :meth:`stop`; then give the partitions back."""
        self.enricher.warm()
        down = False
        while not self.stopping:
            started = time.monotonic()
            try:
                _, full = self.cycle()
                down = False
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if not down:
                    log.warning("worker %s: redis unreachable (%s); retrying", self.consumer, exc)
                down = True
                self._pause(1.0)
                continue
            except Exception:
                # Whatever else went wrong (a Redis error reply, a bug) must not end the
                # process: what it held stays pending and the next cycle tries again.
                log.exception("worker %s: cycle failed; retrying", self.consumer)
                self.stats.errors += 1
                self._pause(1.0)
                continue
            if not full:
                self._pause(max(0.0, self.config.interval_ms / 1000 - (time.monotonic() - started)))
        self.shutdown()

    def stop(self) -> None:
        """Finish the round under way (stored and acknowledged), then stop."""
        self.stopping = True

    def _pause(self, seconds: float) -> None:
        """Sleep, in short steps, until ``seconds`` pass or :meth:`stop` is called."""
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.05, left))

    def shutdown(self) -> None:
        try:
            for k in sorted(self.leases.held):
                self.streams[k].leave()
            self.leases.release_all()
        except redis.RedisError as exc:
            log.warning("worker %s: leases left to expire (%s)", self.consumer, exc)
        self.client.close()
        self.scratch.unlink(missing_ok=True)

    def cycle(self) -> tuple[int, bool]:
        """One round on each partition held; records consumed, and whether some
        partition gave a full batch (a backlog: no wait before the next cycle)."""
        consumed, full = 0, False
        for k in sorted(self.leases.rebalance()):
            if self.stopping:
                break
            if not self.leases.still_held(k):
                continue
            n = self.round(k)
            consumed += n
            full = full or n >= self.config.batch_size
        return consumed, full

    # ------------------------------------------------------------------ one round

    def round(self, k: int) -> int:
        """Store partition ``k``'s next batch; records taken off the partition."""
        if time.monotonic() < self._retry_at.get(k, 0.0):
            return 0
        stream = self.streams[k]
        # Entries hold one request's records each: read about a batch's worth of them.
        entries = max(1, min(self.config.batch_size, int(self.config.batch_size / self._per_entry)))
        batch = stream.next_batch(entries)
        if not batch:
            return 0
        records = [
            (f"{entry_id}/{n}", entry_id, record)
            for entry_id, payload in batch
            for n, record in enumerate(payload.split(b"\n") if payload is not None else [None])
        ]
        self._per_entry = max(1.0, len(records) / len(batch))
        try:
            good, bad = self._set_aside(k, records)
            if good:
                self._store(k, batch[-1][0], good)
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except Exception as exc:
            self.stats.errors += 1
            log.error("worker %s: partition %d: batch failed (%s); retrying", self.consumer, k, exc)
            self._backoff(k)
            return 0
        self._failures.pop(k, None)
        stream.acknowledge([entry_id for entry_id, _ in batch])
        if bad:
            self.dead.forget(k, bad)
        return len(records)

    def _set_aside(
        self, k: int, records: list[tuple[str, str, bytes | None]]
    ) -> tuple[list[tuple[str, bytes]], list[str]]:
        """Split the batch's records into those the store can read, as ``(entry id,
        record)``, and the names of those it cannot. Each bad record counts a failure;
        at ``max_failures`` it is copied to the dead-letter stream (once) and left out.
        Raises while some bad record has failures left (the batch waits, backing off)."""
        bad = [(name, r, why) for name, _, r in records if (why := problem_of(r)) is not None]
        if bad:
            counts = self.dead.count_failures(k, [name for name, _, _ in bad])
            if min(counts) < self.config.max_failures:
                raise ValueError(f"{len(bad)} unreadable record(s), first {bad[0][0]}: {bad[0][2]}")
            moved = self.dead.move(
                k, [(n, r, w, c) for (n, r, w), c in zip(bad, counts, strict=True)]
            )
            if moved:
                self.stats.dead_lettered += moved
                log.error(
                    "worker %s: partition %d: %d record(s) moved to the dead-letter stream",
                    self.consumer,
                    k,
                    moved,
                )
        names = {name for name, _, _ in bad}
        good = [
            (entry_id, r) for name, entry_id, r in records if name not in names and r is not None
        ]
        return good, sorted(names)

    def _store(self, k: int, last_id: str, records: list[tuple[str, bytes]]) -> None:
        # The version comes from the batch's last entry, bad or not: the same batch
        # replayed has the same version, whatever records it leaves out.
        version = batch_version(parse_id(last_id), k)
        with self.scratch.open("wb") as out:
            for i in range(0, len(records), 8192):
                out.write(b"\n".join(r for _, r in records[i : i + 8192]) + b"\n")
        counts = batch_steps.write(
            self.store,
            WriteBatch(
                self.scratch,
                self.enricher,
                self.config.session_timeout_ms,
                as_progress(version),
                partition=k,
            ),
        )
        s = self.stats
        s.events_written += counts["inserted"]
        s.duplicates_skipped += counts["duplicates"]
        s.dropped += counts["dropped"]
        s.batches += 1
        now_ms = time.time() * 1000
        for entry_id, _ in records:
            lag = max(0.0, now_ms - int(entry_id.partition("-")[0]))
            bucket = int(lag // LAG_BUCKET_MS) * LAG_BUCKET_MS
            s.lag_ms[bucket] = s.lag_ms.get(bucket, 0) + 1

    def _backoff(self, k: int) -> None:
        n = self._failures.get(k, 0) + 1
        self._failures[k] = n
        wait = min(MAX_BACKOFF, self.config.retry_base_ms / 1000 * 2 ** (n - 1))
        self._retry_at[k] = time.monotonic() + wait
