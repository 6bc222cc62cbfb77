"""Hits to page views: the one definition of which log lines are page views and the spool
record's columns (``footfall.ingest.batch.steps.RECORD_COLUMNS``) each becomes.

:class:`PageReader` takes a block's hits (:mod:`.hits`) as Arrow columns and applies every
rule to the distinct values of the column it reads, in Python, and to the rows by Arrow
compute, so nothing runs in Python per line: the page rules per distinct request target
(:func:`~footfall.imports.accesslog.formats.page_verdict`'s path part, the path and the
cleaned query), bots per distinct user agent, the host per distinct host, and the visitor
hash and place per distinct visitor (IP, user agent) and UTC day (:mod:`.visitors`,
remembered across blocks). Skipped lines are
counted by the first rule they fail, in ``page_verdict``'s order, then bots, other hosts
and the site's exclusions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from footfall.imports.accesslog.formats import page_verdict
from footfall.imports.accesslog.visitors import VisitorColumns
from footfall.ingest.bots import is_bot
from footfall.ingest.exclusions import NO_RULES, SiteRules
from footfall.ingest.geo import GeoLookup
from footfall.ingest.pipeline import host_allowed
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.ingest.utm import clean_query
from footfall.meta.repo import SiteInfo
from footfall.meta.salts import SaltStore

MAX_FIELD = 2048  # the live API's limit on paths and referrers
# Distinct values remembered at most per memo; past it the memo starts afresh.
MAX_MEMO = 100_000
_TEXT = pa.string()


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


class PageReader:
    """Page views of one site from blocks of hits; what it judged is remembered across
    blocks and files (a log repeats its targets, user agents and visitors)."""

    def __init__(self, how: LineRules, salt: Callable[[int], bytes]) -> None:
        self.how, self.salt = how, salt
        self.geo = GeoLookup(how.maxmind_db).lookup
        self._visitors = VisitorColumns(how.site.id, salt, self.geo, MAX_MEMO)
        self._targets: dict[str, tuple[bool, str, str]] = {}  # -> (asset, pathname, query)
        self._bots: dict[str, bool] = {}
        self._excluded: dict[tuple[str, str], str | None] = {}

    def pages(self, hits: pa.Table, prefix: str, skipped: Counter[str]) -> pa.Table:
        """The spool record columns of the page views among ``hits`` (event ids ``prefix %
        line``); the other hits are counted by reason in ``skipped``."""
        method, status = hits.column("method"), hits.column("status")
        target = _encode(hits.column("target"))
        judged = [self._target(t) for t in target.dictionary.to_pylist()]
        asset = pc.take(pa.array([j[0] for j in judged], pa.bool_()), target.indices)
        ctype = hits.column("content_type")
        not_html = pc.and_(
            pc.not_equal(ctype, ""),
            pc.invert(pc.or_(pc.starts_with(ctype, "text/html"),
                             pc.starts_with(ctype, "application/xhtml"))),
        )  # fmt: skip
        status_ok = pc.and_(pc.greater_equal(status, 200), pc.less_equal(status, 299))
        keep = _count(skipped, pa.array([True] * hits.num_rows), [
            ("method", pc.not_equal(method, "GET")), ("status", pc.invert(status_ok)),
            ("not_html", not_html), ("asset", asset),
        ])  # fmt: skip
        hits = hits.append_column("t", target.indices).filter(keep)
        ua = _encode(hits.column("user_agent"))
        bot = self._per_value(ua, self._bot, pa.bool_())
        hits, ua = hits.filter(pc.invert(bot)), ua.filter(pc.invert(bot))
        skipped["bot"] += len(bot) - len(ua)
        site = self.how.site
        host = hits.column("host")
        if pc.any(pc.not_equal(host, "")).as_py():
            coded = _encode(host)
            other = self._per_value(coded, lambda h: bool(h) and not host_allowed(h, site.domains),
                                    pa.bool_())  # fmt: skip
            hits, ua = hits.filter(pc.invert(other)), ua.filter(pc.invert(other))
            skipped["other_host"] += len(other) - len(ua)
        paths = pa.array([j[1] for j in judged], _TEXT)
        t = hits.column("t")
        if self.how.rules is not NO_RULES:
            reasons = self._exclusions(hits.column("ip"), pc.take(paths, t))
            for reason, n in Counter(r for r in reasons if r is not None).items():
                skipped[reason] += n
            kept = pa.array([r is None for r in reasons], pa.bool_())
            hits, ua, t = hits.filter(kept), ua.filter(kept), t.filter(kept)
        visitors, who = self._visitors(hits.column("ip"), hits.column("ts"), ua)
        n = hits.num_rows
        blank = pa.repeat(pa.scalar("", _TEXT), n)
        host = hits.column("host")
        default_host = site.domains[0] if site.domains else ""
        columns: dict[str, Any] = {
            "event_id": pa.array([prefix % i for i in hits.column("line").to_pylist()], _TEXT),
            "site_id": pa.repeat(pa.scalar(site.id, _TEXT), n),
            "ts": hits.column("ts"),
            "name": pa.repeat(pa.scalar("pageview", _TEXT), n),
            "hostname": pc.if_else(pc.equal(host, ""), default_host, host),
            "pathname": pc.take(paths, t),
            "url_query": pc.take(pa.array([j[2] for j in judged], _TEXT), t),
            "referrer": pc.utf8_slice_codeunits(hits.column("referrer"), 0, MAX_FIELD),
            **{name: pc.take(values, who) for name, values in visitors.items()},
            "session_id": pa.repeat(pa.scalar(0, pa.uint64()), n),
            "user_id": blank, "screen": blank, "language": blank, "title": blank,
            "interactive": pa.repeat(pa.scalar(True), n),
            # n empty maps: offsets all zero (a list of n empty dicts costs 3 µs a row).
            "props": pa.MapArray.from_arrays(
                pa.repeat(pa.scalar(0, pa.int32()), n + 1), pa.array([], _TEXT), pa.array([], _TEXT)
            ),
            "revenue": pa.nulls(n, pa.float64()),
            **{k: pa.nulls(n, pa.int64()) for k in ("duration_ms", "load_time_ms", "scroll_depth")},
        }  # fmt: skip
        from footfall.ingest.batch.steps import RECORD_COLUMNS

        return pa.table({name: columns[name] for name in RECORD_COLUMNS})

    def _target(self, target: str) -> tuple[bool, str, str]:
        got = self._targets.get(target)
        if got is None:
            if len(self._targets) > MAX_MEMO:
                self._targets.clear()
            pathname, _, query = target.partition("?")
            got = self._targets[target] = (
                page_verdict("GET", target, 200, "") == "asset",
                pathname[:MAX_FIELD] or "/",
                clean_query(query) if query else "",
            )
        return got

    def _bot(self, ua: str) -> bool:
        got = self._bots.get(ua)
        if got is None:
            if len(self._bots) > MAX_MEMO:
                self._bots.clear()
            got = self._bots[ua] = is_bot(ua, allow_headless=self.how.allow_headless)
        return got

    @staticmethod
    def _per_value(
        coded: pa.DictionaryArray, judge: Callable[[str], bool], kind: pa.DataType
    ) -> pa.Array:
        return pc.take(
            pa.array([judge(v) for v in coded.dictionary.to_pylist()], kind), coded.indices
        )

    def _exclusions(self, ips: pa.Array, paths: pa.Array) -> list[str | None]:
        """The site's exclusion rules (IP ranges, paths), per distinct IP and path."""
        memo, rules = self._excluded, self.how.rules
        if len(memo) > MAX_MEMO:
            memo.clear()
        out = []
        for key in zip(ips.to_pylist(), paths.to_pylist(), strict=True):
            if key not in memo:
                memo[key] = rules.drop_reason(False, *key)
            out.append(memo[key])
        return out


def _encode(values: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.dictionary_encode(values)


def _count(skipped: Counter[str], keep: pa.Array, rules: list[tuple[str, pa.Array]]) -> pa.Array:
    """``keep`` less the rows each rule drops, counted under the first rule that drops it."""
    for reason, drop in rules:
        n = pc.sum(pc.and_(keep, drop)).as_py() or 0
        if n:
            skipped[reason] += n
            keep = pc.and_(keep, pc.invert(drop))
    return keep


def records(table: pa.Table) -> list[bytes]:
    """The encoded spool records of a page views table (for a queue workers drain)."""
    encode, cols = ENCODER.encode, [table.column(n).to_pylist() for n in _RECORD_FIELDS]
    return [
        encode(SpoolRecord(e, s, ts, n, h, p, q, r, u, v, sid, uid, sc, la, c, re, ci, ti, i, {}))
        for e, s, ts, n, h, p, q, r, u, v, sid, uid, sc, la, c, re, ci, ti, i in zip(
            *cols, strict=True
        )
    ]


_RECORD_FIELDS = (
    "event_id", "site_id", "ts", "name", "hostname", "pathname", "url_query", "referrer",
    "user_agent", "visitor_id", "session_id", "user_id", "screen", "language", "country",
    "region", "city", "title", "interactive",
)  # fmt: skip
