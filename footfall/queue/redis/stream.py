"""The Redis Streams queue: partition streams read by one consumer group, behind the port.

Every key lives under the installation's prefix (``FOOTFALL_REDIS_PREFIX``): the streams
are ``<prefix>events:<k>`` (``<prefix>events`` with one partition; see
:mod:`footfall.queue.redis.partitions`), so two installations can share one Redis. In
this shape ``footfall worker`` processes drain the streams (:mod:`footfall.worker`);
the port's reading methods below serve a single-partition queue (the contract suite).
Appends (``XADD``, pipelined so concurrent requests share round trips) are in
:mod:`footfall.queue.redis.append`; this module is the reading side (blocking client).

Cursors are stream ids: ``ms-seq`` is the :data:`~footfall.queue.base.Cursor` ``(ms, seq)``,
which the store commits with each batch exactly as it commits the spool's positions.

Reading goes through the consumer group, so Redis knows what is in flight: first this
consumer's delivered-but-unacknowledged entries after the cursor (a batch read before a
crash and never committed), then new ones (``>``). :meth:`release` acknowledges
(``XACK``) everything up to a committed cursor and then trims the stream below the oldest
entry some group still needs: its oldest pending entry, or the first one it has not been
delivered. Never a blind ``MAXLEN``, which would drop what no one has stored yet.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import redis

from footfall.queue.base import Cursor, EventQueue
from footfall.queue.redis.append import FIELD, RedisAppending
from footfall.queue.redis.partitions import GROUP, stream_keys

log = logging.getLogger("footfall.queue.redis")


_ACK_CHUNK = 10_000


def parse_id(raw: bytes | str) -> Cursor:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_id(cursor: Cursor) -> str:
    return f"{cursor[0]}-{cursor[1]}"


class RedisStreamQueue(RedisAppending):
    """Events in the Redis stream ``<prefix>events`` at ``url``, consumed by ``group``.

    ``consumer`` names this reader inside the group; a reader restarted under the same
    name picks up the entries it had been delivered and never acknowledged.
    """

    # Collection only appends: ``footfall worker`` processes store the events.
    consumed_by_workers = True

    def __init__(
        self,
        url: str,
        prefix: str = "footfall:",
        *,
        partitions: int = 1,
        group: str = GROUP,
        consumer: str = "writer",
    ) -> None:
        super().__init__(url, stream_keys(prefix, partitions))
        self.group, self.consumer = group, consumer
        # Health and /metrics ask from the event loop: a Redis that does not answer must
        # not hold it for long.
        self._sync: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=2
        )
        self._group_ready = False

    # ---------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Create the stream and the consumer group if they do not exist yet.

        A Redis unreachable now does not stop the process: appends answer 503 and reads
        fail (the writer retries) until it is back, and the group is made then.
        """
        try:
            self._ensure_group()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._down = f"redis unreachable ({exc})"
            log.warning(
                "redis queue %s: %s; collection answers 503 until it is back", self.key, exc
            )

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        for key in self.keys:
            ensure_group(self._sync, key, self.group)
        self._group_ready = True

    def close_sync(self) -> None:
        super().close_sync()
        self._sync.close()

    async def close(self) -> None:
        await super().close()
        self._sync.close()

    # ---------------------------------------------------------------- reading

    def first_position(self) -> Cursor:
        return (0, 0)

    def read(
        self, start: Cursor, max_records: int, max_bytes: int = 16 << 20
    ) -> tuple[list[bytes], Cursor]:
        """Entries after ``start``: redelivered ones first, then new ones.

        ``max_bytes`` is not enforced: a Redis read is bounded by its count only, and
        entries are small events. Only a one-partition queue is read this way.
        """
        self._one_partition()
        self._ensure_group()
        count = max(1, max_records)
        entries = self._group_read(format_id(start), count)
        if not entries:
            entries = self._group_read(">", count)
        payloads: list[bytes] = []
        end = start
        for raw_id, fields in entries:
            cursor = parse_id(raw_id)
            if cursor <= start:
                continue  # already stored: acknowledged by the next release
            if fields is None or FIELD not in fields:
                raise RuntimeError(f"redis stream {self.key}: entry {raw_id!r} has no event")
            payloads.append(fields[FIELD])
            end = cursor
        return payloads, end

    def _group_read(self, after: str, count: int) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        try:
            reply: Any = self._sync.xreadgroup(
                self.group, self.consumer, {self.key: after}, count=count
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The stream or its group is gone (a Redis restarted without its data, a key
            # deleted by hand): made again here, the next round reads what arrives now.
            log.warning("redis queue %s: consumer group %s recreated", self.key, self.group)
            self._group_ready = False
            self._ensure_group()
            return []
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3 clients answer with a map
            return list(next(iter(reply.values()))[0])
        return list(reply[0][1])

    def release(self, upto: Cursor) -> None:
        """Acknowledge every entry up to ``upto`` (they are in the store), then trim.

        With Redis unreachable this only logs: the entries stay pending, and the next
        release acknowledges them (reads skip what lies before the committed cursor).
        """
        self._one_partition()
        try:
            self._ensure_group()
            self._acknowledge(format_id(upto))
            self.trim()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("redis queue %s: release deferred: %s", self.key, exc)

    def _acknowledge(self, last: str) -> None:
        while True:
            pending = self._sync.xpending_range(self.key, self.group, "-", last, _ACK_CHUNK)
            if not pending:
                break
            self._sync.xack(self.key, self.group, *[p["message_id"] for p in pending])
            if len(pending) < _ACK_CHUNK:
                break

    def _one_partition(self) -> None:
        if len(self.keys) > 1:
            raise RuntimeError("a partitioned Redis queue is read by `footfall worker`")

    def trim(self) -> int:
        """Drop entries every group is done with; returns how many went."""
        return trim_acknowledged(self._sync, self.key)

    def safe_floor(self) -> Cursor | None:
        """The oldest entry some consumer group still needs (None: keep everything)."""
        return safe_floor(self._sync, self.key)

    # ---------------------------------------------------------------- introspection

    def end_position(self) -> Cursor:
        """The id of the last entry ever added (``(0, 0)`` for an empty stream)."""
        try:
            info: Any = self._sync.xinfo_stream(self.key)
        except redis.ResponseError:  # no stream yet
            return (0, 0)
        except (redis.ConnectionError, redis.TimeoutError):
            # Unknown while Redis is away: no committed cursor can be shown to be past it.
            return (1 << 62, 0)
        return parse_id(info["last-generated-id"])

    def depth(self, since: Cursor | None = None) -> int:
        """Entries not yet acknowledged by the group, over every partition: in flight
        plus not yet delivered (0 while Redis is unreachable; :meth:`refusal` says so).
        With partitions an entry is one request's records of that partition.
        Blocking: the server asks from a worker thread (api/health.py)."""
        try:
            return sum(stream_depth(self._sync, key, self.group) for key in self.keys)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self._down = f"redis unreachable ({exc})"
            return 0

    def size_bytes(self) -> int:
        try:
            return sum(int(self._sync.memory_usage(key) or 0) for key in self.keys)
        except (redis.ConnectionError, redis.TimeoutError):
            return 0


def ensure_group(client: redis.Redis, key: str, group: str) -> None:
    """Create the stream ``key`` and its consumer ``group`` unless they exist."""
    try:
        client.xgroup_create(key, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def safe_floor(client: redis.Redis, key: str) -> Cursor | None:
    """The oldest entry of ``key`` some consumer group still needs: its oldest pending
    entry, or the first it has not been delivered (None: keep everything)."""
    groups: Any = client.xinfo_groups(key)
    if not groups:
        return None
    floors: list[Cursor] = []
    for g in groups:
        summary: Any = client.xpending(key, g["name"])
        if summary["pending"]:
            floors.append(parse_id(summary["min"]))
        else:
            ms, seq = parse_id(g["last-delivered-id"])
            floors.append((ms, seq + 1))
    return min(floors)


def trim_acknowledged(client: redis.Redis, key: str) -> int:
    """Drop the entries of ``key`` below what every group has acknowledged (never a blind
    ``MAXLEN``); returns how many went."""
    floor = safe_floor(client, key)
    if floor is None:
        return 0
    removed: int = client.xtrim(key, minid=format_id(floor), approximate=False)
    return removed


def stream_depth(client: redis.Redis, key: str, group: str) -> int:
    """Entries of ``key`` that ``group`` has not acknowledged (pending plus undelivered)."""
    groups: Any = client.xinfo_groups(key)
    for g in groups:
        if _text(g["name"]) == group:
            lag = g.get("lag")
            if lag is None:  # Redis cannot tell after some deletions: count them
                lag = len(client.xrange(key, _after(g["last-delivered-id"])) or [])
            return int(g["pending"]) + int(lag)
    return int(client.xlen(key))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _after(raw: bytes | str) -> str:
    return "(" + _text(raw)


if TYPE_CHECKING:

    def _conforms(queue: RedisStreamQueue) -> EventQueue:
        # mypy checks here that the Redis queue satisfies the queue port.
        return queue
