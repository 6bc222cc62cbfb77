"""Which worker reads which partition: a lease per partition, shared out fairly.

A partition is read by one worker at a time (so a visitor's events are sessionised in
order by one process): the worker holding ``<prefix>lease:<k>`` (a key set with ``NX`` and
an expiry, renewed while it works) reads it. Live workers announce themselves in the
sorted set ``<prefix>workers`` (score: their last heartbeat); each takes at most its fair
share, ``ceil(partitions / live workers)``, and gives back what exceeds it between two
batches, so a second worker started beside a busy one gets half the partitions within a
lease period. A worker that dies keeps its partitions only until its leases expire.
"""

from __future__ import annotations

import math
import time
from typing import Any

import redis

# Renew or release only a lease that is still ours (another worker may hold it now).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501


class Leases:
    """The partitions ``consumer`` holds among ``partitions``, kept in Redis."""

    def __init__(
        self, client: redis.Redis, prefix: str, consumer: str, partitions: int, lease_ms: int
    ) -> None:
        self.client, self.prefix, self.consumer = client, prefix, consumer
        self.partitions, self.lease_ms = partitions, lease_ms
        self.members = prefix + "workers"
        self.held: set[int] = set()
        self._renew: Any = client.register_script(_RENEW)
        self._release: Any = client.register_script(_RELEASE)

    def key(self, partition: int) -> str:
        return f"{self.prefix}lease:{partition}"

    def share(self) -> int:
        """Partitions this worker may hold now: its fair share of the live workers'."""
        now = int(time.time() * 1000)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.members, {self.consumer: now})
        pipe.zremrangebyscore(self.members, "-inf", now - self.lease_ms)
        pipe.zcard(self.members)
        live = max(1, int(pipe.execute()[2]))
        return math.ceil(self.partitions / live)

    def rebalance(self) -> set[int]:
        """Renew what is held, give back what exceeds the fair share, take free
        partitions up to it; returns the partitions held now."""
        for k in sorted(self.held):
            if not self._renew(keys=[self.key(k)], args=[self.consumer, self.lease_ms]):
                self.held.discard(k)  # expired and taken: another worker reads it now
        share = self.share()
        for k in sorted(self.held, reverse=True)[: max(0, len(self.held) - share)]:
            self.release(k)
        if len(self.held) < share:
            # Start the search at a place of our own, so that workers starting together
            # try different partitions first.
            start = sum(self.consumer.encode()) % self.partitions
            for i in range(self.partitions):
                if len(self.held) >= share:
                    break
                k = (start + i) % self.partitions
                if k in self.held:
                    continue
                if self.client.set(self.key(k), self.consumer, nx=True, px=self.lease_ms):
                    self.held.add(k)
        return set(self.held)

    def still_held(self, partition: int) -> bool:
        """Renew one lease just before its partition's batch; False if it was lost."""
        if self._renew(keys=[self.key(partition)], args=[self.consumer, self.lease_ms]):
            return True
        self.held.discard(partition)
        return False

    def release(self, partition: int) -> None:
        self._release(keys=[self.key(partition)], args=[self.consumer])
        self.held.discard(partition)

    def release_all(self) -> None:
        """Shutdown: give every partition back at once and leave the live set."""
        for k in sorted(self.held):
            self.release(k)
        self.client.zrem(self.members, self.consumer)
