"""User-agent enrichment: browser, browser version, OS, OS version and device class.

The writer runs this on every event. It wraps the `ua-parser` library (v1 API) with the
Rust-backed ``ua-parser-rs`` resolver, which is about 15x faster than the pure-Python
resolver on a cold string, and an in-process LRU cache, because real traffic repeats a
small set of user agents. Names and versions are the ones Plausible's ingestion stores, so
a filter copied from a Plausible client matches: browser and OS versions major.minor
("120.0", "10.15", "17.1", "14"), "Mobile Safari" is "Safari", "Mac OS X" is "Mac",
devices "Desktop", "Mobile" and "Tablet", and so on (the values older Footfall versions
stored are rewritten by the stores: ``footfall.store.base.RENAMED_VALUES``).

Everything here is pure: the same string always gives the same :class:`UserAgentInfo`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ua_parser import OS, Device, Domain, Resolver, UserAgent, load_lazy_builtins

__all__ = ["CACHE_SIZE", "UserAgentInfo", "parse_user_agent", "resolver", "resolver_name"]

CACHE_SIZE = 20_000
"""Distinct user agents kept parsed in memory (a few MB at most)."""

MAX_UA_LENGTH = 1024
"""Longer strings are cut before parsing: no real browser sends more, abusers might."""

_BROWSER_NAMES: dict[str, str] = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Safari UI/WKWebView": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome Webview",
    "Chromium": "Chromium",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Opera Mini": "Opera Mini",
    "Samsung Internet": "Samsung Internet",
    "Yandex Browser": "Yandex Browser",
    "UC Browser": "UC Browser",
    "HeadlessChrome": "Headless Chrome",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer",
    "DuckDuckGo Mobile": "DuckDuckGo Privacy Browser",
}

_OS_NAMES: dict[str, str] = {
    "Mac OS X": "Mac",
    "Mac OS": "Mac",
    "Linux": "GNU/Linux",
    "Chrome OS": "Chrome OS",
    "Chromecast": "Chrome OS",
    "Windows Phone": "Windows Phone",
}

# "Windows 10", "Windows 7", "Windows XP"... are reported by older ua-parser data as the
# family; Plausible shows "Windows" with the number as the version.
_WINDOWS_FAMILY = re.compile(r"^Windows (\d+(?:\.\d+)?|XP|Vista|RT)$")

_TABLET_MARKERS = ("iPad", "Tablet", "Kindle", "Silk/", "PlayBook", "Nexus 7", "Nexus 9")

DESKTOP, MOBILE, TABLET = "Desktop", "Mobile", "Tablet"


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    """What the dashboard shows about a visitor's software and device ("" when unknown)."""

    browser: str
    browser_version: str
    os: str
    os_version: str
    device: str  # "Desktop", "Mobile", "Tablet", or "" for an empty/unknown user agent


EMPTY = UserAgentInfo("", "", "", "", "")


@functools.cache
def resolver() -> Resolver:
    """The fastest resolver available, built once (about 0.15 s) on first use."""
    matchers = load_lazy_builtins()
    try:
        from ua_parser.regex import Resolver as RegexResolver  # needs ua-parser-rs
    except ImportError:  # pragma: no cover - ua-parser-rs is a declared dependency
        from ua_parser import BasicResolver

        return BasicResolver(matchers)
    return RegexResolver(matchers)


def resolver_name() -> str:
    """The module path of the resolver in use ("ua_parser.regex" is the Rust one)."""
    return type(resolver()).__module__


def _browser(ua: UserAgent | None) -> tuple[str, str]:
    if ua is None or ua.family == "Other":
        return "", ""
    name = _BROWSER_NAMES.get(ua.family, ua.family)
    return name, _major_minor(ua.major, ua.minor)


def _major_minor(major: str | None, minor: str | None) -> str:
    if not major:
        return ""
    return f"{major}.{minor}" if minor else major


def _os(os: OS | None) -> tuple[str, str]:
    if os is None or os.family == "Other":
        return "", ""
    family = os.family
    major, minor = os.major or "", os.minor or ""
    if m := _WINDOWS_FAMILY.match(family):
        return "Windows", major or m.group(1)
    return _OS_NAMES.get(family, family), _major_minor(major, minor)


def _device(ua_string: str, os_name: str, device: Device | None) -> str:
    family = brand = ""
    if device is not None:
        family, brand = device.family, device.brand or ""
    if family == "iPad" or any(marker in ua_string for marker in _TABLET_MARKERS):
        return TABLET
    if "Tablet" in brand or "Tablet" in family:
        return TABLET
    if os_name == "Android":
        # Android phones say "Mobile"; Android tablets don't.
        return MOBILE if "Mobile" in ua_string else TABLET
    if family in ("iPhone", "iPod") or os_name in ("iOS", "Windows Phone", "KaiOS"):
        return MOBILE
    if "Mobi" in ua_string or "Opera Mini" in ua_string:
        return MOBILE
    return DESKTOP


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_user_agent(ua: str) -> UserAgentInfo:
    """Browser, OS and device class of ``ua``; all fields "" for an empty user agent."""
    ua = ua.strip()[:MAX_UA_LENGTH]
    if not ua:
        return EMPTY
    result = resolver()(ua, Domain.ALL)
    browser, browser_version = _browser(result.user_agent)
    os_name, os_version = _os(result.os)
    return UserAgentInfo(
        browser=browser,
        browser_version=browser_version,
        os=os_name,
        os_version=os_version,
        device=_device(ua, os_name, result.device),
    )
