"""Collection endpoints: ``POST /api/event`` (single) and ``POST /api/events`` (batch).

Thin by design: limits and the error envelope live here, the reading of requests and the
writing of responses in :mod:`footfall.api.collect_http`; every decision about an event is
the pipeline's. The 202 is sent only after the queue has made the event durable. CORS allows
any origin, because the tracker runs on the customer's pages.

These two endpoints take most of the traffic, so they work on the raw ASGI scope
(:func:`event_asgi`, :func:`events_asgi`, called by :class:`footfall.api.fastpath.FootfallApp`):
one pass over the header list instead of Starlette's ``Request``/``Headers`` objects, a
typed msgspec decode straight from the body bytes when the body is a valid native event,
and pre-encoded response headers. Anything unusual (Plausible bodies, a trusted proxy's
``X-Forwarded-For``, errors) takes the same steps as before, in the same order, so clients
see the same answers, with one exception: a number beyond float range (``1e999``) inside
an unknown field, which is ignored anyway, no longer makes the body a 400.
``post_event`` / ``post_events`` are the same handlers for Starlette's router.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from footfall import tracing
from footfall.api.collect_http import Disconnected, FastJSON, Incoming, TooLarge
from footfall.api.compat import plausible
from footfall.api.ratelimit import retry_after_header
from footfall.api.responses import CORS_HEADERS, UNREADABLE_BODY
from footfall.ingest.compat import is_plausible
from footfall.ingest.exclusions import opted_out
from footfall.ingest.pipeline import Dropped, Unauthorized
from footfall.ingest.record import ENCODER
from footfall.ingest.validate import (
    BatchBody,
    FieldError,
    NativeEvent,
    TypedBatchBody,
    check_event,
    decode_event,
    field_error,
)
from footfall.queue.base import QueueFull
from footfall.runtime import Services
from footfall.telemetry import ACCEPTED_ON_LOOP, RECEIVED_EVENT, RECEIVED_EVENTS, REJECTED

log = logging.getLogger("footfall.collect")

SINGLE_LIMIT = 64 << 10
BATCH_LIMIT = 1 << 20
JSON_TYPES = ("application/json", "text/plain", "")

_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(NativeEvent).decode
_decode_batch = msgspec.json.Decoder(TypedBatchBody).decode
_QUEUED = b'{"success":true,"message":"Event queued successfully","processing_time_ms":'


def _fail(status: int, message: str, field: str, headers: dict[str, str] | None = None) -> FastJSON:
    REJECTED.labels(str(status)).inc()
    body = {"success": False, "error": message, "details": [{"field": field, "message": message}]}
    extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return FastJSON(status, _encode(body), extra)


def _validation_failed(errors: list[FieldError]) -> FastJSON:
    body = {"success": False, "error": "Validation failed"}
    return FastJSON(400, _encode({**body, "details": [e.as_json() for e in errors]}))


async def _prepare(svc: Services, req: Incoming, limit: int) -> tuple[str, bytes] | FastJSON:
    """Common front half: IP limit, content type, size. Returns (ip, body)."""
    ip = req.client_ip(svc.settings.trusted_proxies)
    wait = await svc.limits.ip(ip)  # None here when Redis checks it with the key (_authenticate)
    if wait is not None:
        return _too_many("ip", wait)
    ctype = req.ctype
    if ctype and ctype != "application/json":
        ctype = ctype.split(";", 1)[0].strip().lower()
    if ctype not in JSON_TYPES:
        return _fail(415, "Content-Type must be application/json or text/plain", "content-type")
    try:
        body = await req.body(limit)
    except TooLarge:
        return _fail(413, f"Body larger than {limit} bytes", "body")
    return ip, body


def _utf8(body: bytes) -> bytes:
    """``body`` if it is valid UTF-8, else UnicodeDecodeError. The typed decoders skip
    unknown fields without checking their text, and such a body must still get the
    generic decoder's 400."""
    if not body.isascii():
        body.decode("utf-8")
    return body


def _parse(body: bytes) -> dict[str, Any] | FastJSON:
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 in a string.
        return _fail(400, f"Invalid JSON: {exc}", "body")
    except RecursionError:
        return _fail(400, "Invalid JSON: nested too deeply", "body")
    if not isinstance(raw, dict):
        return _fail(400, "Body must be a JSON object", "body")
    return raw


def _too_many(which: str, wait: float) -> FastJSON:
    headers = {"retry-after": retry_after_header(wait)}
    if which == "ip":
        return _fail(429, "Too many requests", "client", headers)
    return _fail(429, "Too many requests for this key", "x-api-key", headers)


async def _authenticate(svc: Services, key: Any, ip: str) -> Any:
    try:
        site = svc.pipeline.authenticate(key if isinstance(key, str) else None)
    except Unauthorized as exc:
        return _fail(401, str(exc).capitalize(), "x-api-key")
    refused = await svc.limits.both(ip, site.id)
    if refused is not None:
        return _too_many(*refused)
    return site


async def _enqueue(svc: Services, payloads: list[bytes]) -> FastJSON | None:
    try:
        with tracing.span("queue.append", events=len(payloads)):
            await svc.queue.append(payloads)
    except QueueFull as exc:
        return _fail(503, exc.public, "queue", {"retry-after": str(exc.retry_after)})
    tracing.note_queued()  # the writer round that stores them links to this request
    ACCEPTED_ON_LOOP.inc(len(payloads))
    svc.shared.live.seen(payloads)
    return None


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


async def event_response(scope: Scope, receive: Receive) -> Response:
    """``POST /api/event``: the response to send (the event is durable if it says so)."""
    started = time.perf_counter()
    RECEIVED_EVENT.inc()
    svc: Services = scope["app"].state.services
    req = Incoming(scope, receive)
    prepared = await _prepare(svc, req, SINGLE_LIMIT)
    if isinstance(prepared, FastJSON):
        return prepared
    ip, body = prepared
    event: NativeEvent | None
    try:
        # The common case in one step: a valid native event, typed straight from the bytes.
        event = _decode_event(_utf8(body))
        key = req.key or event.api_key or req.query_key()
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # Anything else goes the long way, which names the problem exactly as before.
        raw = _parse(body)
        if isinstance(raw, FastJSON):
            return raw
        if is_plausible(raw):  # Plausible's tracker and Events API share this URL
            return await plausible(Request(scope, receive), svc, ip, raw)
        event = None
        key = req.key or raw.get("api_key") or req.query_key()
    site = await _authenticate(svc, key, ip)
    if isinstance(site, FastJSON):
        return site
    try:
        event = check_event(event) if event is not None else decode_event(raw)
        with tracing.span("pipeline.build", events=1):
            record = svc.pipeline.build(event, site, ip, req.ua, opted_out(req.dnt, req.gpc))
    except FieldError as exc:
        REJECTED.labels("400").inc()
        return _validation_failed([exc])
    if isinstance(record, Dropped):
        body = _encode(
            {
                "success": True,
                "message": f"Event dropped ({record.reason})",
                "processing_time_ms": _elapsed_ms(started),
            }
        )
        return FastJSON(202, body)
    failed = await _enqueue(svc, [ENCODER.encode(record)])
    if failed is not None:
        return failed
    return FastJSON(202, b"%b%r}" % (_QUEUED, _elapsed_ms(started)))


async def events_response(scope: Scope, receive: Receive) -> Response:
    """``POST /api/events``: each event judged on its own."""
    started = time.perf_counter()
    RECEIVED_EVENTS.inc()
    svc: Services = scope["app"].state.services
    req = Incoming(scope, receive)
    prepared = await _prepare(svc, req, BATCH_LIMIT)
    if isinstance(prepared, FastJSON):
        return prepared
    ip, body = prepared
    events: list[Any]
    try:
        # The common all-valid batch in one typed pass over the bytes.
        typed = _decode_batch(_utf8(body))
        key = req.key or typed.api_key or req.query_key()
        events = typed.events
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raw = _parse(body)
        if isinstance(raw, FastJSON):
            return raw
        key = req.key or raw.get("api_key") or req.query_key()
        site = await _authenticate(svc, key, ip)
        if isinstance(site, FastJSON):
            return site
        try:
            batch = msgspec.convert(raw, BatchBody)
        except msgspec.ValidationError as exc:
            REJECTED.labels("400").inc()
            return _validation_failed([field_error(exc)])
        events = batch.events  # item by item below, to name each error
    else:
        site = await _authenticate(svc, key, ip)
        if isinstance(site, FastJSON):
            return site
    opt_out = opted_out(req.dnt, req.gpc)
    with tracing.span("pipeline.build", events=len(events)):
        payloads, rejected, dropped = svc.pipeline.build_many(events, site, ip, req.ua, opt_out)
    if payloads:
        failed = await _enqueue(svc, payloads)
        if failed is not None:
            return failed
    accepted = len(payloads) + dropped
    out: dict[str, Any] = {"success": accepted > 0, "accepted": accepted, "rejected": rejected}
    if dropped:
        out["dropped"] = dropped
    if not accepted:
        REJECTED.labels("400").inc()
        out["error"] = "Validation failed"
    out["processing_time_ms"] = _elapsed_ms(started)
    return FastJSON(202 if accepted else 400, _encode(out))


async def _respond(handler: Any, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        response = await handler(scope, receive)
    except Disconnected:
        # Also how Granian reports a malformed chunked body, to a client still waiting.
        response = _fail(400, UNREADABLE_BODY, "body")
    except Exception:
        log.exception("collection handler failed")
        body = {"success": False, "error": "Internal error"}
        response = FastJSON(500, _encode(body))
    await response(scope, receive, send)


async def event_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /api/event`` as a raw ASGI callable (``scope["app"]`` must be set)."""
    await _respond(event_response, scope, receive, send)


async def events_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /api/events`` as a raw ASGI callable (``scope["app"]`` must be set)."""
    await _respond(events_response, scope, receive, send)


async def post_event(request: Request) -> Response:
    return await event_response(request.scope, request.receive)


async def post_events(request: Request) -> Response:
    return await events_response(request.scope, request.receive)


post_event.asgi = event_asgi  # type: ignore[attr-defined]
post_events.asgi = events_asgi  # type: ignore[attr-defined]


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)
