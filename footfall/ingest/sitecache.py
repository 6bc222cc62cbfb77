"""In-memory cache of key → site, site → domains and site → compiled exclusion rules
(:class:`~footfall.ingest.exclusions.SiteRules`) for the hot ingest path, and of domain →
site and alias → site for the keyless (Plausible, Umami) collectors.

The metadata database (SQLite or PostgreSQL) is written by the CLI and the admin API,
possibly from another process, so entries expire: a new key works within
``negative_ttl`` seconds, a revoked one stops within ``ttl`` seconds. A change made in
this process (the dashboard's settings) calls :meth:`SiteCache.invalidate`, so a domain
moved from one site to another takes effect here at once, and, through the broadcast it
:meth:`~SiteCache.follow`-s (``footfall/shared/``), in every other process that shares it.
"""

from __future__ import annotations

import threading
import time

from footfall.ingest.exclusions import SiteRules
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import Metadata, SiteInfo
from footfall.shared.base import Broadcast
from footfall.shared.local.invalidation import LocalBroadcast


class SiteCache:
    def __init__(self, meta: Metadata, ttl: float = 30.0, negative_ttl: float = 2.0) -> None:
        self.meta, self.ttl, self.negative_ttl = meta, ttl, negative_ttl
        self._by_key: dict[str, tuple[float, SiteInfo | None]] = {}
        self._by_id: dict[str, tuple[float, SiteInfo | None]] = {}
        self._rules: dict[str, tuple[float, SiteRules]] = {}
        self._by_domain: dict[str, tuple[float, SiteInfo | None]] = {}
        self._by_alias: dict[str, tuple[float, SiteInfo | None]] = {}
        self._prefs = SitePrefs(meta)
        self._lock = threading.Lock()
        self._changes: Broadcast = LocalBroadcast()
        self._changes.listen(self.clear)

    def follow(self, changes: Broadcast) -> None:
        """Invalidate through ``changes`` from now on (and clear when it says so)."""
        self._changes = changes
        changes.listen(self.clear)

    def for_ingest_key(self, key: str) -> SiteInfo | None:
        return self._get(self._by_key, key, self.meta.site_for_ingest_key)

    def get(self, site_id: str) -> SiteInfo | None:
        return self._get(self._by_id, site_id, self.meta.get_site)

    def for_domain(self, domain: str) -> SiteInfo | None:
        """The one site that owns ``domain`` (a domain belongs to at most one site)."""
        return self._get(self._by_domain, domain, self.meta.site_for_domain)

    def for_alias(self, alias: str) -> SiteInfo | None:
        """The site an Umami ``website`` names: its public UUID or its id."""
        return self._get(self._by_alias, alias, self.meta.site_for_alias)

    def domains_of(self, site_id: str) -> tuple[str, ...]:
        site = self.get(site_id)
        return site.domains if site else ()

    def rules(self, site_id: str) -> SiteRules:
        """The site's privacy and exclusion rules, compiled once per ``ttl``."""
        now = time.monotonic()
        hit = self._rules.get(site_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        rules = SiteRules.compile(self._prefs.privacy(site_id))
        with self._lock:
            if len(self._rules) > 100_000:
                self._rules.clear()
            self._rules[site_id] = (now + self.ttl, rules)
        return rules

    def invalidate(self) -> None:
        """Metadata changed: forget it here and in every process following the broadcast."""
        self._changes.publish()

    def clear(self) -> None:
        """Forget every cached entry of this process."""
        with self._lock:
            self._by_key.clear()
            self._by_id.clear()
            self._by_domain.clear()
            self._by_alias.clear()
            self._rules.clear()

    def _get(
        self, table: dict[str, tuple[float, SiteInfo | None]], key: str, load: Loader
    ) -> SiteInfo | None:
        now = time.monotonic()
        hit = table.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        site = load(key)
        ttl = self.ttl if site is not None else self.negative_ttl
        with self._lock:
            if len(table) > 100_000:  # unknown keys from the internet must not grow this forever
                table.clear()
            table[key] = (now + ttl, site)
        return site


from collections.abc import Callable  # noqa: E402

Loader = Callable[[str], SiteInfo | None]
