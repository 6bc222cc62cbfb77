"""The dead-letter stream ``<prefix>dead``: records no batch could store, kept for an
operator (``footfall queue dlq list|retry|purge``) instead of blocking their partition.

A record that fails the worker's check (:func:`footfall.worker.partition.problem_of`)
counts one failure per delivery in the hash ``<prefix>failures``; its batch is retried
after a back-off. At the configured number of failures it is copied here (once: marked in
``<prefix>failures:moved``) and left out of its batch, whose other records are stored;
the stream entry holding it is acknowledged with the batch. ``retry`` puts records back into their
partitions (after a fix, say a newer worker that reads them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from footfall.queue.redis.append import FIELD
from footfall.queue.redis.partitions import dead_letter_key, partition_of, stream_keys


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str  # its id in the dead-letter stream
    partition: int
    source_id: str  # where it was: "<entry id>/<index>" in its partition stream
    error: str
    failures: int
    payload: bytes


class DeadLetters:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self.key = dead_letter_key(prefix)
        self.failures_key = prefix + "failures"
        self.moved_key = prefix + "failures:moved"

    def count_failures(self, partition: int, ids: list[str]) -> list[int]:
        """One more failed delivery for each of ``ids``; their failure counts now."""
        pipe = self.client.pipeline(transaction=False)
        for i in ids:
            pipe.hincrby(self.failures_key, f"{partition}:{i}", 1)
        return [int(n) for n in pipe.execute()]

    def move(self, partition: int, dead: list[tuple[str, bytes | None, str, int]]) -> int:
        """Copy ``(name, record, error, failures)`` records here, each once (a replayed
        batch finds them marked); returns how many were copied now. They leave their
        partition with their batch's acknowledgement (:meth:`forget` then)."""
        pipe = self.client.pipeline(transaction=False)
        for name, *_ in dead:
            pipe.hexists(self.moved_key, f"{partition}:{name}")
        fresh = [d for d, seen in zip(dead, pipe.execute(), strict=True) if not seen]
        if not fresh:
            return 0
        pipe = self.client.pipeline(transaction=True)
        for name, record, error, failures in fresh:
            pipe.xadd(
                self.key,
                {
                    FIELD: record or b"", "partition": partition, "source_id": name,
                    "error": error[:500], "failures": failures, "at": int(time.time()),
                },
            )  # fmt: skip
            pipe.hset(self.moved_key, f"{partition}:{name}", 1)
        pipe.execute()
        return len(fresh)

    def forget(self, partition: int, names: list[str]) -> None:
        """The batch holding these records was acknowledged: drop their counts."""
        fields = [f"{partition}:{n}" for n in names]
        pipe = self.client.pipeline(transaction=False)
        pipe.hdel(self.failures_key, *fields)
        pipe.hdel(self.moved_key, *fields)
        pipe.execute()

    def letters(self, count: int = 100) -> list[DeadLetter]:
        rows: Any = self.client.xrange(self.key, count=count)
        return [_letter(i, f) for i, f in rows]

    def size(self) -> int:
        return int(self.client.xlen(self.key))

    def retry(self, ids: list[str] | None, partitions: int) -> int:
        """Put the named letters (all when ``ids`` is None) back into their partitions
        (by their site and visitor under today's partition count); returns how many."""
        letters = self._select(ids)
        keys = stream_keys(self.prefix, partitions)
        pipe = self.client.pipeline(transaction=True)
        for letter in letters:
            pipe.xadd(keys[partition_of(letter.payload, partitions)], {FIELD: letter.payload})
            pipe.xdel(self.key, letter.id)
        pipe.execute()
        return len(letters)

    def purge(self, ids: list[str] | None) -> int:
        """Delete the named letters (all when ``ids`` is None); returns how many."""
        if ids is None:
            n = self.size()
            self.client.delete(self.key)
            return n
        return int(self.client.xdel(self.key, *ids)) if ids else 0

    def _select(self, ids: list[str] | None) -> list[DeadLetter]:
        if ids is None:
            rows: Any = self.client.xrange(self.key)
            return [_letter(i, f) for i, f in rows]
        out = []
        for i in ids:
            rows = self.client.xrange(self.key, i, i)
            out += [_letter(r, f) for r, f in rows]
        return out


def _letter(raw_id: Any, fields: dict[bytes, bytes]) -> DeadLetter:
    def text(name: bytes) -> str:
        return fields.get(name, b"").decode(errors="replace")

    return DeadLetter(
        id=raw_id.decode() if isinstance(raw_id, bytes) else raw_id,
        partition=int(text(b"partition") or 0),
        source_id=text(b"source_id"),
        error=text(b"error"),
        failures=int(text(b"failures") or 0),
        payload=fields.get(FIELD.encode() if isinstance(FIELD, str) else FIELD, b""),
    )
