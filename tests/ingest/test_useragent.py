"""User-agent parsing against real browser strings (real ua-parser, no mocks), into the
names and major.minor versions Plausible's ingestion stores."""

from __future__ import annotations

import pytest

from footfall.ingest.useragent import UserAgentInfo, parse_user_agent, resolver_name

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)
EDGE = CHROME_WINDOWS + " Edg/120.0.2210.91"
SAMSUNG = (
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"
)
OPERA = CHROME_WINDOWS + " OPR/106.0.0.0"
CHROME_OS = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
CHROME_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WINDOWS, UserAgentInfo("Chrome", "120.0", "Windows", "10", "Desktop")),
        (SAFARI_IPHONE, UserAgentInfo("Safari", "17.1", "iOS", "17.1", "Mobile")),
        (SAFARI_IPAD, UserAgentInfo("Safari", "16.6", "iOS", "16.6", "Tablet")),
        (FIREFOX_LINUX, UserAgentInfo("Firefox", "121.0", "GNU/Linux", "", "Desktop")),
        (ANDROID_PHONE, UserAgentInfo("Chrome", "120.0", "Android", "14", "Mobile")),
        (ANDROID_TABLET, UserAgentInfo("Chrome", "120.0", "Android", "13", "Tablet")),
        (SAFARI_MAC, UserAgentInfo("Safari", "17.1", "Mac", "10.15", "Desktop")),
        (EDGE, UserAgentInfo("Edge", "120.0", "Windows", "10", "Desktop")),
        (SAMSUNG, UserAgentInfo("Samsung Internet", "23.0", "Android", "13", "Mobile")),
        (OPERA, UserAgentInfo("Opera", "106.0", "Windows", "10", "Desktop")),
        (CHROME_IOS, UserAgentInfo("Chrome", "120.0", "iOS", "17.1", "Mobile")),
    ],
)
def test_real_user_agents(ua: str, expected: UserAgentInfo) -> None:
    assert parse_user_agent(ua) == expected


def test_chrome_os() -> None:
    info = parse_user_agent(CHROME_OS)
    assert (info.browser, info.os, info.device) == ("Chrome", "Chrome OS", "Desktop")


@pytest.mark.parametrize("ua", ["", "   "])
def test_empty_user_agent_is_all_unknown(ua: str) -> None:
    assert parse_user_agent(ua) == UserAgentInfo("", "", "", "", "")


def test_garbage_and_huge_strings_do_not_raise() -> None:
    for ua in ["not a browser", "\x00\xff", "Mozilla/5.0 (" * 5000]:
        info = parse_user_agent(ua)
        assert info.device in {"Desktop", "Mobile", "Tablet"}


def test_bot_user_agent_still_parses() -> None:
    assert parse_user_agent(GOOGLEBOT).browser == "Googlebot"


def test_uses_rust_resolver() -> None:
    assert resolver_name() == "ua_parser.regex"


def test_cached() -> None:
    parse_user_agent.cache_clear()
    first = parse_user_agent(CHROME_WINDOWS)
    assert parse_user_agent(CHROME_WINDOWS) is first
    assert parse_user_agent.cache_info().hits == 1
    assert parse_user_agent.cache_info().maxsize == 20_000
