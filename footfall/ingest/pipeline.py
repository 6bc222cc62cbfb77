"""The request-path half of the ingest pipeline, as small named steps.

parse/validate (``validate.py``) → authenticate key → site → hostname check → timestamp
window → the site's own rules (Do-Not-Track / GPC when it honours them, excluded IP
ranges, excluded paths; see ``exclusions.py``) → identity (visitor id from the daily
salt, which needs the IP) → country (needs the IP) → spool record. Each step passes the
event on or stops it with a reason that is counted. The raw IP lives only in local
variables here: it is hashed, looked up and compared, never put into the record, a log
line or an error message.
"""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from dataclasses import dataclass

from footfall.config import Settings
from footfall.ingest.exclusions import NO_RULES
from footfall.ingest.geo import GeoLookup
from footfall.ingest.record import SpoolRecord
from footfall.ingest.sitecache import SiteCache
from footfall.ingest.utm import clean_query, split_url
from footfall.ingest.validate import FieldError, NativeEvent, parse_timestamp, stringify_props
from footfall.meta.repo import SiteInfo
from footfall.meta.salts import SaltStore, stable_id, visitor_hash
from footfall.telemetry import DROPPED


class Unauthorized(Exception):
    """Missing or unknown ingest key."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """The event was accepted by the API but filtered by policy (counted, not stored)."""

    reason: str


def host_allowed(host: str, domains: tuple[str, ...]) -> bool:
    """A page host belongs to a site when it is one of its domains or a subdomain of one."""
    host = host.removeprefix("www.")
    return any(host == d or host.endswith("." + d) for d in domains)


class _EventIds:
    """UUID-shaped ids from an 80-bit random prefix per process and a counter: unique
    across processes and restarts at a fraction of uuid4's cost on the hot path."""

    def __init__(self) -> None:
        self._prefix = secrets.randbits(80) << 48
        self._count = itertools.count()

    def next(self) -> str:
        h = f"{self._prefix | (next(self._count) & 0xFFFF_FFFF_FFFF):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_new_id = _EventIds().next


def event_uuid(client_id: str | None) -> str:
    """Canonical event id: the client's UUID, a UUID derived from any other client id (so
    retries still collapse), or a new unique one."""
    if client_id is None:
        return _new_id()
    try:
        return str(uuid.UUID(client_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "footfall:" + client_id))


class Pipeline:
    """Turns validated native events into spool records for one site."""

    def __init__(self, settings: Settings, sites: SiteCache, salts: SaltStore, geo: GeoLookup):
        self.sites, self.salts, self.geo = sites, salts, geo
        self._salt, self._salt_until = b"", 0  # today's salt, valid until UTC midnight
        self.max_past_ms = settings.max_past_days * 86_400_000
        self.max_future_ms = settings.max_future_seconds * 1000

    def authenticate(self, key: str | None) -> SiteInfo:
        if not key:
            raise Unauthorized("missing API key (x-api-key header or api_key)")
        site = self.sites.for_ingest_key(key)
        if site is None:
            raise Unauthorized("invalid API key")
        return site

    def build(
        self,
        event: NativeEvent,
        site: SiteInfo,
        client_ip: str,
        client_ua: str,
        opt_out: bool = False,
    ) -> SpoolRecord | Dropped:
        """Steps after authentication; raises FieldError for client mistakes. ``opt_out``:
        the request carried ``DNT: 1`` or ``Sec-GPC: 1`` (see ``exclusions.opted_out``)."""
        now_ms = int(time.time() * 1000)
        ts = parse_timestamp(event.timestamp, now_ms, self.max_past_ms, self.max_future_ms)
        hostname, _, query = split_url(event.url) if event.url else ("", "", "")
        pathname, _, path_query = event.path.partition("?")
        query = query or path_query
        server_side = event.ip is not None or event.user_agent is not None
        # Browser events must come from one of the site's pages (others are copies of the
        # snippet on someone else's site); server-side senders vouch with their key.
        # A url whose host cannot be read is no page of this site either.
        if event.url and not server_side and not host_allowed(hostname, site.domains):
            DROPPED.labels("hostname").inc()
            return Dropped("hostname")
        ip = event.ip or client_ip
        rules = self.sites.rules(site.id)
        if rules is not NO_RULES:
            reason = rules.drop_reason(opt_out, ip, pathname)
            if reason is not None:
                DROPPED.labels(reason).inc()
                return Dropped(reason)
        ua = event.user_agent if event.user_agent is not None else client_ua
        visitor = self._visitor_id(event, site.id, ip, ua, now_ms)
        country, region, city = self.geo.lookup(ip)
        props = stringify_props(event.metadata)
        if event.user_props:
            props.update({"user." + k: v for k, v in stringify_props(event.user_props).items()})
        return SpoolRecord(
            event_id=event_uuid(event.event_id),
            site_id=site.id,
            ts=ts,
            name=event.event_type,
            hostname=hostname,
            pathname=pathname or "/",
            url_query=clean_query(query),
            referrer=event.referrer,
            user_agent=ua,
            visitor_id=visitor,
            session_id=stable_id("s:" + event.session_id) if event.session_id else 0,
            user_id=event.user_id or "",
            screen=event.screen,
            language=event.language,
            country=country,
            region=region,
            city=city,
            title=event.title,
            # A pageview is always interactive; engagement events never are.
            interactive=event.event_type == "pageview"
            or (event.interactive and event.event_type != "engagement"),
            props=props,
            revenue=event.revenue,
            duration_ms=event.engaged_ms,
            load_time_ms=event.load_time_ms,
            scroll_depth=event.scroll_depth,
        )

    def _visitor_id(self, event: NativeEvent, site_id: str, ip: str, ua: str, now_ms: int) -> int:
        # DESIGN.md "Identity": client visitor id, then user id, then the cookieless hash.
        if event.visitor_id:
            return stable_id("v:" + event.visitor_id)
        if event.user_id:
            return stable_id("u:" + event.user_id)
        if now_ms >= self._salt_until:
            self._salt = self.salts.salts_for()[0]
            self._salt_until = (now_ms // 86_400_000 + 1) * 86_400_000
        return visitor_hash(self._salt, site_id, ip, ua)


__all__ = ["Dropped", "FieldError", "Pipeline", "Unauthorized", "event_uuid", "host_allowed"]
