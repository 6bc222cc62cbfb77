"""Pure value rules: domain normalisation, slugs, key formats."""

from __future__ import annotations

import pytest

from footfall.meta.domains import normalize_domain, normalize_domains
from footfall.meta.values import (
    MetaValidationError,
    display_prefix,
    hash_secret,
    new_ingest_key,
    new_read_token,
    normalize_name,
    slugify,
    unique_slug,
    validate_timezone,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.com", "example.com"),
        ("www.example.com", "example.com"),
        ("www.www.example.com", "www.example.com"),
        ("ｗｗｗ.Example.com", "example.com"),  # full-width letters
        ("example.com\u3002", "example.com"),  # ideographic full stop
        ("http://example.com/path", "example.com"),
        ("https://user:pw@example.com:443/x?y#z", "example.com"),
        ("example.com:8080", "example.com"),
        ("example.com.", "example.com"),
        ("  sub.example.co.uk  ", "sub.example.co.uk"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("my-site.example", "my-site.example"),
    ],
)
def test_normalize_domain(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "http://",
        "exa mple.com",
        "-bad.com",
        "bad-.com",
        "a..b",
        "x" * 64 + ".com",
        "[::1]",
        "ex_ample.com",
    ],
)
def test_bad_domains(raw: str) -> None:
    with pytest.raises(MetaValidationError) as err:
        normalize_domain(raw)
    assert err.value.field == "domains"


def test_normalize_domains_dedupes_and_keeps_order() -> None:
    assert normalize_domains(["b.example", "www.a.example", "B.example", "a.example"]) == (
        "b.example",
        "a.example",
    )
    with pytest.raises(MetaValidationError, match="at least one"):
        normalize_domains([])
    with pytest.raises(MetaValidationError, match="at most"):
        normalize_domains([f"d{i}.example" for i in range(51)])


def test_names_and_timezones() -> None:
    assert normalize_name("  Blog ") == "Blog"
    assert normalize_name("x" * 100) == "x" * 100
    with pytest.raises(MetaValidationError, match="control"):
        normalize_name("a\nb")
    assert validate_timezone("UTC") == "UTC"
    assert validate_timezone("Asia/Kolkata") == "Asia/Kolkata"
    for bad in ("", "Nowhere", "../../etc/passwd", "Europe/"):
        with pytest.raises(MetaValidationError) as err:
            validate_timezone(bad)
        assert err.value.field == "timezone"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("My Site", "my-site"),
        ("  --My   Site!!--  ", "my-site"),
        ("Ça va", "ca-va"),
        ("Blog 2025", "blog-2025"),
        ("!!!", "site"),
        ("a" * 80, "a" * 48),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_unique_slug() -> None:
    assert unique_slug("blog", set()) == "blog"
    assert unique_slug("blog", {"blog"}) == "blog-2"
    assert unique_slug("blog", {"blog", "blog-2", "blog-4"}) == "blog-3"


def test_key_formats() -> None:
    key, token = new_ingest_key(), new_read_token()
    assert key.startswith("ffk_") and token.startswith("fft_")
    assert len(key) == len(token) == 36
    assert new_ingest_key() != key
    assert display_prefix(key) == key[:8]
    assert len(hash_secret(key)) == 64 and hash_secret(key) == hash_secret(key)
