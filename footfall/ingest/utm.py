"""URL hygiene for ingestion: split page URLs, keep allow-listed query parameters, read UTMs.

A page URL's query string may carry session tokens, e-mail addresses or other personal
data, so only the campaign parameters in :data:`ALLOWED_PARAMS` survive ingestion
(:func:`clean_query`); everything else is dropped before the event is stored.
:func:`utm_fields` reads the five ``utm_*`` tags for the events table, and
:func:`split_url` takes a page URL apart without ever raising on garbage.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = ["ALLOWED_PARAMS", "UTM", "clean_query", "split_url", "utm_fields"]

ALLOWED_PARAMS: frozenset[str] = frozenset(
    {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "ref", "source"}
)
"""Query parameters kept by :func:`clean_query`; all others are dropped."""

MAX_UTM_LENGTH = 256
MAX_PATH_LENGTH = 2048
MAX_HOST_LENGTH = 253
MAX_QUERY_LENGTH = 4096
"""Longer query strings are cut before parsing (a bound on work, not on what is kept)."""


@dataclass(frozen=True, slots=True)
class UTM:
    """The five UTM tags of a page URL, "" when absent."""

    source: str = ""
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""


def _pairs(query: str) -> list[tuple[str, str]]:
    query = query.removeprefix("?")[:MAX_QUERY_LENGTH]
    try:
        return parse_qsl(query, keep_blank_values=True)
    except ValueError:
        return []


@functools.lru_cache(maxsize=16_384)
def clean_query(query: str) -> str:
    """``query`` with only the allow-listed parameters, in their order, url-encoded.

    Parameter names are matched case-insensitively and stored lower-case; a leading "?"
    is accepted; the result has none.
    """
    kept = [(k.lower(), v) for k, v in _pairs(query) if k.lower() in ALLOWED_PARAMS]
    return urlencode(kept)


def utm_fields(query: str) -> UTM:
    """The UTM tags in ``query`` (first occurrence wins), each at most 256 characters."""
    found: dict[str, str] = {}
    for key, value in _pairs(query):
        name = key.lower()
        if name.startswith("utm_") and name not in found:
            found[name] = value.strip()[:MAX_UTM_LENGTH]
    return UTM(
        source=found.get("utm_source", ""),
        medium=found.get("utm_medium", ""),
        campaign=found.get("utm_campaign", ""),
        term=found.get("utm_term", ""),
        content=found.get("utm_content", ""),
    )


@functools.lru_cache(maxsize=16_384)
def split_url(url: str) -> tuple[str, str, str]:
    """``(hostname, pathname, query)`` of a page URL; never raises.

    The hostname is lower-case without port (or "" if there is none); the pathname
    defaults to "/" and is cut to 2048 characters; the query is raw (see
    :func:`clean_query`) and the fragment is dropped.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        path, query = parts.path, parts.query
    except ValueError:
        # e.g. an invalid IPv6 literal "http://[::1/": salvage what follows the host.
        host = ""
        rest = url.split("://", 1)[-1]
        slash = rest.find("/")
        rest = rest[slash:] if slash >= 0 else ""
        path, _, query = rest.partition("?")
        query = query.partition("#")[0]
        path = path.partition("#")[0]
    host = host.rstrip(".")[:MAX_HOST_LENGTH]
    if not path.startswith("/"):
        path = "/" + path if path else "/"
    return host, path[:MAX_PATH_LENGTH], query
