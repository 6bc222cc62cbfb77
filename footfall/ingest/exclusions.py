"""A site's privacy and exclusion rules, compiled once for the request path.

:class:`SiteRules` is built from a site's :class:`~footfall.meta.prefs.PrivacyInfo` when
the site cache loads it, so each event costs only what its site asks for: nothing at all
for a site with no rules (:data:`NO_RULES`), one flag test for Do-Not-Track / Global
Privacy Control, one compiled regex for excluded paths, and an ``ipaddress`` parse only
when the site has excluded IP ranges.

The client IP is only compared here, never kept: it stays in the caller's locals.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from footfall.meta.prefs import PrivacyInfo
from footfall.meta.siterules import glob_regex

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def opted_out(dnt: str | None, gpc: str | None) -> bool:
    """Whether a request carries ``DNT: 1`` or ``Sec-GPC: 1``."""
    return (dnt is not None and dnt.strip() == "1") or (gpc is not None and gpc.strip() == "1")


@dataclass(frozen=True, slots=True)
class SiteRules:
    """What a site excludes; :meth:`drop_reason` says whether (and why) to drop an event."""

    respect_dnt: bool = False
    networks: tuple[Network, ...] = ()
    paths: re.Pattern[str] | None = None

    @classmethod
    def compile(cls, info: PrivacyInfo) -> SiteRules:
        if not (info.respect_dnt or info.excluded_ips or info.excluded_paths):
            return NO_RULES
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in info.excluded_ips)
        paths = (
            re.compile("|".join(f"(?:{glob_regex(p)})" for p in info.excluded_paths))
            if info.excluded_paths
            else None
        )
        return cls(info.respect_dnt, networks, paths)

    @property
    def empty(self) -> bool:
        return not (self.respect_dnt or self.networks or self.paths)

    def drop_reason(self, opt_out: bool, ip: str, pathname: str) -> str | None:
        """``"dnt"``, ``"excluded_ip"``, ``"excluded_path"`` or None (keep the event)."""
        if self.respect_dnt and opt_out:
            return "dnt"
        if self.networks and ip_excluded(ip, self.networks):
            return "excluded_ip"
        if self.paths is not None and self.paths.match(pathname or "/"):
            return "excluded_path"
        return None


NO_RULES = SiteRules()


def ip_excluded(ip: str, networks: tuple[Network, ...]) -> bool:
    """Whether ``ip`` is in one of ``networks``; an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``)
    counts as its IPv4 address. An unreadable address is never excluded."""
    try:
        addr = ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        mapped = addr.ipv4_mapped
        return any(mapped in n for n in networks if n.version == 4)
    return any(addr in n for n in networks if n.version == addr.version)
