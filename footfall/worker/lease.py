"""Which worker reads which partition: a lease per partition, shared out fairly.

A partition is read by one worker at a time (so a visitor's events are sessionised in
order by one process): the worker holding ``<prefix>lease:<k>`` (a key set with ``NX`` and
an expiry, renewed while it works) reads it. Live workers announce themselves in the
sorted set ``<prefix>workers`` (score: their last heartbeat); each takes at most its fair
share, ``ceil(partitions / live workers)``, and gives back what exceeds it between two
batches, so a second worker started beside a busy one gets half the partitions within a
lease period. A worker that dies keeps its partitions only until its leases expire.

Fencing: each acquisition takes a new epoch (``INCR <prefix>epoch:<k>``) and the lease's
value is ``consumer:epoch``. A worker stalled past its lease (a GC pause, SIGSTOP) may
resume mid-round after another took the partition over; :meth:`Leases.fence` (called
by the store just before it touches the partition's rows and again just before the
commit) refuses the round unless every lease it carries still holds its epoch, so the
stale round neither takes back the new owner's rows nor commits, and its batch stays
pending for the new owner. Even the same worker re-taking a lapsed lease gets a new
epoch, so a round begun under the old one is refused. A lease that lapsed with nobody
acquiring it since (its epoch counter unchanged) is re-taken by the fence instead: a
round slower than its lease on a busy machine goes on rather than stalling the queue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import redis

# Renew or release only a lease that is still ours (another worker may hold it now).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501
# Take a free lease with a new epoch: KEYS lease, epoch counter; ARGV consumer, ms.
_ACQUIRE = """
if redis.call('exists', KEYS[1]) == 1 then return false end
local token = ARGV[1] .. ':' .. redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], token, 'px', ARGV[2])
return token
"""
# Every lease still holds its token, or lapsed with nobody taking it since (its epoch
# counter unchanged: any acquisition increments it): renew or re-take all of them and
# return 1, else change nothing and return 0. KEYS: the n lease keys, then their n epoch
# counters; ARGV: the n tokens ("consumer:epoch"), then the ms. A round slower than its
# lease on a loaded machine goes on; one whose partition another worker took is refused.
_FENCE = """
local n = #KEYS / 2
for i = 1, n do
  local held = redis.call('get', KEYS[i])
  if held ~= ARGV[i] then
    if held then return 0 end
    local epoch = string.match(ARGV[i], ':(%d+)$')
    if epoch == nil or redis.call('get', KEYS[n + i]) ~= epoch then return 0 end
  end
end
for i = 1, n do redis.call('set', KEYS[i], ARGV[i], 'px', ARGV[n + 1]) end
return 1
"""


class LeaseLost(RuntimeError):
    """A round's partition lease lapsed and was taken (or given back) since it began:
    the round must not touch the store; its batch is left to the lease's new holder."""


class Leases:
    """The partitions ``consumer`` holds among ``partitions``, kept in Redis."""

    def __init__(
        self, client: redis.Redis, prefix: str, consumer: str, partitions: int, lease_ms: int
    ) -> None:
        self.client, self.prefix, self.consumer = client, prefix, consumer
        self.partitions, self.lease_ms = partitions, lease_ms
        self.members = prefix + "workers"
        self.held: set[int] = set()
        self.tokens: dict[int, str] = {}  # partition -> "consumer:epoch" of the lease held
        self._renew: Any = client.register_script(_RENEW)
        self._release: Any = client.register_script(_RELEASE)
        self._acquire: Any = client.register_script(_ACQUIRE)
        self._fence: Any = client.register_script(_FENCE)

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
            if not self._renew(keys=[self.key(k)], args=[self.tokens[k], self.lease_ms]):
                self._lost(k)  # expired (and maybe taken): another worker may read it now
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
                token = self._acquire(
                    keys=[self.key(k), self._epoch(k)],
                    args=[self.consumer, self.lease_ms],
                )
                if token:
                    self.held.add(k)
                    self.tokens[k] = token.decode() if isinstance(token, bytes) else token
        return set(self.held)

    def _epoch(self, partition: int) -> str:
        return f"{self.prefix}epoch:{partition}"

    def _lost(self, partition: int) -> None:
        self.held.discard(partition)
        self.tokens.pop(partition, None)

    def fence_for(self, partitions: list[int]) -> Callable[[], None]:
        """A check for the store to call before it touches ``partitions``' rows and before
        it commits: raises :class:`LeaseLost` unless each lease still holds the epoch it
        has now (renewing them), so a round begun under a lease that another acquisition
        replaced meanwhile is refused, even if that was this worker taking it back; a
        lease that merely lapsed, untaken, is re-taken under its epoch."""
        keys = [self.key(k) for k in partitions] + [self._epoch(k) for k in partitions]
        tokens = [self.tokens.get(k, "") for k in partitions]

        def fence() -> None:
            if not self._fence(keys=keys, args=[*tokens, self.lease_ms]):
                for k, token in zip(partitions, tokens, strict=True):
                    if self.tokens.get(k) == token:
                        self._lost(k)
                raise LeaseLost(f"lease of partition(s) {partitions} lost mid-round")

        return fence

    def still_held(self, partition: int) -> bool:
        """Renew one lease just before its partition's batch; False if it was lost."""
        token = self.tokens.get(partition, "")
        if self._renew(keys=[self.key(partition)], args=[token, self.lease_ms]):
            return True
        self._lost(partition)
        return False

    def release(self, partition: int) -> None:
        self._release(keys=[self.key(partition)], args=[self.tokens.get(partition, "")])
        self._lost(partition)

    def release_all(self) -> None:
        """Shutdown: give every partition back at once and leave the live set."""
        for k in sorted(self.held):
            self.release(k)
        self.client.zrem(self.members, self.consumer)
