"""Query-string hygiene, UTM extraction and URL splitting."""

from __future__ import annotations

import pytest

from footfall.ingest.utm import ALLOWED_PARAMS, UTM, clean_query, split_url, utm_fields


def test_allow_list() -> None:
    assert {
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "ref",
        "source",
    } == ALLOWED_PARAMS


def test_clean_query_drops_secrets_and_keeps_order() -> None:
    query = "token=secret&email=a@b.c&utm_source=x&session=1&ref=hn&utm_medium=social"
    cleaned = clean_query(query)
    assert cleaned == "utm_source=x&ref=hn&utm_medium=social"
    assert "secret" not in cleaned and "a@b.c" not in cleaned and "a%40b.c" not in cleaned


def test_clean_query_encodes_and_accepts_leading_question_mark() -> None:
    assert clean_query("?utm_campaign=spring sale&x=1") == "utm_campaign=spring+sale"
    assert clean_query("utm_term=caf%C3%A9&UTM_Source=Mail") == "utm_term=caf%C3%A9&utm_source=Mail"


@pytest.mark.parametrize("query", ["", "?", "&&&", "=", "token=abc", "%%%", "a=b;c=d"])
def test_clean_query_empty_results(query: str) -> None:
    assert clean_query(query) == ""


def test_utm_fields() -> None:
    utm = utm_fields(
        "utm_source=news&utm_medium=email&utm_campaign=launch&utm_term=t&utm_content=c"
    )
    assert utm == UTM("news", "email", "launch", "t", "c")
    assert utm_fields("token=secret") == UTM()
    assert utm_fields("utm_source=a&utm_source=b").source == "a"


def test_utm_fields_truncated() -> None:
    assert len(utm_fields("utm_campaign=" + "x" * 1000).campaign) == 256


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://Example.COM:8443/Pricing?utm_source=x#top",
            ("example.com", "/Pricing", "utm_source=x"),
        ),
        ("https://example.com", ("example.com", "/", "")),
        ("http://[2001:db8::1]:80/a?b=c", ("2001:db8::1", "/a", "b=c")),
        ("/relative/path?q=1", ("", "/relative/path", "q=1")),
        ("", ("", "/", "")),
    ],
)
def test_split_url(url: str, expected: tuple[str, str, str]) -> None:
    assert split_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[nope]/x?y=1",
        "javascript:alert(1)",
        "not a url",
        "\x00",
        "::::",
        "https://" + "a/" * 5000,
    ],
)
def test_split_url_never_raises(url: str) -> None:
    host, path, query = split_url(url)
    assert path.startswith("/")
    assert len(path) <= 2048
    assert isinstance(host, str) and isinstance(query, str)


def test_split_url_salvages_bad_ipv6() -> None:
    assert split_url("http://[::1/a?b=c#d") == ("", "/a", "b=c")
