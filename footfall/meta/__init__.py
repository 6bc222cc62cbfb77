"""Metadata store: sites, ingest keys, read tokens, daily salts, dashboard accounts and
per-site settings, goals and funnels (SQLite or PostgreSQL).

Use :class:`Metadata` (call :meth:`Metadata.migrate` once at start) and :class:`SaltStore`;
they return plain frozen dataclasses, never ORM objects.
"""

from footfall.meta import accounts as _accounts  # noqa: F401 - registers the account tables
from footfall.meta import rights as _rights  # noqa: F401 - table retention, report recipients
from footfall.meta import siteconfig as _siteconfig  # noqa: F401 - site settings, goals, funnels
from footfall.meta.repo import KeyInfo, Metadata, SiteInfo
from footfall.meta.salts import SaltStore, stable_id, visitor_hash
from footfall.meta.values import MetaError, MetaValidationError, SiteNotFoundError

__all__ = [
    "KeyInfo",
    "MetaError",
    "MetaValidationError",
    "Metadata",
    "SaltStore",
    "SiteInfo",
    "SiteNotFoundError",
    "stable_id",
    "visitor_hash",
]
