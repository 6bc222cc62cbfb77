"""The event record that travels from the request path through the spool to the writer.

The request path fills what needs the request itself (site, time, the visitor hash that
needs the IP, the country that needs the IP); everything that can be batched and cached
(user agent, bots, referrer source, UTM) is derived by the writer from these fields. The
raw IP is not a field here: it never reaches the spool.
"""

from __future__ import annotations

import msgspec


class SpoolRecord(msgspec.Struct, omit_defaults=False):
    """One accepted event as written to the spool: one JSON object per record, so the
    writer can hand a whole batch to the store's JSON reader (no Python per event)."""

    event_id: str  # canonical UUID text
    site_id: str
    ts: int  # epoch milliseconds, UTC
    name: str  # "pageview", "engagement" or a custom event name
    hostname: str
    pathname: str
    url_query: str  # only utm_* and allow-listed parameters survive
    referrer: str
    user_agent: str
    visitor_id: int  # unsigned 64-bit
    session_id: int  # 0 = let the writer assign one by the 30-minute rule
    user_id: str
    screen: str
    language: str
    country: str
    region: str
    city: str
    title: str
    interactive: bool
    props: dict[str, str]
    revenue: float | None = None
    duration_ms: int | None = None
    load_time_ms: int | None = None
    scroll_depth: int | None = None


ENCODER = msgspec.json.Encoder()
DECODER = msgspec.json.Decoder(SpoolRecord)
