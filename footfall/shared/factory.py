"""``open_shared``: the shared-state adapters of a process, chosen by configuration.

``FOOTFALL_QUEUE_URL`` empty (one process): in-process buckets, the live count from the
store, invalidation by a direct call. ``redis://…`` (several ``serve`` processes): all
three in that Redis, under ``FOOTFALL_REDIS_PREFIX``.
"""

from __future__ import annotations

from collections.abc import Callable

from footfall.config import Settings
from footfall.query.runner import QueryRunner
from footfall.shared.base import SharedState
from footfall.shared.local.invalidation import LocalBroadcast
from footfall.shared.local.limits import LocalRequestLimits, local_limiter
from footfall.shared.local.live import StoreLive


def open_shared(
    settings: Settings, runner: QueryRunner, domains_of: Callable[[str], tuple[str, ...]]
) -> SharedState:
    """The adapters; ``runner`` reads the live count from the store when Redis cannot,
    ``domains_of`` tells a site's own referrers from spam, as the writer does."""
    store_live = StoreLive(runner)
    if not settings.queue_url:

        async def nothing() -> None:
            return None

        return SharedState(
            "process", local_limiter, LocalRequestLimits, store_live, LocalBroadcast(), nothing
        )
    from footfall.shared.redis.invalidation import RedisBroadcast
    from footfall.shared.redis.limits import RedisLimits
    from footfall.shared.redis.link import RedisLink
    from footfall.shared.redis.live import RedisLive

    link = RedisLink(settings.queue_url, settings.redis_prefix)
    live = RedisLive(link, store_live, domains_of, allow_headless=settings.allow_headless)
    changes = RedisBroadcast(link)

    async def close() -> None:
        live.close()
        changes.close()
        await link.aclose()

    limits = RedisLimits(link)
    return SharedState("redis", limits, limits.pair, live, changes, close)
