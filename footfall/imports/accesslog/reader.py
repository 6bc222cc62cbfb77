"""Log lines to encoded spool records: the per-line part of an access-log import.

:func:`read_records` is the one definition of which lines are page views and what record
each becomes. Everything that repeats is judged once: times by their day and zone parts
(:class:`~footfall.imports.accesslog.formats.ClfTime`), bots per user agent, the visitor
hash and place per visitor and day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from footfall.imports.accesslog.formats import BadLine, page_verdict, parser_for
from footfall.ingest.bots import is_bot
from footfall.ingest.exclusions import NO_RULES, SiteRules
from footfall.ingest.geo import GeoLookup
from footfall.ingest.pipeline import host_allowed
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.ingest.utm import clean_query
from footfall.meta.repo import SiteInfo
from footfall.meta.salts import SaltStore, visitor_hash

DAY_MS = 86_400_000
MAX_FIELD = 2048  # the live API's limit on paths and referrers
# Lines per yielded piece: the progress bar's step.
PIECE = 16_384


@dataclass(frozen=True)
class LineRules:
    """What decides a line's fate and record, apart from the salts."""

    site: SiteInfo
    rules: SiteRules
    fmt: str
    allow_headless: bool
    maxmind_db: str


def salts_of(store: SaltStore) -> Callable[[int], bytes]:
    """UTC day number → the salt live collection hashes that day's visitors with."""
    memo: dict[int, bytes] = {}

    def salt(day: int) -> bytes:
        got = memo.get(day)
        if got is None:
            got = memo[day] = store.salts_for(datetime.fromtimestamp(day * 86_400, UTC))[0]
        return got

    return salt


def read_records(
    lines: Iterator[str],
    prefix: str,
    how: LineRules,
    salt: Callable[[int], bytes],
    skipped: Counter[str],
) -> Iterator[tuple[list[bytes], int]]:
    """Encoded spool records of the page views in ``lines``, a piece at a time, each with
    the number of lines read so far; skips are counted by reason in ``skipped``."""
    parse, verdict, site, rules = parser_for(how.fmt), page_verdict, how.site, how.rules
    bots: dict[str, bool] = {}
    default_host = site.domains[0] if site.domains else ""
    geo, encode = GeoLookup(how.maxmind_db).lookup, ENCODER.encode
    payloads: list[bytes] = []
    visitors: dict[tuple[str, str, int], tuple[int, str, str, str]] = {}
    n = 0
    for n, line in enumerate(lines, 1):
        if not n % PIECE:
            yield payloads, n - 1
            payloads = []
        try:
            ip, ts, method, target, status, ref, ua, host, ctype = parse(line.rstrip("\r\n"))
        except BadLine:
            skipped["malformed"] += 1
            continue
        reason = verdict(method, target, status, ctype)
        if reason is not None:
            skipped[reason] += 1
            continue
        bot = bots.get(ua)
        if bot is None:
            if len(bots) > 50_000:
                bots.clear()
            bot = bots[ua] = is_bot(ua, allow_headless=how.allow_headless)
        if bot:
            skipped["bot"] += 1
            continue
        if host and not host_allowed(host, site.domains):
            skipped["other_host"] += 1
            continue
        pathname, _, query = target.partition("?")
        pathname = pathname[:MAX_FIELD] or "/"
        if rules is not NO_RULES:
            excluded = rules.drop_reason(False, ip, pathname)
            if excluded is not None:
                skipped[excluded] += 1
                continue
        key = (ua, ip, ts // DAY_MS)
        seen = visitors.get(key)
        if seen is None:  # each visitor's day: hashed and placed once
            if len(visitors) > 100_000:
                visitors.clear()
            # The live pipeline's own definition (salts.visitor_hash), not a copy of it.
            seen = visitors[key] = (visitor_hash(salt(key[2]), site.id, ip, ua), *geo(ip))
        visitor, country, region, city = seen
        payloads.append(
            encode(
                SpoolRecord(
                    prefix % n, site.id, ts, "pageview", host or default_host, pathname,
                    clean_query(query) if query else "", ref[:MAX_FIELD], ua, visitor,
                    0, "", "", "", country, region, city, "", True, {},
                )
            )
        )  # fmt: skip
    yield payloads, n
