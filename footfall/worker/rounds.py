"""What one worker round commits and what it counts.

- :func:`round_positions`: the queue positions a round commits, a batch version per
  partition, and for a round over several partitions the ``Shares`` telling the store
  which visitors' rows go with which partition (footfall/store/base.py);
- :class:`WorkerStats`: what a worker has done, for its JSON summary line and the
  benches: events written, duplicates, drops, dead letters, rounds, errors, rounds
  refused by the lease fence, and the queue lag as a histogram.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from footfall.queue.redis.partitions import as_progress, batch_version
from footfall.queue.redis.stream import parse_id
from footfall.store.base import Shares
from footfall.worker.partition import Key

# A partition's batch in a round: partition, last entry id, (entry id, record, key) records.
Batch = tuple[int, str, list[tuple[str, bytes, Key]]]


def round_positions(parts: list[Batch]) -> tuple[tuple[int, int], Shares | None]:
    """The round's progress (its greatest batch version) and, with several partitions,
    its shares (in increasing version); one partition commits as it always did."""
    # A batch's version comes from its last entry, bad or not: the same batch replayed
    # has the same version, whatever records it leaves out.
    versions = [batch_version(parse_id(last_id), k) for k, last_id, _ in parts]
    progress = as_progress(max(versions))
    if len(parts) < 2:
        return progress, None
    order = sorted(range(len(parts)), key=versions.__getitem__)
    owner: dict[Key, int] = {}
    for share, i in enumerate(order):
        for _, _, key in parts[i][2]:
            owner[key] = share
    visitors = pa.table(
        {
            "site_id": pa.array([key[0] for key in owner], pa.string()),
            "visitor_id": pa.array([key[1] for key in owner], pa.uint64()),
            "share": pa.array(list(owner.values()), pa.int32()),
        }
    )
    partitions = tuple(parts[i][0] for i in order)
    return progress, Shares(partitions, tuple(as_progress(versions[i]) for i in order), visitors)


LAG_BUCKET_MS = 50  # queue lag is kept as a histogram of this resolution (mergeable)


@dataclass(slots=True)
class WorkerStats:
    events_written: int = 0
    duplicates_skipped: int = 0
    dropped: int = 0
    dead_lettered: int = 0
    batches: int = 0
    errors: int = 0
    fenced: int = 0  # rounds refused: their lease lapsed and was taken mid-round
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

    def count_round(self, counts: dict[str, int], entry_ids: list[str]) -> None:
        """A stored round: its counts, and each record's lag from its stream id's time."""
        self.events_written += counts["inserted"]
        self.duplicates_skipped += counts["duplicates"]
        self.dropped += counts["dropped"]
        self.batches += 1
        now_ms = time.time() * 1000
        # Per entry, not per record: an entry holds one request's records (Counter counts
        # in C; the loop per record was a tenth of the worker's own Python).
        for entry_id, n in Counter(entry_ids).items():
            lag = max(0.0, now_ms - int(entry_id.partition("-")[0]))
            bucket = int(lag // LAG_BUCKET_MS) * LAG_BUCKET_MS
            self.lag_ms[bucket] = self.lag_ms.get(bucket, 0) + n
