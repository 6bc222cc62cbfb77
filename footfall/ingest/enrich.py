"""Writer-side enrichment: spool records in, event columns out, bots and spam dropped.

This is the part of the pipeline that moved off the request path (DESIGN.md allows it):
user-agent parsing, bot detection, referrer classification and UTM extraction run here,
once per *distinct* value in the batch, because real traffic repeats the same few hundred
user agents and referrers. Each drop is counted per site, day and reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from footfall.ingest.bots import is_bot, is_referrer_spam
from footfall.ingest.record import SpoolRecord
from footfall.ingest.referrer import classify_referrer, source_from_utm
from footfall.ingest.useragent import UserAgentInfo, parse_user_agent
from footfall.ingest.utm import utm_fields

DomainsOf = Callable[[str], tuple[str, ...]]


@dataclass(slots=True)
class Enriched:
    """Records that survived the filters, with the columns derived for them."""

    records: list[SpoolRecord] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)
    drops: Counter[tuple[str, int, str]] = field(default_factory=Counter)


def _hour(ts_ms: int) -> int:
    """The event's UTC hour (epoch ms), the grain drop counts are kept at."""
    return ts_ms - ts_ms % 3_600_000


def enrich(
    records: Sequence[SpoolRecord], domains_of: DomainsOf, *, allow_headless: bool = False
) -> Enriched:
    """Filter bots and referrer spam, then derive UA, source and UTM columns per record."""
    out = Enriched()
    bot_cache: dict[str, bool] = {}
    ref_cache: dict[tuple[str, str], tuple[str, str]] = {}
    for r in records:
        bot = bot_cache.get(r.user_agent)
        if bot is None:
            bot = bot_cache[r.user_agent] = is_bot(r.user_agent, allow_headless=allow_headless)
        if bot:
            out.drops[(r.site_id, _hour(r.ts), "bot")] += 1
            continue
        key = (r.site_id, r.referrer)
        ref = ref_cache.get(key)
        if ref is None:
            ref = ref_cache[key] = classify_referrer(r.referrer, domains_of(r.site_id))
        if ref[1] and is_referrer_spam(ref[1]):
            out.drops[(r.site_id, _hour(r.ts), "referrer_spam")] += 1
            continue
        out.records.append(r)
        out.columns.setdefault("referrer_source", []).append(ref[0])

    kept = out.records
    agents: dict[str, UserAgentInfo] = {}
    for r in kept:
        if r.user_agent not in agents:
            agents[r.user_agent] = parse_user_agent(r.user_agent)
    ua = [agents[r.user_agent] for r in kept]
    cols = out.columns
    cols["browser"] = [u.browser for u in ua]
    cols["browser_version"] = [u.browser_version for u in ua]
    cols["os"] = [u.os for u in ua]
    cols["os_version"] = [u.os_version for u in ua]
    cols["device"] = [u.device for u in ua]

    utm_names = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
    for name in utm_names:
        cols[name] = []
    sources = cols.setdefault("referrer_source", [])
    for i, r in enumerate(kept):
        if not r.url_query:
            for name in utm_names:
                cols[name].append("")
            continue
        utm = utm_fields(r.url_query)
        for name in utm_names:
            cols[name].append(getattr(utm, name[4:]))
        # With no referrer, a tagged link names its source (Plausible's rule).
        if not sources[i] and utm.source:
            sources[i] = source_from_utm(utm.source)
    return out
