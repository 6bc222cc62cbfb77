"""Collection endpoints: ``POST /api/event`` (single) and ``POST /api/events`` (batch).

Thin by design: limits, body reading and the error envelope live here; every decision
about an event is the pipeline's. The 202 is sent only after the spool has fsync'd the
event. CORS allows any origin, because the tracker runs on the customer's pages.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from footfall.api.clientip import client_ip
from footfall.api.ratelimit import retry_after_header
from footfall.api.responses import CORS_HEADERS, JSON, error, validation_failed
from footfall.ingest.compat import is_plausible
from footfall.ingest.exclusions import opted_out
from footfall.ingest.pipeline import Dropped, Unauthorized
from footfall.ingest.record import ENCODER
from footfall.ingest.validate import (
    BatchBody,
    FieldError,
    NativeEvent,
    check_event,
    decode_event,
    field_error,
)
from footfall.queue.spool import SpoolFull
from footfall.runtime import Services
from footfall.telemetry import ACCEPTED, RECEIVED_EVENT, RECEIVED_EVENTS, REJECTED

log = logging.getLogger("footfall.collect")

SINGLE_LIMIT = 64 << 10
BATCH_LIMIT = 1 << 20
JSON_TYPES = ("application/json", "text/plain", "")


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _fail(status: int, message: str, field: str, headers: dict[str, str] | None = None) -> JSON:
    REJECTED.labels(str(status)).inc()
    return error(
        status, message, [{"field": field, "message": message}], {**CORS_HEADERS, **(headers or {})}
    )


async def _prepare(request: Request, limit: int) -> tuple[Services, str, Any] | JSON:
    """Common front half: IP limit, content type, size, JSON. Returns (services, ip, body)."""
    svc: Services = request.app.state.services
    ip = client_ip(request, svc.settings.trusted_proxies)
    wait = svc.ip_limiter.hit(ip)
    if wait is not None:
        return _fail(429, "Too many requests", "client", {"retry-after": retry_after_header(wait)})
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype not in JSON_TYPES:
        return _fail(415, "Content-Type must be application/json or text/plain", "content-type")
    try:
        body = await read_body(request, limit)
    except TooLarge:
        return _fail(413, f"Body larger than {limit} bytes", "body")
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 in a string.
        return _fail(400, f"Invalid JSON: {exc}", "body")
    except RecursionError:
        return _fail(400, "Invalid JSON: nested too deeply", "body")
    if not isinstance(raw, dict):
        return _fail(400, "Body must be a JSON object", "body")
    return svc, ip, raw


def _key(request: Request, raw: dict[str, Any]) -> str | None:
    key = (
        request.headers.get("x-api-key")
        or raw.get("api_key")
        or request.query_params.get("api_key")
    )
    return key if isinstance(key, str) else None


def _authenticate(svc: Services, request: Request, raw: dict[str, Any]) -> Any:
    try:
        site = svc.pipeline.authenticate(_key(request, raw))
    except Unauthorized as exc:
        return _fail(401, str(exc).capitalize(), "x-api-key")
    wait = svc.key_limiter.hit(site.id)
    if wait is not None:
        return _fail(
            429,
            "Too many requests for this key",
            "x-api-key",
            {"retry-after": retry_after_header(wait)},
        )
    return site


async def _enqueue(svc: Services, payloads: list[bytes]) -> JSON | None:
    try:
        await svc.queue.append(payloads)
    except SpoolFull as exc:
        return _fail(503, "Queue full, retry later", "queue", {"retry-after": str(exc.retry_after)})
    ACCEPTED.inc(len(payloads))
    return None


async def post_event(request: Request) -> Response:
    started = time.perf_counter()
    RECEIVED_EVENT.inc()
    prepared = await _prepare(request, SINGLE_LIMIT)
    if isinstance(prepared, JSON):
        return prepared
    svc, ip, raw = prepared
    if is_plausible(raw):  # Plausible's tracker and Events API share this URL
        from footfall.api.compat import plausible  # compat imports this module

        return await plausible(request, svc, ip, raw)
    site = _authenticate(svc, request, raw)
    if isinstance(site, JSON):
        return site
    try:
        headers = request.headers
        record = svc.pipeline.build(
            decode_event(raw), site, ip, headers.get("user-agent", ""),
            opted_out(headers.get("dnt"), headers.get("sec-gpc")),
        )  # fmt: skip
    except FieldError as exc:
        REJECTED.labels("400").inc()
        return validation_failed([exc], CORS_HEADERS)
    message = "Event queued successfully"
    if isinstance(record, Dropped):
        message = f"Event dropped ({record.reason})"
    else:
        failed = await _enqueue(svc, [ENCODER.encode(record)])
        if failed is not None:
            return failed
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return JSON(
        {"success": True, "message": message, "processing_time_ms": elapsed}, 202, CORS_HEADERS
    )


async def post_events(request: Request) -> Response:
    started = time.perf_counter()
    RECEIVED_EVENTS.inc()
    prepared = await _prepare(request, BATCH_LIMIT)
    if isinstance(prepared, JSON):
        return prepared
    svc, ip, raw = prepared
    site = _authenticate(svc, request, raw)
    if isinstance(site, JSON):
        return site
    try:
        batch = msgspec.convert(raw, BatchBody)
    except msgspec.ValidationError as exc:
        REJECTED.labels("400").inc()
        return validation_failed([field_error(exc)], CORS_HEADERS)
    ua = request.headers.get("user-agent", "")
    opt_out = opted_out(request.headers.get("dnt"), request.headers.get("sec-gpc"))
    payloads: list[bytes] = []
    rejected: list[dict[str, Any]] = []
    dropped = 0
    try:  # one typed pass for the common all-valid batch; item by item to name errors
        events: list[Any] = msgspec.convert(batch.events, list[NativeEvent])
    except msgspec.ValidationError:
        events = batch.events
    for index, item in enumerate(events):
        try:
            event = check_event(item) if isinstance(item, NativeEvent) else decode_event(item)
            record = svc.pipeline.build(event, site, ip, ua, opt_out)
        except FieldError as exc:
            rejected.append({"index": index, "field": exc.field, "message": exc.message})
            continue
        if isinstance(record, Dropped):
            dropped += 1
        else:
            payloads.append(ENCODER.encode(record))
    if payloads:
        failed = await _enqueue(svc, payloads)
        if failed is not None:
            return failed
    accepted = len(payloads) + dropped
    body: dict[str, Any] = {"success": accepted > 0, "accepted": accepted, "rejected": rejected}
    if dropped:
        body["dropped"] = dropped
    if not accepted:
        REJECTED.labels("400").inc()
        body["error"] = "Validation failed"
    body["processing_time_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return JSON(body, 202 if accepted else 400, CORS_HEADERS)


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)
