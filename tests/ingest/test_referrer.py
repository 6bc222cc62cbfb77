"""Referrer classification with the real referer-parser list."""

from __future__ import annotations

import warnings

import pytest

from footfall.ingest import referrer as referrer_module
from footfall.ingest.referrer import classify_referrer, source_from_utm

OWN = ("example.com",)


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.com/search?q=footfall+analytics", ("Google", "google.com")),
        ("https://www.google.co.uk/", ("Google", "google.co.uk")),
        ("https://www.bing.com/search?q=x", ("Bing", "bing.com")),
        ("https://duckduckgo.com/", ("DuckDuckGo", "duckduckgo.com")),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com",
            ("Facebook", "l.facebook.com"),
        ),
        ("https://t.co/AbCdEf123", ("Twitter", "t.co")),
        ("https://x.com/someone/status/1", ("Twitter", "x.com")),
        ("https://www.reddit.com/r/selfhosted/comments/abc/", ("Reddit", "reddit.com")),
        ("https://www.linkedin.com/feed/", ("LinkedIn", "linkedin.com")),
        ("https://www.youtube.com/watch?v=1", ("YouTube", "youtube.com")),
        ("https://news.ycombinator.com/item?id=38000000", ("Hacker News", "news.ycombinator.com")),
        ("https://search.brave.com/search?q=x", ("Brave", "search.brave.com")),
        ("android-app://com.google.android.gm/", ("Gmail", "com.google.android.gm")),
    ],
)
def test_known_sources(referrer: str, expected: tuple[str, str]) -> None:
    assert classify_referrer(referrer, OWN) == expected


def test_unknown_referrer_uses_host() -> None:
    got = classify_referrer("https://www.some-blog.dev/posts/1?utm=x", OWN)
    assert got == ("some-blog.dev", "some-blog.dev")
    got = classify_referrer("http://blog.example.org:8080/a", OWN)
    assert got == ("blog.example.org", "blog.example.org")


@pytest.mark.parametrize(
    "referrer",
    [
        "",
        "https://example.com/pricing",
        "https://www.example.com/",
        "https://docs.example.com/start",
        "https://EXAMPLE.com./x",
    ],
)
def test_direct_and_internal(referrer: str) -> None:
    assert classify_referrer(referrer, OWN) == ("", "")


def test_own_domain_given_with_www() -> None:
    assert classify_referrer("https://example.com/", ("www.example.com",)) == ("", "")
    assert classify_referrer("https://notexample.com/", ("example.com",)) == (
        "notexample.com",
        "notexample.com",
    )


@pytest.mark.parametrize(
    "referrer",
    [
        "javascript:alert(1)",
        "not a url",
        "http://[::1",
        "https://",
        "data:text/html,hi",
        "https://exa mple.com/",
        "\x00\x01",
        "https://" + "a" * 300 + ".com/",
    ],
)
def test_garbage_is_direct(referrer: str) -> None:
    assert classify_referrer(referrer, OWN) == ("", "")


def test_bare_host_referrer() -> None:
    assert classify_referrer("google.com", OWN) == ("Google", "google.com")


def test_cached_by_host_not_url() -> None:
    referrer_module._classify_host.cache_clear()
    for i in range(50):
        classify_referrer(f"https://www.google.com/search?q={i}", OWN)
    info = referrer_module._classify_host.cache_info()
    assert info.currsize == 1
    assert info.hits == 49


def test_no_deprecation_warning_on_use() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classify_referrer("https://www.bing.com/", ("other.org",))


@pytest.mark.parametrize(
    ("utm_source", "expected"),
    [
        ("google", "Google"),
        ("Google", "Google"),
        ("fb", "Facebook"),
        ("twitter", "Twitter"),
        ("news.ycombinator.com", "Hacker News"),
        ("my-newsletter-42", "my-newsletter-42"),
        ("  ", ""),
        ("", ""),
    ],
)
def test_source_from_utm(utm_source: str, expected: str) -> None:
    assert source_from_utm(utm_source) == expected
