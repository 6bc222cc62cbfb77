"""Bot and referrer-spam filtering, the ingest step that drops events nobody should count.

:func:`is_bot` says whether a user agent belongs to a crawler, a monitoring probe, a
command-line HTTP client or a headless browser. It combines the ``crawlerdetect`` patterns,
ua-parser's "Spider" device family and a few automation markers of our own, and caches its
answers, because real traffic repeats user agents. Headless Chromium counts as a bot unless
``allow_headless=True`` (our own browser tests run it).

:func:`is_referrer_spam` checks a referrer host and its parent domains against the vendored
referrer-spam list in ``data/referrer-spam.txt`` (see its header for its source; refresh it
with ``scripts/update_referrer_spam.py``). The list is read lazily, once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from importlib import resources
from typing import Literal

from crawlerdetect.crawlerdetect import get_compiled_crawler_regex, get_compiled_exclusions_regex
from crawlerdetect.providers.crawlers import data as crawler_patterns
from ua_parser import Domain

from footfall.ingest.useragent import MAX_UA_LENGTH, resolver

__all__ = ["CACHE_SIZE", "is_bot", "is_referrer_spam", "referrer_spam_hosts"]

CACHE_SIZE = 20_000

# Automation and non-browser clients that the crawler list may miss or that we want to
# name explicitly; matched case-insensitively anywhere in the user agent.
_AUTOMATION = re.compile(
    r"HeadlessChrome|Lighthouse|PhantomJS|Puppeteer|Playwright|Selenium|webdriver|"
    r"Chrome-Lighthouse|Electron/.*Headless|"
    r"^curl/|^Wget/|python-requests|python-urllib|python-httpx|aiohttp|Go-http-client|"
    r"^okhttp/|^Java/|libwww-perl|^axios/|node-fetch|^undici|^Apache-HttpClient",
    re.IGNORECASE,
)
_HEADLESS = re.compile(r"HeadlessChrome", re.IGNORECASE)

_SPAM_LIST = "referrer-spam.txt"
# Look-ahead/behind groups without nested parentheses, e.g. "Yandex(?!Search)".
_LOOKAROUND = re.compile(r"\(\?<?[=!][^()]*\)")


def _python_search(agent: str) -> bool:
    return get_compiled_crawler_regex().search(agent) is not None


@functools.cache
def _crawler_search() -> Callable[[str], bool]:
    """A search over crawlerdetect's ~1,500 patterns with the fastest engine available.

    Python's ``re`` takes ~220 us on a typical browser string to try one big alternation;
    the Rust regex set inside ``ua-parser-rs`` (installed for ua-parser) takes ~11 us. Rust
    regexes have no look-around, so a pattern using one is loosened for Rust (a superset:
    a Rust miss is a miss) and a Rust hit on it is confirmed with Python's ``re``.
    """
    try:
        import ua_parser_rs
    except ImportError:  # pragma: no cover - ua-parser-rs is a declared dependency
        return _python_search
    loosened: set[int] = set()
    rows: list[tuple[str, Literal["i"] | None, str | None, str | None, str | None]] = []
    for index, pattern in enumerate(crawler_patterns):
        rust_pattern = _LOOKAROUND.sub("", pattern)
        if rust_pattern != pattern:
            loosened.add(index)
        rows.append((rust_pattern, "i", str(index), None, None))
    try:
        extractor = ua_parser_rs.DeviceExtractor(rows)
    except Exception:  # pragma: no cover - a pattern Rust cannot compile
        return _python_search

    def search(agent: str) -> bool:
        match = extractor.extract(agent)
        if match is None:
            return False
        return int(match.family) not in loosened or _python_search(agent)

    return search


def _crawlerdetect(ua: str) -> bool:
    """crawlerdetect's verdict, using its patterns directly (thread-safe, pure)."""
    agent = get_compiled_exclusions_regex().sub("", ua)
    return bool(agent.strip()) and _crawler_search()(agent)


def _is_spider(ua: str) -> bool:
    device = resolver()(ua, Domain.DEVICE).device
    return device is not None and device.family == "Spider"


@functools.lru_cache(maxsize=CACHE_SIZE)
def is_bot(ua: str, *, allow_headless: bool = False) -> bool:
    """True when ``ua`` is empty or belongs to a crawler, probe, HTTP library or automation.

    With ``allow_headless`` a headless Chromium is judged as the Chrome it otherwise is.
    """
    ua = ua.strip()[:MAX_UA_LENGTH]
    if not ua:
        return True
    if allow_headless:
        ua = _HEADLESS.sub("Chrome", ua)
    if _AUTOMATION.search(ua):
        return True
    return _crawlerdetect(ua) or _is_spider(ua)


@functools.cache
def referrer_spam_hosts() -> frozenset[str]:
    """The vendored referrer-spam hosts, loaded once on first use."""
    text = resources.files("footfall.ingest").joinpath("data", _SPAM_LIST).read_text("utf-8")
    hosts = (line.strip().lower() for line in text.splitlines())
    return frozenset(h for h in hosts if h and not h.startswith("#"))


def _parents(host: str) -> list[str]:
    """``a.b.example.com`` → [``a.b.example.com``, ``b.example.com``, ``example.com``]."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)] or [host]


@functools.lru_cache(maxsize=4096)
def is_referrer_spam(host: str) -> bool:
    """True when ``host`` (a bare host name) or one of its parent domains is a known spammer."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return False
    spam = referrer_spam_hosts()
    return any(candidate in spam for candidate in _parents(host))
