"""The scale-out queue: Redis Streams (``stream`` reads and trims, ``append`` adds).

Needs the optional ``redis`` client: ``pip install 'footfall[redis]'``.
"""

from footfall.queue.redis.stream import RedisStreamQueue, format_id, parse_id

__all__ = ["RedisStreamQueue", "format_id", "parse_id"]
