"""The request-path half of the ingest pipeline, as small named steps.

parse/validate (``validate.py``) → authenticate key → site → hostname check → timestamp
window → the site's own rules (Do-Not-Track / GPC when it honours them, excluded IP
ranges, excluded paths; see ``exclusions.py``) → identity (visitor id from the daily
salt, which needs the IP) → country (needs the IP) → spool record. Each step passes the
event on or stops it with a reason that is counted (per site for the last hour, see
``recentdrops.py``, and in ``/metrics``). The raw IP lives only in local
variables here: it is hashed, looked up and compared, never put into the record, a log
line or an error message.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from footfall.config import Settings
from footfall.ingest.exclusions import NO_RULES, SiteRules
from footfall.ingest.geo import GeoLookup
from footfall.ingest.recentdrops import RecentDrops
from footfall.ingest.record import ENCODER, SpoolRecord
from footfall.ingest.sitecache import SiteCache
from footfall.ingest.utm import clean_query, split_url
from footfall.ingest.validate import (
    FieldError,
    NativeEvent,
    check_event,
    check_ip,
    decode_event,
    parse_timestamp,
    stringify_props,
)
from footfall.meta.repo import SiteInfo
from footfall.meta.salts import LASTING, SaltStore, lasting_id, stable_id


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
        h = f"{secrets.randbits(80):020x}"
        # The prefix is the first 20 hex digits, i.e. exactly the first four groups.
        self._format = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-%012x"
        self._count = itertools.count()

    def next(self) -> str:
        return self._format % (next(self._count) & 0xFFFF_FFFF_FFFF)


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
        self.drops = RecentDrops()
        self._salt, self._salt_until = b"", 0  # today's salt, valid until UTC midnight
        self._hasher = hashlib.blake2b(digest_size=8)  # keyed with _salt once it is read
        self._last: tuple[str, int] = ("", 0)  # the last hash input and its visitor id
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
        now_ms: int | None = None,
    ) -> SpoolRecord | Dropped:
        """Steps after authentication; raises FieldError for client mistakes. ``opt_out``:
        the request carried ``DNT: 1`` or ``Sec-GPC: 1`` (see ``exclusions.opted_out``).
        ``now_ms``: the time the request arrived (default: the clock)."""
        if now_ms is None:
            now_ms = time.time_ns() // 1_000_000
        return self._build(
            event, site, client_ip, client_ua, opt_out, now_ms, self.sites.rules(site.id)
        )

    def _build(
        self,
        event: NativeEvent,
        site: SiteInfo,
        client_ip: str,
        client_ua: str,
        opt_out: bool,
        now_ms: int,
        rules: SiteRules,
    ) -> SpoolRecord | Dropped:
        if event.timestamp is None:
            ts = now_ms
        else:
            ts = parse_timestamp(event.timestamp, now_ms, self.max_past_ms, self.max_future_ms)
        url = event.url
        hostname, _, query = split_url(url) if url else ("", "", "")
        pathname, _, path_query = event.path.partition("?")
        query = query or path_query
        server_side = event.ip is not None or event.user_agent is not None
        # Browser events must come from one of the site's pages (others are copies of the
        # snippet on someone else's site); server-side senders vouch with their key.
        # A url whose host cannot be read is no page of this site either.
        if url and not server_side and not host_allowed(hostname, site.domains):
            self.drops.add(site.id, "hostname", host=hostname)
            return Dropped("hostname")
        # Checked here rather than in check_event: batches skip that on their hot path.
        ip = check_ip(event.ip) if event.ip else client_ip
        if rules is not NO_RULES:
            reason = rules.drop_reason(opt_out, ip, pathname)
            if reason is not None:
                self.drops.add(site.id, reason)
                return Dropped(reason)
        ua = event.user_agent if event.user_agent is not None else client_ua
        # docs/design.md "Identity and privacy": client visitor id, then user id, then the
        # cookieless hash.
        if event.visitor_id:
            visitor = lasting_id("v:" + event.visitor_id)
        elif event.user_id:
            visitor = lasting_id("u:" + event.user_id)
        else:
            visitor = self._visitor_hash(site.id, ip, ua, now_ms)
        country, region, city = self.geo.lookup(ip)
        if event.metadata or event.user_props:
            props = stringify_props(event.metadata)
            if event.user_props:
                user = stringify_props(event.user_props)
                props.update({"user." + k: v for k, v in user.items()})
        else:
            props = {}
        name = event.event_type
        # Positional, in field order (a test pins the order): keyword arguments cost a
        # Struct about 2 µs more per event.
        return SpoolRecord(
            _new_id() if event.event_id is None else event_uuid(event.event_id),  # event_id
            site.id,  # site_id
            ts,  # ts
            name,  # name
            hostname,  # hostname
            pathname or "/",  # pathname
            clean_query(query) if query else "",  # url_query
            event.referrer,  # referrer
            ua,  # user_agent
            visitor,  # visitor_id
            stable_id("s:" + event.session_id) if event.session_id else 0,  # session_id
            event.user_id or "",  # user_id
            event.screen,  # screen
            event.language,  # language
            country,  # country
            region,  # region
            city,  # city
            event.title,  # title
            # interactive: a pageview always is; engagement events never are.
            name == "pageview" or (event.interactive and name != "engagement"),
            props,  # props
            event.revenue,  # revenue
            event.engaged_ms,  # duration_ms
            event.load_time_ms,  # load_time_ms
            event.scroll_depth,  # scroll_depth
        )

    def build_many(
        self,
        events: list[Any],
        site: SiteInfo,
        client_ip: str,
        client_ua: str,
        opt_out: bool = False,
    ) -> tuple[list[bytes], list[dict[str, Any]], int]:
        """A batch request's events, each judged on its own: ``(spool payloads, rejected,
        dropped)``. Items are NativeEvents or still-raw JSON objects (validated here, so
        that each error names its index)."""
        now_ms = time.time_ns() // 1_000_000
        rules = self.sites.rules(site.id)
        payloads: list[bytes] = []
        rejected: list[dict[str, Any]] = []
        dropped = 0
        build, encode = self._build, ENCODER.encode
        for index, item in enumerate(events):
            try:
                if type(item) is NativeEvent and item.path.startswith("/"):
                    event = item  # check_event's one rule, inline
                else:
                    event = (
                        check_event(item) if isinstance(item, NativeEvent) else decode_event(item)
                    )
                record = build(event, site, client_ip, client_ua, opt_out, now_ms, rules)
            except FieldError as exc:
                rejected.append({"index": index, "field": exc.field, "message": exc.message})
                continue
            if isinstance(record, Dropped):
                dropped += 1
            else:
                payloads.append(encode(record))
        return payloads, rejected, dropped

    def _visitor_hash(self, site_id: str, ip: str, ua: str, now_ms: int) -> int:
        if now_ms >= self._salt_until:
            self._salt = self.salts.salts_for()[0]
            self._hasher = hashlib.blake2b(digest_size=8, key=self._salt)
            self._last = ("", 0)
            self._salt_until = (now_ms // 86_400_000 + 1) * 86_400_000
        # = salts.visitor_hash(salt, site_id, ip, ua), from a copy of the keyed state
        # instead of keying a new hasher for every event.
        text = f"{site_id}\0{ip}\0{ua}"
        if text == self._last[0]:  # a browser's batch: one visitor, many events
            return self._last[1]
        digest = self._hasher.copy()
        digest.update(text.encode("utf-8", "surrogatepass"))
        visitor = int.from_bytes(digest.digest(), "big") & ~LASTING
        self._last = (text, visitor)
        return visitor


__all__ = ["Dropped", "FieldError", "Pipeline", "Unauthorized", "event_uuid", "host_allowed"]
