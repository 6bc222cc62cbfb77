"""Bot and referrer-spam filtering with the real crawlerdetect, ua-parser and vendored list."""

from __future__ import annotations

import pytest

from footfall.ingest.bots import is_bot, is_referrer_spam, referrer_spam_hosts

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.28 Safari/537.36"
)


@pytest.mark.parametrize("ua", [CHROME_WINDOWS, SAFARI_IPHONE, FIREFOX_LINUX, ANDROID_TABLET])
def test_browsers_are_not_bots(ua: str) -> None:
    assert not is_bot(ua)


@pytest.mark.parametrize(
    "ua",
    [
        "",
        "   ",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html) Chrome/120.0.6099.129 Safari/537.36",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.4.0",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Go-http-client/1.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Chrome-Lighthouse",
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
        "PhantomJS/2.1.1 Safari/538.1",
        HEADLESS,
    ],
)
def test_bots(ua: str) -> None:
    assert is_bot(ua)


def test_headless_is_switchable_and_cached_separately() -> None:
    assert is_bot(HEADLESS)
    assert not is_bot(HEADLESS, allow_headless=True)
    assert is_bot(HEADLESS)  # the allow_headless answer did not leak into the default
    assert is_bot("curl/8.4.0", allow_headless=True)
    assert is_bot("", allow_headless=True)


def test_spam_list_loaded_once() -> None:
    hosts = referrer_spam_hosts()
    assert isinstance(hosts, frozenset)
    assert len(hosts) > 100
    assert referrer_spam_hosts() is hosts
    assert all(h == h.lower() and not h.startswith("#") for h in hosts)


@pytest.mark.parametrize(
    "host", ["semalt.com", "SEMALT.com", "sub.semalt.com", "a.b.darodar.com", "semalt.com."]
)
def test_referrer_spam(host: str) -> None:
    assert is_referrer_spam(host)


@pytest.mark.parametrize(
    "host", ["", "google.com", "news.ycombinator.com", "notsemalt.com", "semalt.com.example.org"]
)
def test_not_referrer_spam(host: str) -> None:
    assert not is_referrer_spam(host)


CORPUS = [
    CHROME_WINDOWS,
    SAFARI_IPHONE,
    FIREFOX_LINUX,
    ANDROID_TABLET,
    HEADLESS,
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 YaBrowser/23.11 YandexSearch/23.112 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
    "Dalvik/2.1.0 (Linux; U; Android 11; M2010J19SG Build/RKQ1.201004.002)",
    "WhatsApp/2.23.20.0",
    "Ünïcödé brøwser/1.0",
]


def test_fast_crawler_search_matches_crawlerdetect() -> None:
    from crawlerdetect import CrawlerDetect

    from footfall.ingest import bots

    fast = bots._crawler_search()
    assert fast is not bots._python_search, "ua-parser-rs engine not in use"
    detector = CrawlerDetect()
    for ua in CORPUS:
        assert bots._crawlerdetect(ua) == detector.is_crawler(ua), ua
