"""Site domains: how a hostname is normalised, and the rule that it belongs to one site.

Domains are normalised so that what an operator types, what the Plausible tracker sends
as ``domain`` and what a browser reports as ``location.hostname`` all compare equal:
surrounding spaces, a scheme (``https://``), user info, a port, a path, a query, a
fragment, a trailing dot and one leading ``www.`` are removed, the rest is lower-cased
and international names are turned into their ASCII (punycode) form. So
``"https://WWW.Example.com:8080/blog"`` is stored as ``"example.com"``; a site that really
wants to tell ``www.example.com`` and ``example.com`` apart cannot, by design.

A normalised domain belongs to at most one site. The keyless collectors (Plausible,
Umami) find a site by domain, so a second site listing the same domain would receive the
first one's traffic, and anyone who may read the second would read it. The repository
checks with :func:`refuse_taken` before writing, which gives a clear message, and the
unique index on ``site_domains.domain`` holds against a concurrent writer (the
repository then checks again, so that writer's caller gets the same message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import Site, SiteDomain
from footfall.meta.values import MetaValidationError

MAX_DOMAINS = 50

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(raw: str) -> str:
    """One hostname in its stored form (see the module docstring); raises on a bad one."""
    if not isinstance(raw, str):
        raise MetaValidationError("domains", "each domain must be a string")
    host = raw.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    if not host:
        raise MetaValidationError("domains", f"{raw!r} is not a hostname")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise MetaValidationError("domains", f"{raw!r} is not a hostname") from None
    # After IDNA, which maps look-alikes (full-width letters, the ideographic full stop) to
    # ASCII: before it, they would spell one host two ways.
    host = host.rstrip(".").removeprefix("www.")
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        raise MetaValidationError("domains", f"{raw!r} is not a hostname")
    return host


def normalize_domains(domains: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty list of hostnames, normalised, duplicates removed, order kept."""
    if isinstance(domains, str) or not isinstance(domains, list | tuple):
        raise MetaValidationError("domains", "must be a list of hostnames")
    result = tuple(dict.fromkeys(normalize_domain(d) for d in domains))
    if not result:
        raise MetaValidationError("domains", "at least one domain is required")
    if len(result) > MAX_DOMAINS:
        raise MetaValidationError("domains", f"at most {MAX_DOMAINS} domains are allowed")
    return result


def taken(s: Session, hosts: Iterable[str], site_id: str | None = None) -> str | None:
    """The first of ``hosts`` that a site other than ``site_id`` owns, or None."""
    wanted = list(hosts)
    query = select(SiteDomain.domain).where(SiteDomain.domain.in_(wanted))
    if site_id is not None:
        query = query.where(SiteDomain.site_id != site_id)
    owned = set(s.scalars(query))
    return next((host for host in wanted if host in owned), None)


def refuse_taken(s: Session, hosts: Iterable[str], site_id: str | None = None) -> None:
    """Raise :class:`MetaValidationError` (field ``domains``) if another site owns one.

    The message names the domain, which the caller typed, but not the site that owns
    it, which the caller may not be allowed to know of.
    """
    host = taken(s, hosts, site_id)
    if host is not None:
        raise MetaValidationError("domains", f"{host} is already a domain of another site")


def assign_domains(s: Session, site: Site, hosts: tuple[str, ...]) -> None:
    """Give ``site`` exactly ``hosts``, in this order; refuses a domain another site owns."""
    refuse_taken(s, hosts, site.id)
    existing = {d.domain: d for d in site.domains}
    rows = [existing.get(h) or SiteDomain(domain=h) for h in hosts]
    for position, row in enumerate(rows):
        row.position = position
    site.domains = rows
