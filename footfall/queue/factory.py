"""``open_queue``: the event queue a process uses, chosen by ``FOOTFALL_QUEUE_URL``.

- empty: the embedded on-disk spool in ``<data dir>/spool`` (group-committed fsyncs);
- ``redis://host:6379/0`` or ``rediss://…``: Redis Streams, every key under
  ``FOOTFALL_REDIS_PREFIX`` (:mod:`footfall.queue.redis`), spread over
  ``FOOTFALL_QUEUE_PARTITIONS`` streams; ``footfall worker`` processes drain them into the
  store (``serve`` runs no writer then). Needs the ``redis`` extra.

``check_queue_url`` is what ``Settings.validate`` calls, so a bad URL stops the process
at start with a message naming the variable, never at the first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from footfall.queue.base import EventQueue

if TYPE_CHECKING:
    from footfall.config import Settings

VARIABLE = "FOOTFALL_QUEUE_URL"


class QueueURLError(ValueError):
    """FOOTFALL_QUEUE_URL names no usable queue (the message says why)."""


def check_queue_url(url: str) -> str | None:
    """Why ``url`` names no usable queue, or None when it does (empty: the spool)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a port that is not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("redis", "rediss"):
        return "must be empty (the embedded spool) or redis://host:6379/0 (or rediss://)"
    if not parts.hostname:
        return f"{parts.scheme}:// needs a host, as in {parts.scheme}://127.0.0.1:6379/0"
    if port is not None and not 0 < port < 65536:
        return "port must be between 1 and 65535"
    db = parts.path.strip("/")
    if db and not db.isdigit():
        return f"the database after the host must be a number (got {db!r})"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "needs the redis client: pip install 'footfall[redis]'"
    return None


def open_queue(settings: Settings) -> EventQueue:
    """The configured queue, opened (recovered, ready for appends and reads)."""
    problem = check_queue_url(settings.queue_url)
    if problem is not None:
        raise QueueURLError(f"{VARIABLE} {problem}")
    if settings.queue_url:
        from footfall.queue.redis import RedisStreamQueue

        queue = RedisStreamQueue(
            settings.queue_url, settings.redis_prefix, partitions=settings.queue_partitions
        )
        queue.open()
        return queue
    from footfall.queue.spool import Spool

    spool = Spool(
        settings.spool_dir,
        segment_bytes=settings.spool_segment_bytes,
        max_bytes=settings.spool_max_bytes,
        recent_bytes=settings.spool_recent_bytes,
    )
    spool.open()
    return spool
