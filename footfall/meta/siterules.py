"""Value rules of a site's privacy settings, exclusions, retention, goals and funnels.

Everything here is pure (no database), like :mod:`footfall.meta.values`: the repository
(:mod:`footfall.meta.prefs`) calls these before it writes, so a bad value is reported as
a :class:`~footfall.meta.values.MetaValidationError` naming the form field.

Path patterns are globs over a URL path, with Plausible's meanings: ``*`` matches any
characters except ``/`` (one path segment), ``**`` matches anything (any depth), every
other character stands for itself, and a trailing ``/`` is optional. So ``/admin/*``
matches ``/admin/users`` but not ``/admin/users/7``; ``/preview/**`` matches both
``/preview/a`` and ``/preview/a/b``. :func:`glob_regex` gives the anchored regular
expression (RE2-compatible, so the same text works in DuckDB's and ClickHouse's regex
functions and in the query API's ``matches`` filter).
"""

from __future__ import annotations

import ipaddress
import itertools
import re

from footfall.meta.values import MetaValidationError

MAX_IP_RANGES = 100
MAX_PATTERNS = 50
MAX_PATTERN_LEN = 500
MAX_RETENTION_DAYS = 3650
GOAL_KINDS = ("page", "event")
MIN_FUNNEL_STEPS, MAX_FUNNEL_STEPS = 2, 8
MAX_WINDOW_HOURS = 24 * 90
_SPLIT = re.compile(r"[\s,]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(text or "") if t]


def parse_ip_ranges(text: str, field: str = "excluded_ips") -> tuple[str, ...]:
    """CIDR ranges or single addresses (IPv4 or IPv6), separated by spaces, commas or
    lines; returned in canonical form (``10.1.2.3/8`` → ``10.0.0.0/8``), duplicates removed."""
    out: dict[str, None] = {}
    for token in _tokens(text):
        try:
            out[str(ipaddress.ip_network(token, strict=False))] = None
        except ValueError:
            raise MetaValidationError(
                field, f"{token!r} is not an IP address or CIDR range"
            ) from None
    if len(out) > MAX_IP_RANGES:
        raise MetaValidationError(field, f"at most {MAX_IP_RANGES} ranges are allowed")
    return tuple(out)


def check_path_pattern(pattern: str, field: str) -> str:
    """One path glob: starts with ``/``, no spaces, at most 500 characters."""
    value = (pattern or "").strip()
    if not value.startswith("/"):
        raise MetaValidationError(field, f"{value!r} must start with '/'")
    if len(value) > MAX_PATTERN_LEN or any(ch.isspace() for ch in value):
        raise MetaValidationError(field, f"{value[:40]!r} is not a path pattern (no spaces, ≤ 500)")
    if "***" in value:
        raise MetaValidationError(field, f"{value!r}: use * (one segment) or ** (any depth)")
    return value


def parse_path_patterns(text: str, field: str = "excluded_paths") -> tuple[str, ...]:
    """Path globs separated by spaces, commas or lines; duplicates removed, order kept."""
    out = tuple(dict.fromkeys(check_path_pattern(t, field) for t in _tokens(text)))
    if len(out) > MAX_PATTERNS:
        raise MetaValidationError(field, f"at most {MAX_PATTERNS} patterns are allowed")
    return out


def glob_regex(pattern: str) -> str:
    """The anchored regular expression of a path glob (see the module docstring)."""
    body = pattern.rstrip("/") if len(pattern) > 1 else ""
    parts = []
    for i, chunk in enumerate(body.split("**")):
        if i:
            parts.append(".*")
        parts.append("[^/]*".join(re.escape(piece) for piece in chunk.split("*")))
    return "^" + "".join(parts) + "/?$"


def parse_retention(text: str | int | None, field: str = "retention_days") -> int | None:
    """Days to keep a site's raw events: 1-3650, or empty/None for the instance setting."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    value = text.strip() if isinstance(text, str) else text
    if isinstance(value, str) and not value.isdigit():
        raise MetaValidationError(field, "expected a whole number of days, or empty")
    days = int(value)
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise MetaValidationError(field, f"must be 1-{MAX_RETENTION_DAYS} days, or empty")
    return days


def check_label(value: str, field: str, limit: int = 100) -> str:
    """A display name: 1 to ``limit`` printable characters, surrounding spaces removed."""
    cleaned = (value or "").strip()
    if not cleaned:
        raise MetaValidationError(field, "must not be empty")
    if len(cleaned) > limit or not cleaned.isprintable():
        raise MetaValidationError(field, f"must be at most {limit} printable characters")
    return cleaned


def check_goal(
    name: str, kind: str, target: str, prop_key: str = "", prop_value: str = ""
) -> tuple[str, str, str, str, str]:
    """A goal's fields, checked and cleaned: ``target`` is a path glob for ``page`` goals
    and an event name for ``event`` goals; a property filter needs both key and value."""
    name = check_label(name, "goal_name")
    if kind not in GOAL_KINDS:
        raise MetaValidationError("goal_kind", "must be 'page' or 'event'")
    if kind == "page":
        target = check_path_pattern(target, "goal_path")
    else:
        target = check_label(target, "goal_event", 120)
    prop_key, prop_value = (prop_key or "").strip(), (prop_value or "").strip()
    if bool(prop_key) != bool(prop_value):
        field = "goal_prop_value" if prop_key else "goal_prop_key"
        raise MetaValidationError(field, "give both a property name and a value, or neither")
    if prop_key:
        prop_key = check_label(prop_key, "goal_prop_key", 300)
        prop_value = check_label(prop_value, "goal_prop_value", 2000)
    return name, kind, target, prop_key, prop_value


def check_currency(currency: str, kind: str) -> str:
    """A revenue goal's currency: an ISO 4217 code (three letters, kept upper case), on an
    event goal only, as Plausible's revenue goals; "" for a goal that is not one."""
    currency = (currency or "").strip().upper()
    if not currency:
        return ""
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise MetaValidationError("goal_currency", "an ISO 4217 code such as USD or EUR")
    if kind != "event":
        raise MetaValidationError("goal_currency", "only event goals are revenue goals")
    return currency


def check_funnel_steps(steps: list[int]) -> list[int]:
    """A funnel's ordered goal ids: 2 to 8 of them, no goal twice in a row."""
    if not MIN_FUNNEL_STEPS <= len(steps) <= MAX_FUNNEL_STEPS:
        raise MetaValidationError(
            "funnel_steps", f"choose {MIN_FUNNEL_STEPS} to {MAX_FUNNEL_STEPS} goals, in order"
        )
    if any(a == b for a, b in itertools.pairwise(steps)):
        raise MetaValidationError("funnel_steps", "the same goal cannot follow itself")
    return steps


def check_window(hours: int) -> int:
    """A funnel's conversion window: 0 (the same visit) or 1 to 2160 hours (90 days)."""
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= MAX_WINDOW_HOURS:
        raise MetaValidationError(
            "funnel_window", f"0 (the same visit) or 1 to {MAX_WINDOW_HOURS} hours"
        )
    return hours
