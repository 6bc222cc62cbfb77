"""Referrer classification: which source ("Google", "Twitter", "news.example.com"…) sent a visit.

:func:`classify_referrer` turns a raw ``Referer`` into ``(referrer_source, referrer_host)``
the way Plausible shows them: known sources by the name Snowplow's referer list
(``referer-parser``) gives them, with a few corrections and additions (x.com is Twitter,
"Youtube" is "YouTube", Brave Search, ChatGPT…), unknown ones by their host without
"www.". An empty referrer, garbage, or a page of the site itself (its own domains and their
subdomains) gives ``("", "")``: Direct / None, and internal navigation is never a source.

:func:`source_from_utm` names the source from ``utm_source`` when there is no referrer.

Lookups are cached by host (and the site's domains), never by the full URL, whose path and
query vary endlessly.
"""

from __future__ import annotations

import functools
import re
import warnings
from urllib.parse import urlsplit

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from referer_parser import Referer

__all__ = ["classify_referrer", "normalize_host", "source_from_utm"]

MAX_SOURCE_LENGTH = 256

# Corrections of the list's names and sources it does not know, by host (without "www.").
# A host also matches its subdomains.
_HOST_NAMES: dict[str, str] = {
    "x.com": "Twitter",
    "t.co": "Twitter",
    "twitter.com": "Twitter",
    "youtube.com": "YouTube",
    "youtu.be": "YouTube",
    "search.brave.com": "Brave",
    "startpage.com": "Startpage",
    "kagi.com": "Kagi",
    "qwant.com": "Qwant",
    "ecosia.org": "Ecosia",
    "chatgpt.com": "ChatGPT",
    "chat.openai.com": "ChatGPT",
    "perplexity.ai": "Perplexity",
    "t.me": "Telegram",
    "web.whatsapp.com": "WhatsApp",
    "threads.net": "Threads",
    "bsky.app": "Bluesky",
    "com.google.android.gm": "Gmail",
    "com.google.android.googlequicksearchbox": "Google",
    "com.reddit.frontpage": "Reddit",
    "com.linkedin.android": "LinkedIn",
    "org.telegram.messenger": "Telegram",
}

# Names the list gives that Plausible spells differently.
_RENAMES: dict[str, str] = {"Youtube": "YouTube", "Vkontakte": "VKontakte"}

# Common utm_source spellings → source names (the rest go through the referer list).
_UTM_NAMES: dict[str, str] = {
    "google": "Google",
    "bing": "Bing",
    "duckduckgo": "DuckDuckGo",
    "facebook": "Facebook",
    "fb": "Facebook",
    "instagram": "Instagram",
    "ig": "Instagram",
    "twitter": "Twitter",
    "x": "Twitter",
    "linkedin": "LinkedIn",
    "reddit": "Reddit",
    "youtube": "YouTube",
    "yt": "YouTube",
    "tiktok": "TikTok",
    "pinterest": "Pinterest",
    "github": "GitHub",
    "hackernews": "Hacker News",
    "hn": "Hacker News",
    "newsletter": "Newsletter",
    "chatgpt": "ChatGPT",
    "chatgpt.com": "ChatGPT",
}

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62}[a-z0-9_])?(?:\.[a-z0-9_-]{1,63})*$")
_BARE_HOST = re.compile(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?:[:/?#]|$)")
_WEB_SCHEMES = frozenset({"http", "https", "android-app"})


def normalize_host(host: str) -> str:
    """Lower-case ``host`` without a trailing dot and without a leading "www."."""
    host = host.strip().lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _referrer_host(referrer: str) -> str:
    """The referrer's host without "www.", or "" when it is not a usable web referrer."""
    referrer = referrer.strip()
    if not referrer:
        return ""
    if "://" not in referrer and _BARE_HOST.match(referrer):
        referrer = "https://" + referrer  # "example.com/page" as some clients send it
    try:
        parts = urlsplit(referrer)
        host = parts.hostname or ""
    except ValueError:
        return ""
    if parts.scheme.lower() not in _WEB_SCHEMES:
        return ""
    host = normalize_host(host)
    return host if _HOST.match(host) else ""


def _is_own(host: str, own_domains: tuple[str, ...]) -> bool:
    for domain in own_domains:
        own = normalize_host(domain)
        if own and (host == own or host.endswith("." + own)):
            return True
    return False


def _known_name(host: str) -> str:
    """The source name for ``host`` from our table or the referer list, or ""."""
    labels = host.split(".")
    for i in range(len(labels)):
        if name := _HOST_NAMES.get(".".join(labels[i:])):
            return name
    if "." not in host:
        return ""
    try:
        name = Referer("https://" + host + "/").referer or ""
    except ValueError:
        return ""
    return _RENAMES.get(name, name)


@functools.lru_cache(maxsize=8192)
def _classify_host(host: str, own_domains: tuple[str, ...]) -> tuple[str, str]:
    if not host or _is_own(host, own_domains):
        return "", ""
    return (_known_name(host) or host)[:MAX_SOURCE_LENGTH], host[:MAX_SOURCE_LENGTH]


def classify_referrer(referrer: str, own_domains: tuple[str, ...]) -> tuple[str, str]:
    """``(referrer_source, referrer_host)``; ``("", "")`` means Direct / None.

    ``own_domains`` are the site's domains; referrers from them or their subdomains
    (with or without "www.") are internal navigation, not a source.
    """
    return _classify_host(_referrer_host(referrer), own_domains)


@functools.lru_cache(maxsize=4096)
def source_from_utm(utm_source: str) -> str:
    """The source named by ``utm_source`` (used when there is no referrer); "" if empty."""
    value = utm_source.strip()[:MAX_SOURCE_LENGTH]
    if not value:
        return ""
    key = value.lower()
    if name := _UTM_NAMES.get(key):
        return name
    host = normalize_host(key)
    if "." in host and _HOST.match(host) and (name := _known_name(host)):
        return name
    return value
