"""Log lines to columns of page views: the per-line part of an access-log import.

:func:`read_pages` is the one definition of which lines are page views and what each
becomes. It yields columns (Python lists, one per field, handed to Arrow whole), not one
record per line: a page view costs a few list appends. Everything that repeats is judged
once: times by their day and zone parts
(:class:`~footfall.imports.accesslog.formats.ClfTime`), bots per user agent, the visitor
hash and place per visitor (IP, user agent) and UTC day, whose row in :class:`Visitors`
each page view points to. :meth:`Pages.records` makes the spool records of the same page
views for a queue that ``footfall worker`` processes drain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
# Distinct visitor days remembered at most; past it the memo starts afresh (at a piece's
# end, so the pieces already yielded keep the rows they point to).
MAX_VISITORS = 100_000


@dataclass(frozen=True)
class LineRules:
    """What decides a line's fate and record, apart from the salts."""

    site: SiteInfo
    rules: SiteRules
    fmt: str
    allow_headless: bool
    maxmind_db: str


@dataclass
class Visitors:
    """One row per visitor and UTC day: what every page view of theirs that day shares."""

    user_agent: list[str] = field(default_factory=list)
    visitor_id: list[int] = field(default_factory=list)
    country: list[str] = field(default_factory=list)
    region: list[str] = field(default_factory=list)
    city: list[str] = field(default_factory=list)


@dataclass
class Pages:
    """Page views as columns; ``who`` is each one's row in ``visitors``."""

    visitors: Visitors
    line: list[int] = field(default_factory=list)  # 1-based line number in the file
    ts: list[int] = field(default_factory=list)  # epoch milliseconds, UTC
    hostname: list[str] = field(default_factory=list)
    pathname: list[str] = field(default_factory=list)
    url_query: list[str] = field(default_factory=list)
    referrer: list[str] = field(default_factory=list)
    who: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.line)

    def records(self, prefix: str, site_id: str) -> list[bytes]:
        """The encoded spool records of these page views (event ids ``prefix % line``)."""
        v, encode = self.visitors, ENCODER.encode
        return [
            encode(
                SpoolRecord(
                    prefix % n, site_id, ts, "pageview", host, path, query, ref,
                    v.user_agent[w], v.visitor_id[w], 0, "", "", "",
                    v.country[w], v.region[w], v.city[w], "", True, {},
                )
            )
            for n, ts, host, path, query, ref, w in zip(
                self.line, self.ts, self.hostname, self.pathname, self.url_query,
                self.referrer, self.who, strict=True,
            )
        ]  # fmt: skip


def salts_of(store: SaltStore) -> Callable[[int], bytes]:
    """UTC day number → the salt live collection hashes that day's visitors with."""
    memo: dict[int, bytes] = {}

    def salt(day: int) -> bytes:
        got = memo.get(day)
        if got is None:
            got = memo[day] = store.salts_for(datetime.fromtimestamp(day * 86_400, UTC))[0]
        return got

    return salt


def read_pages(
    lines: Iterator[str], how: LineRules, salt: Callable[[int], bytes], skipped: Counter[str]
) -> Iterator[tuple[Pages, int]]:
    """The page views in ``lines``, a piece at a time, each with the number of lines read
    so far; skips are counted by reason in ``skipped``."""
    parse, verdict, site, rules = parser_for(how.fmt), page_verdict, how.site, how.rules
    bots: dict[str, bool] = {}
    default_host = site.domains[0] if site.domains else ""
    geo = GeoLookup(how.maxmind_db).lookup
    seen: dict[tuple[str, str, int], int] = {}
    vis = Visitors()
    out = Pages(vis)
    # The columns' appends, bound once a piece: a page view costs seven of them.
    at_line, at_ts, at_host, at_path, at_query, at_ref, at_who = _appends(out)
    n = 0
    for n, line in enumerate(lines, 1):
        if not n % PIECE:
            yield out, n - 1
            if len(seen) > MAX_VISITORS:
                seen, vis = {}, Visitors()
            out = Pages(vis)
            at_line, at_ts, at_host, at_path, at_query, at_ref, at_who = _appends(out)
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
        who = seen.get(key)
        if who is None:  # each visitor's day: hashed and placed once
            who = seen[key] = len(vis.visitor_id)
            # The live pipeline's own definition (salts.visitor_hash), not a copy of it.
            vis.visitor_id.append(visitor_hash(salt(key[2]), site.id, ip, ua))
            vis.user_agent.append(ua)
            country, region, city = geo(ip)
            vis.country.append(country)
            vis.region.append(region)
            vis.city.append(city)
        at_line(n)
        at_ts(ts)
        at_host(host or default_host)
        at_path(pathname)
        at_query(clean_query(query) if query else "")
        at_ref(ref[:MAX_FIELD])
        at_who(who)
    yield out, n


def _appends(p: Pages) -> tuple[Callable[[Any], None], ...]:
    return (p.line.append, p.ts.append, p.hostname.append, p.pathname.append,
            p.url_query.append, p.referrer.append, p.who.append)  # fmt: skip
