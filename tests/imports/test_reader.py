"""The page rules of footfall/imports/accesslog/reader.py, applied to columns, against a
plain-Python reference that applies them line by line in the documented order (the page
rules, bots, other hosts, the site's excluded IPs and paths): the same page views, the same
visitor ids and the same skip counts, hosts and content types (Caddy, Apache) included."""

from __future__ import annotations

import ipaddress
import random
import re
from collections import Counter
from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest

from footfall.imports.accesslog import reader as reader_module
from footfall.imports.accesslog.formats import page_verdict
from footfall.imports.accesslog.hits import HITS
from footfall.imports.accesslog.reader import LineRules, PageReader
from footfall.ingest.bots import is_bot
from footfall.ingest.exclusions import SiteRules
from footfall.ingest.pipeline import host_allowed
from footfall.ingest.utm import clean_query
from footfall.meta.repo import SiteInfo
from footfall.meta.salts import visitor_hash

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SITE = SiteInfo("shop", "Shop", ("shop.example", "shop.test"), "UTC", datetime(2024, 1, 1))
RULES = SiteRules(
    networks=(ipaddress.ip_network("203.0.113.0/28"),), paths=re.compile(r"/admin(?:/.*)?")
)
TARGETS = [
    "/",
    "/a?utm_source=x&secret=1",
    "/app.js",
    "/admin/x",
    "/b.html",
    "/.well-known/x",
    "/c?",
]
PREFIX = "0badcafe-0000-0000-0000-%012x"


def salt(day: int) -> bytes:
    return day.to_bytes(16, "big")


def _hits(n: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    pick = rnd.choice
    return [
        {
            "line": i + 1,
            "ip": pick(["198.51.100.1", "198.51.100.2", "203.0.113.5", "2001:db8::1"]),
            "ts": 1_709_625_600_000 + rnd.randrange(3 * 86_400_000),
            "method": pick(["GET", "GET", "GET", "POST"]),
            "target": pick(TARGETS),
            "status": pick([200, 200, 200, 204, 301, 404]),
            "referrer": pick(["", "https://www.google.com/", "x" * 3000]),
            "user_agent": pick([FIREFOX, FIREFOX, "", "curl/8.5.0"]),
            "host": pick(["", "", "shop.example", "www.shop.test", "other.example"]),
            "content_type": pick(["", "", "text/html; charset=utf-8", "application/json"]),
        }
        for i in range(n)
    ]


def _reference(hits: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter[str]]:
    pages, skipped = [], Counter[str]()
    for h in hits:
        reason = page_verdict(h["method"], h["target"], h["status"], h["content_type"])
        if reason is None and is_bot(h["user_agent"]):
            reason = "bot"
        if reason is None and h["host"] and not host_allowed(h["host"], SITE.domains):
            reason = "other_host"
        path, _, query = h["target"].partition("?")
        if reason is None:
            reason = RULES.drop_reason(False, h["ip"], path or "/")
        if reason is not None:
            skipped[reason] += 1
            continue
        day = h["ts"] // 86_400_000
        pages.append({
            "event_id": PREFIX % h["line"], "ts": h["ts"], "hostname": h["host"] or "shop.example",
            "pathname": path or "/", "url_query": clean_query(query) if query else "",
            "referrer": h["referrer"][:2048], "user_agent": h["user_agent"],
            "visitor_id": visitor_hash(salt(day), "shop", h["ip"], h["user_agent"]),
        })  # fmt: skip
    return pages, skipped


@pytest.mark.parametrize("memo", [100_000, 3])  # 3: the visitors' memory starts afresh
def test_columns_give_the_page_views_the_line_by_line_rules_give(
    memo: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "MAX_MEMO", memo)
    reader = PageReader(LineRules(SITE, RULES, "caddy-json", False, ""), salt)
    skipped: Counter[str] = Counter()
    got = []
    hits = _hits(3000, 11)
    for at in range(0, len(hits), 1000):  # three blocks: the memos carry over
        table = pa.Table.from_pylist(hits[at : at + 1000], schema=HITS)
        got += reader.pages(table, PREFIX, skipped).to_pylist()
    want, want_skipped = _reference(hits)
    keys = list(want[0])
    assert [{k: g[k] for k in keys} for g in got] == want
    assert skipped == want_skipped
    assert set(skipped) == {"method", "status", "asset", "not_html", "bot", "other_host",
                            "excluded_ip", "excluded_path"}  # fmt: skip
    assert {g["name"] for g in got} == {"pageview"} and all(g["props"] == [] for g in got)
