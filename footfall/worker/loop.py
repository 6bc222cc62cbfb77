"""The worker's rounds: take partitions (leases), store the next batch of every partition
held in one store round with the same batch steps as the embedded writer, acknowledge,
and wait when there is no backlog.

A round: each partition's batch in flight or new entries (``partition.py``); records
that cannot be stored count a failure each and, at ``max_failures``, move to the
dead-letter stream (``dlq.py``), otherwise that partition's batch waits (exponential
back-off, as for a store that refuses it) and the others go on; then the batch steps run
once on the store over all the batches, which commits each partition's rows with that
partition's batch version (``Shares``: a round of several partitions costs the store's
fixed cost once, yet each partition commits as if alone, so a crashed round's partitions
can be replayed by different workers), and only then is each batch acknowledged.
``stop`` (SIGTERM) lets the round under way finish and acknowledge, then gives every
lease back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import redis

from footfall.ingest import batch as batch_steps
from footfall.ingest.enrich import Enricher
from footfall.queue.redis.partitions import stream_keys
from footfall.store.base import EventStore, WriteBatch
from footfall.worker.dlq import DeadLetters
from footfall.worker.lease import LeaseLost, Leases
from footfall.worker.partition import Entry, Key, PartitionStream, examine
from footfall.worker.rounds import LAG_BUCKET_MS, WorkerStats, round_positions

__all__ = ["LAG_BUCKET_MS", "Worker", "WorkerConfig", "WorkerStats", "default_consumer"]

log = logging.getLogger("footfall.worker")
MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    partitions: int = 4
    batch_size: int = 0  # most records a round stores; 0: the store's (Capabilities.round_size)
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
        if not config.batch_size:
            config = replace(config, batch_size=store.capabilities.round_size)
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
        self._own_dir = scratch_dir is None  # made here: removed again at shutdown
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
        if self._own_dir:
            with contextlib.suppress(OSError):
                self.scratch.parent.rmdir()

    def cycle(self) -> tuple[int, bool]:
        """One round over the partitions held; records consumed, and whether some
        partition gave a full batch (a backlog: no wait before the next cycle)."""
        held = sorted(self.leases.rebalance())  # renews each lease held, just before reading
        now = time.monotonic()
        # Entries hold one request's records each: read about a batch's worth of them,
        # shared out over the partitions.
        per_entry = self.config.batch_size / self._per_entry / max(1, len(held))
        count = max(1, min(self.config.batch_size, int(per_entry)))
        taken: list[tuple[int, list[Entry], list[tuple[str, int, bytes | None]]]] = []
        full = False
        for k in held:
            if self.stopping:
                break
            if now < self._retry_at.get(k, 0.0) or not self.leases.still_held(k):
                continue
            batch = self.streams[k].next_batch(count)
            if not batch:
                continue
            full = full or len(batch) >= count
            # (entry id, record's place in the entry, record): the dead-letter name
            # "<entry id>/<place>" is made only for a record that needs one.
            records = [
                (entry_id, n, record)
                for entry_id, payload in batch
                for n, record in enumerate(payload.split(b"\n") if payload is not None else [None])
            ]
            taken.append((k, batch, records))
        if not taken:
            return 0, False
        self._per_entry = max(
            1.0, sum(len(r) for *_, r in taken) / sum(len(b) for _, b, _ in taken)
        )
        return self.round(taken), full

    # ------------------------------------------------------------------ one round

    def round(
        self, taken: list[tuple[int, list[Entry], list[tuple[str, int, bytes | None]]]]
    ) -> int:
        """Store the batches ``taken`` (partition, entries, records) in one store round and
        acknowledge them; records taken off the partitions."""
        ready: list[tuple[int, list[Entry], list[tuple[str, bytes, Key]], list[str]]] = []
        for k, batch, records in taken:
            try:
                good, bad = self._set_aside(k, records)
            except (redis.ConnectionError, redis.TimeoutError):
                raise
            except Exception as exc:
                self._failed([k], exc)
                continue
            ready.append((k, batch, good, bad))
        if not ready:
            return 0
        try:
            if any(good for _, _, good, _ in ready):
                self._store([(k, batch[-1][0], good) for k, batch, good, _ in ready])
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except LeaseLost as exc:
            # Stalled past a lease: another worker owns the partition now and replays the
            # batch; nothing of this round was committed, and nothing is acknowledged.
            self.stats.fenced += 1
            log.warning("worker %s: round refused: %s", self.consumer, exc)
            return 0
        except Exception as exc:
            self._failed([k for k, *_ in ready], exc)
            return 0
        consumed = 0
        for k, batch, _, bad in ready:
            self._failures.pop(k, None)
            self.streams[k].acknowledge([entry_id for entry_id, _ in batch])
            if bad:
                self.dead.forget(k, bad)
            consumed += next(len(r) for kk, _, r in taken if kk == k)
        return consumed

    def _failed(self, partitions: list[int], exc: Exception) -> None:
        self.stats.errors += 1
        which = ",".join(map(str, partitions))
        log.error(
            "worker %s: partition(s) %s: batch failed (%s); retrying", self.consumer, which, exc
        )
        for k in partitions:
            self._backoff(k)

    def _set_aside(
        self, k: int, records: list[tuple[str, int, bytes | None]]
    ) -> tuple[list[tuple[str, bytes, Key]], list[str]]:
        """Split the batch's records into those the store can read, as ``(entry id,
        record, its site and visitor)``, and the names of those it cannot. Each bad record
        counts a failure; at ``max_failures`` it is copied to the dead-letter stream
        (once) and left out. Raises while some bad record has failures left (the batch
        waits, backing off)."""
        checked = [(entry_id, n, r, examine(r)) for entry_id, n, r in records]
        bad = [(f"{e}/{n}", r, why) for e, n, r, why in checked if isinstance(why, str)]
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
        good = [
            (entry_id, r, key)
            for entry_id, _, r, key in checked
            if r is not None and not isinstance(key, str)
        ]
        return good, sorted(name for name, _, _ in bad)

    def _store(self, parts: list[tuple[int, str, list[tuple[str, bytes, Key]]]]) -> None:
        """One store round over ``(partition, last entry id, records)`` batches."""
        # A batch's version comes from its last entry, bad or not: the same batch
        # replayed has the same version, whatever records it leaves out.
        progress, shares = round_positions(parts)
        with self.scratch.open("wb") as out:
            for _, _, records in parts:
                for i in range(0, len(records), 8192):
                    out.write(b"\n".join(r for _, r, _ in records[i : i + 8192]) + b"\n")
        fence = self.leases.fence_for([k for k, _, _ in parts])
        with self.leases.renewing(fence):
            counts = batch_steps.write(
                self.store,
                WriteBatch(
                    self.scratch,
                    self.enricher,
                    self.config.session_timeout_ms,
                    progress,
                    # A round of one partition commits as that partition's; of several,
                    # per share.
                    partition=parts[0][0] if shares is None else 0,
                    shares=shares,
                    fence=fence,
                ),
            )
        self.stats.count_round(counts, [e for _, _, records in parts for e, _, _ in records])

    def _backoff(self, k: int) -> None:
        n = self._failures.get(k, 0) + 1
        self._failures[k] = n
        wait = min(MAX_BACKOFF, self.config.retry_base_ms / 1000 * 2 ** (n - 1))
        self._retry_at[k] = time.monotonic() + wait
