"""One partition stream as a worker reads it: which batch comes next, which records in
it cannot be stored, and acknowledging and trimming once a batch is in the store.

A partition has at most one batch in flight: a worker reads new entries only when none
of the partition's entries is pending, and acknowledges a whole batch after the store
committed it. So the pending entries, when there are any, are exactly one batch that was
read and not (or not known to be) stored: the worker's own (its acknowledgement failed,
or it restarted under the same name) or a dead worker's, claimed (``XAUTOCLAIM``) once it
has been idle for the claim timeout, so that a slow but living worker can still finish
it. That batch is replayed whole before anything newer, with the same last id and so the
same version: the store writes a replayed batch exactly once (ClickHouse by deduplication
tokens and row positions, DuckDB in one transaction with event-id deduplication).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import msgspec
import redis

from footfall.ingest.record import DECODER
from footfall.queue.redis.append import FIELD
from footfall.queue.redis.partitions import GROUP
from footfall.queue.redis.stream import ensure_group, trim_acknowledged

log = logging.getLogger("footfall.worker")

Entry = tuple[str, bytes | None]  # stream id, payload (None: the entry no longer exists)
_CHUNK = 10_000
_U64 = 1 << 64
_MAX_TS = 1 << 43  # about the year 2248: beyond it a timestamp is garbage, not an event
# The form collection writes: matched in a fraction of what uuid.UUID costs (1.6 µs, a
# third of the whole check); any other spelling still goes to uuid.UUID.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


Key = tuple[str, int]  # a record's site and visitor: which partition's rows it makes


def examine(payload: bytes | None) -> str | Key:
    """Why the batch steps could not store this record, or its site and visitor when they
    can: the checks the store's own reader would fail on, made first so that one bad
    record does not hold back the rest of its batch."""
    if payload is None:
        return "entry has no event"
    try:
        r = DECODER.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return f"not an event record: {exc}"
    if _CANONICAL_UUID.fullmatch(r.event_id) is None:
        try:
            uuid.UUID(r.event_id)
        except ValueError:
            return "event_id is not a UUID"
    if not 0 <= r.ts < _MAX_TS:
        return "ts out of range"
    if not (0 <= r.visitor_id < _U64 and 0 <= r.session_id < _U64):
        return "visitor_id or session_id out of range"
    return r.site_id, r.visitor_id


def problem_of(payload: bytes | None) -> str | None:
    """Why the batch steps could not store this record, or None when they can."""
    found = examine(payload)
    return found if isinstance(found, str) else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PartitionStream:
    """Partition ``partition`` (stream ``key``) as read by ``consumer``."""

    def __init__(
        self, client: redis.Redis, key: str, partition: int, consumer: str, claim_idle_ms: int
    ) -> None:
        self.client, self.key, self.partition = client, key, partition
        self.consumer, self.claim_idle_ms = consumer, claim_idle_ms
        self._ready = False

    def next_batch(self, count: int) -> list[Entry] | None:
        """The batch to store now, oldest first: the one in flight if there is one, else
        up to ``count`` new entries ([] when there are none). None: another worker's batch
        is in flight and not yet idle long enough to claim; wait."""
        try:
            return self._next_batch(count)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The stream or its group is gone (a Redis restarted without its data, a key
            # deleted): made again, the next round reads what arrives now.
            log.warning("partition %s: consumer group recreated", self.key)
            self._ready = False
            return []

    def _next_batch(self, count: int) -> list[Entry] | None:
        if not self._ready:
            ensure_group(self.client, self.key, GROUP)
            self._ready = True
        summary: Any = self.client.xpending(self.key, GROUP)
        if not summary["pending"]:
            return self._read(">", count)
        others = [c for c in summary["consumers"] if _text(c["name"]) != self.consumer]
        if others:
            self._claim()
            summary = self.client.xpending(self.key, GROUP)
            if any(_text(c["name"]) != self.consumer for c in summary["consumers"]):
                return None
        return self._read("0", None)

    def _read(self, after: str, count: int | None) -> list[Entry]:
        reply: Any = self.client.xreadgroup(GROUP, self.consumer, {self.key: after}, count=count)
        if not reply:
            return []
        rows = next(iter(reply.values()))[0] if isinstance(reply, dict) else reply[0][1]
        return [(_text(i), (f or {}).get(FIELD)) for i, f in rows]

    def _claim(self) -> None:
        """Take over the pending entries of other consumers idle for the claim timeout."""
        start = "0-0"
        while True:
            reply: Any = self.client.xautoclaim(
                self.key, GROUP, self.consumer, self.claim_idle_ms, start, count=_CHUNK
            )  # fmt: skip  (not justid: redis-py drops the next cursor then)
            start = _text(reply[0])
            if reply[1]:
                log.warning(
                    "partition %s: reclaimed %d entries of a stopped worker",
                    self.key,
                    len(reply[1]),
                )
            if start == "0-0":
                return

    def leave(self) -> None:
        """Shutdown with nothing in flight: remove this consumer from the group (a
        consumer still holding entries is kept, so that they can be claimed)."""
        for c in self.client.xinfo_consumers(self.key, GROUP):
            if _text(c["name"]) == self.consumer and not c["pending"]:
                self.client.xgroup_delconsumer(self.key, GROUP, self.consumer)

    def acknowledge(self, ids: list[str]) -> None:
        """The batch is in the store: acknowledge it (oldest first, so that an
        interrupted acknowledgement leaves the batch's tail, with its last id) and trim
        what every group has acknowledged."""
        for i in range(0, len(ids), _CHUNK):
            self.client.xack(self.key, GROUP, *ids[i : i + _CHUNK])
        trim_acknowledged(self.client, self.key)
