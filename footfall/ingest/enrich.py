"""Writer-side enrichment, computed once per *distinct* value of a batch.

This is the part of the pipeline that moved off the request path (docs/design.md allows it):
bot detection, user-agent parsing, referrer classification, referrer spam and UTM
extraction. Real traffic repeats the same few hundred user agents and referrers, so the
store asks for the distinct values of a batch and joins these small lookup tables back
in SQL; no Python runs per event. Referrer verdicts are also kept across batches (keyed by
the site's domains, so a domain change takes effect at once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa

from footfall.ingest.bots import is_bot, is_referrer_spam
from footfall.ingest.referrer import classify_referrer, source_from_utm
from footfall.ingest.useragent import parse_user_agent
from footfall.ingest.utm import utm_fields

DomainsOf = Callable[[str], tuple[str, ...]]

UA_SCHEMA = pa.schema(
    [("user_agent", pa.string()), ("is_bot", pa.bool_())]
    + [(c, pa.string()) for c in ("browser", "browser_version", "os", "os_version", "device")]
)
REFERRER_SCHEMA = pa.schema(
    [
        ("site_id", pa.string()),
        ("referrer", pa.string()),
        ("source", pa.string()),
        ("spam", pa.bool_()),
    ]
)
UTM_SCHEMA = pa.schema(
    [("url_query", pa.string())]
    + [(f"utm_{c}", pa.string()) for c in ("source", "medium", "campaign", "term", "content")]
    + [("utm_source_name", pa.string())]
)


# Entries kept across batches before the referrer cache starts over.
CACHE_ENTRIES = 50_000


class Enricher:
    """Lookup tables for a batch's distinct user agents, referrers and query strings."""

    def __init__(self, domains_of: DomainsOf, *, allow_headless: bool = False) -> None:
        self.domains_of = domains_of
        self.allow_headless = allow_headless
        self._referrers: dict[tuple[tuple[str, ...], str], tuple[str, bool]] = {}

    def warm(self) -> None:
        """Load the user-agent and crawler rules now (about 0.5 s holding the GIL), so the
        first batch does not stall the request path while the server is already serving."""
        self.user_agents(["Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"])
        is_referrer_spam("example.com")

    def user_agents(self, agents: Sequence[str]) -> pa.Table:
        rows: dict[str, list[object]] = {name: [] for name in UA_SCHEMA.names}
        for ua in agents:
            info = parse_user_agent(ua)
            values = (ua, is_bot(ua, allow_headless=self.allow_headless), info.browser,
                      info.browser_version, info.os, info.os_version, info.device)  # fmt: skip
            for name, value in zip(UA_SCHEMA.names, values, strict=True):
                rows[name].append(value)
        return pa.table(rows, schema=UA_SCHEMA)

    def referrers(self, pairs: Sequence[tuple[str, str]]) -> pa.Table:
        """(site_id, referrer) -> source; own domains are internal (no source)."""
        sources, spam = [], []
        domains: dict[str, tuple[str, ...]] = {}
        cache = self._referrers
        if len(cache) > CACHE_ENTRIES:
            cache.clear()
        for site_id, referrer in pairs:
            own = domains.get(site_id)
            if own is None:
                own = domains[site_id] = self.domains_of(site_id)
            verdict = cache.get((own, referrer))
            if verdict is None:
                source, host = classify_referrer(referrer, own)
                verdict = cache[own, referrer] = (source, bool(host) and is_referrer_spam(host))
            sources.append(verdict[0])
            spam.append(verdict[1])
        return pa.table(
            [[p[0] for p in pairs], [p[1] for p in pairs], sources, spam], schema=REFERRER_SCHEMA
        )

    def queries(self, queries: Sequence[str]) -> pa.Table:
        """url_query -> the five utm_* values, and the source a tagged link names."""
        rows: dict[str, list[object]] = {name: [] for name in UTM_SCHEMA.names}
        for query in queries:
            utm = utm_fields(query)
            values = (query, utm.source, utm.medium, utm.campaign, utm.term, utm.content,
                      source_from_utm(utm.source) if utm.source else "")  # fmt: skip
            for name, value in zip(UTM_SCHEMA.names, values, strict=True):
                rows[name].append(value)
        return pa.table(rows, schema=UTM_SCHEMA)
