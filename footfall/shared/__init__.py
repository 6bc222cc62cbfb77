"""What several ``footfall serve`` processes must share: rate limits (collection and
password tries), the live visitor count, and site-cache invalidation.

Each is a small port (:mod:`footfall.shared.base`) with an in-process adapter
(:mod:`footfall.shared.local`, one process: today's behaviour) and a Redis adapter
(:mod:`footfall.shared.redis`, the scale-out shape) side by side with the same file
names; :func:`footfall.shared.factory.open_shared` picks them from the configuration.
"""
