"""Value rules of the metadata store: what a valid site looks like, and what keys look like.

Everything here is pure (no database): normalising and validating the fields of a site
(name, time zone; domains have their own module, :mod:`footfall.meta.domains`), deriving
the slug that becomes a site's id, and making, recognising and hashing ingest keys and
read tokens. The repository calls these before it writes anything, so a bad value is
reported as a :class:`MetaValidationError` naming the field, never as a database error.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import zoneinfo

INGEST_KEY_PREFIX = "ffk_"
READ_TOKEN_PREFIX = "fft_"  # noqa: S105 (a prefix, not a secret)
DISPLAY_PREFIX_LEN = 8
NAME_MAX_LEN = 100
SLUG_MAX_LEN = 48

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class MetaError(Exception):
    """Base class of the metadata store's own errors."""


class MetaValidationError(MetaError, ValueError):
    """A value given to the metadata store is not acceptable; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotAllowedError(MetaError, PermissionError):
    """The user may not do this; the message says who may."""


class SiteNotFoundError(MetaError, LookupError):
    """The site an operation needs does not exist."""

    def __init__(self, site_id: str) -> None:
        super().__init__(f"no such site: {site_id!r}")
        self.site_id = site_id


def normalize_name(name: str) -> str:
    """The site name with surrounding spaces removed; 1 to 100 characters."""
    if not isinstance(name, str):
        raise MetaValidationError("name", "must be a string")
    cleaned = name.strip()
    if not cleaned:
        raise MetaValidationError("name", "must not be empty")
    if len(cleaned) > NAME_MAX_LEN:
        raise MetaValidationError("name", f"must be at most {NAME_MAX_LEN} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise MetaValidationError("name", "must not contain control characters")
    return cleaned


def validate_timezone(timezone: str) -> str:
    """An IANA time zone name (``"Europe/Berlin"``) that this machine knows."""
    if not isinstance(timezone, str) or not timezone.strip():
        raise MetaValidationError("timezone", "must be an IANA time zone name such as 'UTC'")
    name = timezone.strip()
    if name == "UTC":
        return name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise MetaValidationError("timezone", f"unknown time zone {name!r}") from None
    return name


def slugify(name: str) -> str:
    """The base slug of a name: lower-case ASCII letters, digits and single dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")
    return slug[:SLUG_MAX_LEN].rstrip("-") or "site"


def unique_slug(base: str, taken: set[str]) -> str:
    """``base`` if free, else ``base-2``, ``base-3`` ... the first one not in ``taken``."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def new_ingest_key() -> str:
    """A fresh random ingest key, ``ffk_`` followed by 32 URL-safe characters."""
    return INGEST_KEY_PREFIX + secrets.token_urlsafe(24)


def new_read_token() -> str:
    """A fresh random read token, ``fft_`` followed by 32 URL-safe characters."""
    return READ_TOKEN_PREFIX + secrets.token_urlsafe(24)


def hash_secret(secret: str) -> str:
    """The stored form of a key or token: its SHA-256 as lower-case hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str) -> str:
    """The first characters of a key or token, safe to show in listings."""
    return secret[:DISPLAY_PREFIX_LEN]


def looks_like(secret: object, prefix: str) -> bool:
    """Whether ``secret`` could be a key of this kind (cheap check before any lookup)."""
    return isinstance(secret, str) and secret.startswith(prefix) and 8 < len(secret) <= 200
