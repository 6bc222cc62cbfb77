"""Rate limits of collection requests, per client IP and per ingest key: the port and the
``Retry-After`` header. The buckets themselves are in :mod:`footfall.shared` (in process,
or in Redis when several servers share the limits); ``hit`` returns ``None`` when
allowed, else the seconds to wait.
"""

from __future__ import annotations

import math

from footfall.shared.base import RateLimiter
from footfall.shared.local.limits import NoLimit, TokenBuckets, local_limiter

__all__ = ["NoLimit", "RateLimiter", "TokenBuckets", "make_limiter", "retry_after_header"]


def make_limiter(rate: float, burst: int) -> RateLimiter:
    """An in-process limiter (0 = off)."""
    return local_limiter("", rate, burst)


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
