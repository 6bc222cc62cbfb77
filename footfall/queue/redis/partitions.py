"""How the Redis queue is laid out: partition streams, keys, and a batch's version.

Events are spread over ``n`` streams by a hash of site and visitor, so that every event
of one visitor travels through one stream and one ``footfall worker`` at a time (a lease
per partition, :mod:`footfall.worker.lease`): the 30-minute rule then sees a visitor's
events in order, and two workers never split one visit or count it twice. One partition
keeps the single stream ``<prefix>events`` of a one-writer installation.

A batch read from partition ``k`` is committed to the store with a *version* made of its
last stream id and ``k``: the ClickHouse store stamps the rows of a round with it and
derives its insert deduplication tokens from it, so it must be unique across partitions,
grow within one, and be the same whenever the same batch is replayed.
"""

from __future__ import annotations

import hashlib

import msgspec

from footfall.queue.base import Cursor

GROUP = "writer"  # the consumer group every reader of the stream belongs to
_SEQ_BITS, _PART_BITS = 16, 6
MAX_PARTITIONS = 1 << _PART_BITS
_STORE_OFFSET_BITS = 40  # how the stores split a (hi, lo) progress pair (clickhouse/write.py)


class _Key(msgspec.Struct):
    site_id: str = ""
    visitor_id: int = 0


_KEY = msgspec.json.Decoder(_Key)


def stream_keys(prefix: str, partitions: int) -> list[str]:
    """The stream of each partition, in partition order."""
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ValueError(f"partitions must be between 1 and {MAX_PARTITIONS}")
    if partitions == 1:
        return [prefix + "events"]
    return [f"{prefix}events:{k}" for k in range(partitions)]


def dead_letter_key(prefix: str) -> str:
    return prefix + "dead"


def partition_of(payload: bytes, partitions: int) -> int:
    """The partition of one queued record (a JSON ``SpoolRecord``): a stable hash of its
    site and visitor. A record that cannot be read goes to partition 0, where the worker's
    check sends it to the dead-letter stream."""
    if partitions == 1:
        return 0
    try:
        key = _KEY.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 0
    digest = hashlib.blake2b(
        key.site_id.encode() + b"\0" + str(key.visitor_id).encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") % partitions


def batch_version(last: Cursor, partition: int) -> int:
    """The version of a batch ending at stream id ``last`` in ``partition``: increasing
    with the id (milliseconds, then sequence), unique across partitions, below 2**64."""
    ms, seq = last
    if seq >= 1 << _SEQ_BITS:
        # More than 65,536 entries in one millisecond of one stream: Redis does not reach
        # that rate, and a wrapped sequence would break the ordering, so refuse.
        raise ValueError(f"stream id {ms}-{seq}: sequence too large for a batch version")
    return (ms << (_SEQ_BITS + _PART_BITS)) | (seq << _PART_BITS) | partition


def as_progress(version: int) -> tuple[int, int]:
    """A version as the store's ``(hi, lo)`` progress pair (the stores join it back)."""
    return version >> _STORE_OFFSET_BITS, version & ((1 << _STORE_OFFSET_BITS) - 1)
