"""Plausible- and Umami-compatible collectors, feeding the same pipeline as the native API.

- Plausible Events API: ``POST /api/event`` whose body has Plausible's keys (the native
  handler hands it here, see :func:`footfall.ingest.compat.is_plausible`). Answers as
  Plausible does: ``202 ok`` (also for bots, unknown domains and foreign page hosts, which
  are dropped and counted) and 400 ``{"errors": {field: [message]}}``.
- Umami: ``POST /api/send`` (one ``{type, payload}``) and ``POST /api/batch`` (a list of
  them); 200 with a small JSON body as Umami answers, 400 ``{"error": {...}}`` on bad input.
  Umami's ``identify`` calls are accepted but store nothing (Footfall keeps no session data).

The 2xx is sent only after the events are durable in the spool, as for the native API.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from footfall.api.clientip import client_ip
from footfall.api.collect_http import TooLarge, read_body
from footfall.api.ratelimit import retry_after_header
from footfall.api.responses import CORS_HEADERS, JSON
from footfall.ingest.compat import CompatError, plausible_event, umami_event
from footfall.ingest.exclusions import opted_out
from footfall.ingest.pipeline import Dropped
from footfall.ingest.record import ENCODER
from footfall.ingest.validate import NativeEvent
from footfall.meta.repo import SiteInfo
from footfall.queue.base import QueueFull
from footfall.runtime import Services
from footfall.telemetry import ACCEPTED, RECEIVED, REJECTED, count_drop

BATCH_LIMIT = 1 << 20
SEND_LIMIT = 64 << 10
HEADERS = {**CORS_HEADERS, "access-control-allow-headers": "content-type, x-api-key, x-umami-cache"}


class Refused(Exception):
    """A request-level refusal (rate limit, full spool) with its status and headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


async def _build(
    svc: Services, event: NativeEvent, site: SiteInfo, ip: str, ua: str, opt_out: bool = False,
    checked: bool = False,
) -> bytes | None:  # fmt: skip
    """The event's record for ``site`` (None: dropped); ``checked``: its key's limit was."""
    wait = None if checked else await svc.key_limiter.hit(site.id)
    if wait is not None:
        headers = {"retry-after": retry_after_header(wait)}
        raise Refused(429, "Too many requests for this site", headers)
    record = svc.pipeline.build(event, site, ip, ua, opt_out)
    return None if isinstance(record, Dropped) else ENCODER.encode(record)


async def _enqueue(svc: Services, payloads: list[bytes]) -> None:
    if not payloads:
        return
    try:
        await svc.queue.append(payloads)
    except QueueFull as exc:
        headers = {"retry-after": str(exc.retry_after)}
        raise Refused(503, exc.public, headers) from None
    ACCEPTED.inc(len(payloads))
    svc.shared.live.seen(payloads)


# -- Plausible -----------------------------------------------------------------------------


def _plausible_error(
    status: int, field: str, message: str, headers: dict[str, str] | None = None
) -> JSON:
    REJECTED.labels(str(status)).inc()
    return JSON({"errors": {field: [message]}}, status, {**HEADERS, **(headers or {})})


async def plausible(request: Request, svc: Services, ip: str, raw: dict[str, Any]) -> Response:
    """Handle a Plausible Events API body already read and parsed by the native handler."""
    try:
        domains, event = plausible_event(raw)
    except CompatError as exc:
        return _plausible_error(400, exc.field, exc.message)
    ua = request.headers.get("user-agent", "")
    opt_out = opted_out(request.headers.get("dnt"), request.headers.get("sec-gpc"))
    payloads: list[bytes] = []
    sites: dict[str, SiteInfo] = {}  # one event per site, however many spellings name it
    for domain in domains:
        site = svc.sites.for_domain(domain)
        if site is None:
            count_drop("unknown_site")
        else:
            sites.setdefault(site.id, site)
    try:
        if sites:
            # The IP's limit, when the native handler's front half left it to the check
            # with a key (one Redis round trip for both): taken with the first site's.
            refused = await svc.limits.both(ip, next(iter(sites)))
            if refused is not None:
                raise Refused(
                    429, "Too many requests", {"retry-after": retry_after_header(refused[1])}
                )
        for i, site in enumerate(sites.values()):
            payload = await _build(svc, event, site, ip, ua, opt_out, checked=i == 0)
            if payload is not None:
                payloads.append(payload)
        await _enqueue(svc, payloads)
    except Refused as exc:
        return _plausible_error(exc.status, "request", exc.message, exc.headers)
    return PlainTextResponse("ok", 202, headers=HEADERS)


# -- Umami ---------------------------------------------------------------------------------


def _umami_error(
    status: int, message: str, field: str = "body", headers: dict[str, str] | None = None
) -> JSON:
    REJECTED.labels(str(status)).inc()
    body = {"error": {"message": message, "field": field, "code": "bad-request", "status": status}}
    return JSON(body, status, {**HEADERS, **(headers or {})})


async def _read(request: Request, limit: int) -> tuple[Services, str, Any] | JSON:
    svc: Services = request.app.state.services
    ip = client_ip(request, svc.settings.trusted_proxies)
    wait = await svc.ip_limiter.hit(ip)
    if wait is not None:
        headers = {"retry-after": retry_after_header(wait)}
        return _umami_error(429, "Too many requests", "client", headers)
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype not in ("application/json", "text/plain", ""):
        return _umami_error(415, "Content-Type must be application/json", "content-type")
    try:
        raw = msgspec.json.decode(await read_body(request, limit))
    except TooLarge:
        return _umami_error(413, f"Body larger than {limit} bytes")
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return _umami_error(400, "Invalid JSON")
    return svc, ip, raw


async def _umami_one(request: Request, svc: Services, ip: str, body: Any) -> bytes | None:
    _kind, website, event = umami_event(body)
    site = svc.sites.for_alias(website)
    if site is None:
        raise CompatError("payload.website", "website not found")
    if event is None:
        return None
    headers = request.headers
    opt_out = opted_out(headers.get("dnt"), headers.get("sec-gpc"))
    return await _build(svc, event, site, ip, headers.get("user-agent", ""), opt_out)


async def umami_send(request: Request) -> Response:
    RECEIVED.labels("umami").inc()
    read = await _read(request, SEND_LIMIT)
    if isinstance(read, JSON):
        return read
    svc, ip, body = read
    try:
        payload = await _umami_one(request, svc, ip, body)
        await _enqueue(svc, [payload] if payload is not None else [])
    except CompatError as exc:
        return _umami_error(400, exc.message, exc.field)
    except Refused as exc:
        return _umami_error(exc.status, exc.message, "request", exc.headers)
    return JSON({"cache": "", "accepted": 1}, 200, HEADERS)


async def umami_batch(request: Request) -> Response:
    started = time.perf_counter()
    RECEIVED.labels("umami_batch").inc()
    read = await _read(request, BATCH_LIMIT)
    if isinstance(read, JSON):
        return read
    svc, ip, bodies = read
    if not isinstance(bodies, list) or not 0 < len(bodies) <= 1000:
        return _umami_error(400, "Body must be a list of 1 to 1000 events")
    payloads: list[bytes] = []
    details: list[dict[str, Any]] = []
    try:
        for index, body in enumerate(bodies):
            try:
                payload = await _umami_one(request, svc, ip, body)
            except CompatError as exc:
                details.append({"index": index, "field": exc.field, "message": exc.message})
                continue
            if payload is not None:
                payloads.append(payload)
        await _enqueue(svc, payloads)
    except Refused as exc:
        return _umami_error(exc.status, exc.message, "request", exc.headers)
    processed = len(bodies) - len(details)
    result = {
        "size": len(bodies), "processed": processed, "errors": len(details), "details": details,
        "cache": "", "processing_time_ms": round((time.perf_counter() - started) * 1000, 3),
    }  # fmt: skip
    return JSON(result, 200 if processed else 400, HEADERS)


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=HEADERS)
