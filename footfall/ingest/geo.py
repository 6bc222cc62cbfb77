"""Country, region and city of a visitor's IP address, looked up in memory on the request path.

With an operator-supplied MaxMind GeoLite2/GeoIP2 or DB-IP ``.mmdb`` file (read through the
``maxminddb`` package) :class:`GeoLookup` gives country, region (first subdivision) and
city; without one, or for an address (or a country) the file lacks, it falls back to
``iptocc``, which ships its own offline data and gives the country only. Private,
loopback, reserved and malformed addresses give ``("", "", "")``, and a lookup never
raises.

Raw IP addresses are never written anywhere: the only cache here is a small in-memory LRU
in front of the mmdb reader (iptocc answers in about 0.1 µs and needs none).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from typing import Any

import iptocc

__all__ = ["CACHE_SIZE", "UNKNOWN", "GeoLookup"]

CACHE_SIZE = 4096
UNKNOWN: tuple[str, str, str] = ("", "", "")
_MAX_NAME = 128


def _public_ip(ip: str) -> str:
    """The canonical text of ``ip`` if it is a valid, globally routable address, else ""."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if not addr.is_global or addr.is_multicast:
        return ""
    return str(addr)


def _english_name(record: Mapping[str, Any] | None) -> str:
    if not isinstance(record, Mapping):
        return ""
    names = record.get("names")
    if not isinstance(names, Mapping):
        return ""
    name = names.get("en", "")
    return name[:_MAX_NAME] if isinstance(name, str) else ""


def _country_code(record: Mapping[str, Any] | None) -> str:
    if not isinstance(record, Mapping):
        return ""
    code = record.get("iso_code", "")
    return code.upper() if isinstance(code, str) and len(code) == 2 else ""


def _from_mmdb_record(record: object) -> tuple[str, str, str]:
    if not isinstance(record, Mapping):
        return UNKNOWN
    country = _country_code(record.get("country")) or _country_code(
        record.get("registered_country")
    )
    subdivisions = record.get("subdivisions")
    region = ""
    if isinstance(subdivisions, list) and subdivisions:
        region = _english_name(subdivisions[0])
    return country, region, _english_name(record.get("city"))


def _iptocc(ip: str) -> str:
    """The built-in table's country of ``ip``, or ""."""
    # iptocc itself answers None for private, reserved and malformed text, at a fraction
    # of ipaddress's parsing cost; only IPv4-mapped IPv6 needs unwrapping.
    code = iptocc.country_code(ip)
    if code is None and ":" in ip and "." in ip:
        public = _public_ip(ip)
        code = iptocc.country_code(public) if public else None
    return code.upper() if isinstance(code, str) and len(code) == 2 else ""


class GeoLookup:
    """IP → ``(country ISO alpha-2, region, city)``; "" for whatever is unknown."""

    def __init__(self, mmdb_path: str = "") -> None:
        self.mmdb_path = mmdb_path
        self._reader: Any = None
        if mmdb_path:
            import maxminddb

            self._reader = maxminddb.open_database(mmdb_path)
        # Per-instance, in-memory only; never persisted.
        self._cached_mmdb = functools.lru_cache(maxsize=CACHE_SIZE)(self._mmdb_lookup)
        self._memo = functools.lru_cache(maxsize=65_536)(self._lookup)

    @property
    def source(self) -> str:
        """Which data answers: "mmdb" or "iptocc"."""
        return "mmdb" if self._reader is not None else "iptocc"

    def _mmdb_lookup(self, ip: str) -> tuple[str, str, str]:
        try:
            return _from_mmdb_record(self._reader.get(ip))
        except (ValueError, TypeError, OSError, KeyError, IndexError):
            return UNKNOWN

    def lookup(self, ip: str) -> tuple[str, str, str]:
        """``(country, region, city)`` of ``ip``; ``("", "", "")`` when unknown. Never raises.

        Memoised per address in process memory only (parsing the address costs more than
        the table lookup); nothing of it is ever written anywhere."""
        return self._memo(ip)

    def _lookup(self, ip: str) -> tuple[str, str, str]:
        try:
            if self._reader is None:
                return _iptocc(ip), "", ""
            public = _public_ip(ip)
            if not public:
                return UNKNOWN
            country, region, city = self._cached_mmdb(public)
            # An operator's database may lack an address (or its country): the built-in
            # table still knows the country.
            return country or _iptocc(public), region, city
        except Exception:  # a lookup must never fail an event
            return UNKNOWN

    def close(self) -> None:
        """Release the mmdb file (a no-op with iptocc) and forget memoised addresses."""
        self._memo.cache_clear()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
            self._cached_mmdb.cache_clear()
